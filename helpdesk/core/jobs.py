"""Background jobs on RQ.

Jobs take ids (and an org id), never ORM objects. `enqueue_after_commit` queues them only once
the current transaction has committed, so a worker never sees an id that is not there yet, and a
rolled-back request enqueues nothing. `job` / `org_job` wrap a job function: open an app context,
set the org (or the system scope), run, commit once, roll back on error so RQ can retry.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, has_app_context
from redis import Redis
from rq import Queue
from sqlalchemy import event
from sqlalchemy.orm import Session

from helpdesk.core import tenancy
from helpdesk.extensions import db, redis_store

log = logging.getLogger(__name__)
QUEUES = ("mail", "search", "notify", "default")
_PENDING_KEY = "helpdesk_pending_jobs"
_worker_app: Flask | None = None


def get_queue(name: str = "default", connection: Redis | None = None) -> Queue:
    if name not in QUEUES:
        raise ValueError(f"unknown queue {name!r}; queues are {', '.join(QUEUES)}")
    return Queue(name, connection=connection or redis_store.client)


def enqueue_after_commit(func: Callable, *args: Any, queue: str = "default", **kwargs: Any) -> None:
    """Queue `func(*args, **kwargs)` when the current transaction commits (dropped on rollback)."""
    get_queue(queue)  # validate the name now, where the mistake is
    session = db.session()
    if not session.in_transaction():
        session.begin()  # so that a rollback, even with no SQL sent, drops the job
    session.info.setdefault(_PENDING_KEY, []).append((queue, func, args, kwargs))


def _flush_pending(session: Session) -> None:
    if session.in_nested_transaction():
        return  # SQLAlchemy also calls after_commit when a savepoint is released
    pending = session.info.pop(_PENDING_KEY, [])
    for queue, func, args, kwargs in pending:
        try:
            get_queue(queue).enqueue(func, *args, **kwargs)
        except Exception:
            # The data is committed: a Redis outage must not turn the request into an error
            # page, nor lose the other jobs. Logged for replay.
            log.exception("could not enqueue %s%r on %s", func.__name__, args, queue)


def _drop_pending(session: Session, previous_transaction) -> None:
    if previous_transaction.nested:
        return  # a savepoint rolled back; the transaction (and its jobs) goes on
    session.info.pop(_PENDING_KEY, None)


def install(session_class: type[Session]) -> None:
    if not event.contains(session_class, "after_commit", _flush_pending):
        event.listen(session_class, "after_commit", _flush_pending)
        event.listen(session_class, "after_soft_rollback", _drop_pending)


def _app() -> Flask:
    """The app for a job: the caller's (tests, `flask worker`) or one made once per process."""
    global _worker_app
    if has_app_context():
        return current_app._get_current_object()
    if _worker_app is None:
        from helpdesk import create_app

        _worker_app = create_app()
    return _worker_app


def _run(func: Callable, org_id: int | None, args: tuple, kwargs: dict) -> Any:
    with _app().app_context():
        try:
            if org_id is None:
                with tenancy.system_scope():
                    result = func(*args, **kwargs)
                    db.session.commit()
            else:
                tenancy.set_current_org(org_id)
                result = func(org_id, *args, **kwargs)
                db.session.commit()
            return result
        except BaseException:
            db.session.rollback()
            raise


def org_job(func: Callable) -> Callable:
    """A job for one org: called as `job(org_id, *ids)`, runs with that org set."""

    @functools.wraps(func)
    def wrapper(org_id: int, *args: Any, **kwargs: Any) -> Any:
        if not isinstance(org_id, int):
            raise TypeError("org jobs take the org id first")
        return _run(func, org_id, args, kwargs)

    return wrapper


def system_job(func: Callable) -> Callable:
    """A job that spans orgs (scheduler sweeps, account mail): runs in the system scope."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return _run(func, None, args, kwargs)

    return wrapper
