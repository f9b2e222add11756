"""The periodic loop. Each task is a function run every N seconds; it should only enqueue jobs.

Exactly one scheduler works at a time: the loop holds a Redis lock that expires if the process
dies, so a second instance (or a restarted one) takes over within LOCK_TTL seconds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis

from helpdesk.extensions import redis_store

log = logging.getLogger(__name__)
LOCK_KEY = "scheduler:leader"
LOCK_TTL = 30
TICK = 1.0
RETRY_DELAY = 5.0


@dataclass
class PeriodicTask:
    name: str
    every: float
    func: Callable[[], None]


TASKS: dict[str, PeriodicTask] = {}


def periodic(every: float) -> Callable:
    """Register a task run every `every` seconds (last run times are kept in Redis)."""

    def decorator(func: Callable[[], None]) -> Callable[[], None]:
        TASKS[func.__name__] = PeriodicTask(func.__name__, every, func)
        return func

    return decorator


def run_due_tasks(now: float | None = None) -> list[str]:
    """Run each task whose interval has passed; returns the names run."""
    client = redis_store.client
    now = time.time() if now is None else now
    ran = []
    for task in TASKS.values():
        key = f"scheduler:last:{task.name}"
        last = client.get(key)
        if last is not None and now - float(last) < task.every:
            continue
        client.set(key, now)
        try:
            task.func()
        except Exception:
            log.exception("scheduler task %s failed", task.name)
        ran.append(task.name)
    return ran


def run_scheduler(*, once: bool = False) -> None:
    import worker.tasks  # noqa: F401  (registers the periodic tasks)

    client = redis_store.client
    lock = client.lock(LOCK_KEY, timeout=LOCK_TTL, blocking=False)
    while True:
        try:
            if lock.owned() or lock.acquire(blocking=False):
                lock.extend(LOCK_TTL, replace_ttl=True)
                run_due_tasks()
                if once:
                    lock.release()
                    return
            elif once:
                log.warning("another scheduler holds the lock; nothing run")
                return
        except redis.exceptions.ConnectionError:
            # Keep the process alive through a Redis restart (honcho would stop every
            # process if this one exited); the lock expires and is taken again.
            if once:
                raise
            log.exception("scheduler: Redis unreachable, retrying in %s s", RETRY_DELAY)
            time.sleep(RETRY_DELAY)
            continue
        time.sleep(TICK)
