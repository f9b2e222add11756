"""Mail whose processing kills the worker (out of memory, a crash, a SIGKILL) must not stop
its mailbox forever: a rollback would also forget any count kept in the database, so claims
are counted in Redis, where they survive the worker. A claim is forgotten when its batch
commits; a mail claimed SUSPECT_AFTER times without a commit is run alone, and after
GIVE_UP_AFTER it is quarantined."""

from __future__ import annotations

from helpdesk.extensions import db, redis_store

SUSPECT_AFTER = 2
GIVE_UP_AFTER = 4
TTL = 86400
_SESSION_KEY = "mail_claims"


def _key(inbound_id: int) -> str:
    return f"mail:claims:{inbound_id}"


def counts(inbound_ids: list[int]) -> dict[int, int]:
    """How many unfinished claims each mail has had."""
    values = redis_store.client.mget([_key(i) for i in inbound_ids]) if inbound_ids else []
    return {i: int(v or 0) for i, v in zip(inbound_ids, values, strict=True)}


def count(inbound_ids: list[int]) -> None:
    """Count a claim of these mails (forgotten again when the batch commits)."""
    pipe = redis_store.client.pipeline(transaction=False)
    for inbound_id in inbound_ids:
        pipe.incr(_key(inbound_id))
        pipe.expire(_key(inbound_id), TTL)
    pipe.execute()
    db.session.info.setdefault(_SESSION_KEY, []).extend(inbound_ids)


def reset(inbound_ids: list[int]) -> None:
    """An admin reprocesses set-aside mail: it starts with a clean slate."""
    if inbound_ids:
        redis_store.client.delete(*[_key(i) for i in inbound_ids])


def forget() -> None:
    """The claims of this session's batch ended (committed, or rolled back without a crash)."""
    claimed = db.session.info.pop(_SESSION_KEY, [])
    if claimed:
        redis_store.client.delete(*[_key(i) for i in claimed])
