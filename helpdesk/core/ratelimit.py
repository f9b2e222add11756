"""Failure counters in Redis (fixed windows), used to slow down password guessing."""

from __future__ import annotations

from dataclasses import dataclass

from helpdesk.extensions import redis_store


@dataclass(frozen=True)
class Limit:
    key: str
    max_failures: int
    window_seconds: int


def retry_after(limits: list[Limit]) -> int:
    """Seconds until the caller may try again; 0 when no limit is exhausted."""
    client = redis_store.client
    with client.pipeline() as pipe:
        for limit in limits:
            pipe.get(limit.key)
            pipe.ttl(limit.key)
        replies = pipe.execute()
    wait = 0
    for index, limit in enumerate(limits):
        count, ttl = replies[2 * index], replies[2 * index + 1]
        if count is not None and int(count) >= limit.max_failures:
            wait = max(wait, ttl if ttl > 0 else limit.window_seconds)
    return wait


def record_failure(limits: list[Limit]) -> None:
    client = redis_store.client
    with client.pipeline() as pipe:
        for limit in limits:
            # The window starts at the first failure (SET NX with a TTL; INCR keeps the TTL).
            # Not EXPIRE NX: embedded Redis is 6.2, which lacks it.
            pipe.set(limit.key, 0, ex=limit.window_seconds, nx=True)
            pipe.incr(limit.key)
        pipe.execute()


def reset(limits: list[Limit]) -> None:
    redis_store.client.delete(*(limit.key for limit in limits))
