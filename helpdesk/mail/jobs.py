"""Mail jobs on the `mail` queue: poll one mailbox, process stored mail, and the scheduler's
sweep that enqueues one poll per due mailbox (a Redis lock per mailbox: never two polls of one
mailbox at once, and one slow mailbox never holds up the others)."""

from __future__ import annotations

import contextlib
import logging
from datetime import timedelta

from flask import current_app
from redis.exceptions import LockError
from sqlalchemy import func, select

from helpdesk.core import tenancy
from helpdesk.core.jobs import get_queue, org_job
from helpdesk.core.models import utcnow
from helpdesk.extensions import db, redis_store
from helpdesk.mail import imap, pipeline, poller
from helpdesk.mail.models import InboundEmail, InboundStatus, Mailbox

log = logging.getLogger(__name__)
JOB_TIMEOUT = 1800


class LockLost(Exception):  # noqa: N818
    """Another poll took this mailbox over after our lock expired."""


def _lock_key(mailbox_id: int) -> str:
    return f"mail:poll-lock:{mailbox_id}"


def _queued_key(mailbox_id: int) -> str:
    return f"mail:poll-queued:{mailbox_id}"


def poll_now(mailbox: Mailbox, *, helpers: bool = True) -> dict:
    """Fetch, store and process a mailbox's new mail (caller: a job or the CLI, in the org).
    Returns counts; a mailbox error is recorded on the mailbox, not raised."""
    # The lock expires MAIL_POLL_LOCK_TTL seconds after the last chunk or batch: a killed
    # worker's poll is taken over soon, a long one keeps its lock by renewing it.
    ttl = current_app.config["MAIL_POLL_LOCK_TTL"]
    lock = redis_store.client.lock(_lock_key(mailbox.id), timeout=ttl, blocking=False)
    if not lock.acquire(blocking=False):
        return {"skipped": "another poll of this mailbox is running"}

    def still_alive(*_) -> None:
        try:
            lock.extend(ttl, replace_ttl=True)
        except LockError:
            # Our lock expired (a very slow batch): take it again, or leave the mailbox to the
            # poll that took it over. Everything done so far is committed.
            if not lock.acquire(blocking=False):
                raise LockLost from None

    parallel = max(current_app.config["MAIL_PROCESS_PARALLELISM"] - 1, 0) if helpers else 0
    started = {"helpers": 0}

    def on_chunk(stored: int) -> None:
        still_alive()
        # A large backlog: let idle workers share the processing while we fetch on.
        if started["helpers"] < parallel and stored >= pipeline.BATCH * 2:
            get_queue("mail").enqueue(process_inbound, mailbox.org_id, mailbox.id,
                                      job_timeout=JOB_TIMEOUT)
            started["helpers"] += 1

    result = {"stored": 0, "processed": 0, "error": ""}
    try:
        try:
            result["stored"] = poller.fetch_new(mailbox, on_chunk=on_chunk)
            mailbox.last_error = ""
        except imap.MailboxError as error:
            db.session.rollback()
            mailbox.last_error = str(error)
            result["error"] = str(error)
            log.warning("mailbox %s (%s): %s", mailbox.id, mailbox.address, error)
        except LockLost:
            raise
        except Exception as error:  # a bug must show on the mailbox, not loop unseen
            db.session.rollback()
            log.exception("mailbox %s (%s): polling failed", mailbox.id, mailbox.address)
            mailbox.last_error = f"polling failed: {type(error).__name__}: {error}"[:2000]
            result["error"] = mailbox.last_error
        mailbox.last_polled_at = utcnow()
        db.session.commit()
        result["processed"] = pipeline.process_pending(mailbox.org_id, mailbox_id=mailbox.id,
                                                       on_batch=still_alive)
        return result
    except LockLost:
        db.session.rollback()
        result["error"] = "lock lost to another poll of this mailbox; it carries on"
        return result
    finally:
        with contextlib.suppress(Exception):  # expired meanwhile: nothing to release
            lock.release()
        redis_store.client.delete(_queued_key(mailbox.id))


@org_job
def poll_mailbox(org_id: int, mailbox_id: int) -> dict:
    mailbox = db.session.get(Mailbox, mailbox_id)
    if mailbox is None or not mailbox.is_active:
        return {"skipped": "mailbox gone or paused"}
    return poll_now(mailbox)


@org_job
def process_inbound(org_id: int, mailbox_id: int | None = None) -> int:
    """Process stored mail (a helper next to a poll, an import, a reprocess)."""
    return pipeline.process_pending(org_id, mailbox_id=mailbox_id)


def enqueue_due_polls() -> int:
    """Scheduler: one poll job per active mailbox whose interval has passed."""
    with tenancy.system_scope():
        due = db.session.execute(
            select(Mailbox.org_id, Mailbox.id, Mailbox.poll_interval)
            .where(Mailbox.is_active.is_(True),
                   (Mailbox.last_polled_at.is_(None))
                   | (Mailbox.last_polled_at
                      <= func.now() - Mailbox.poll_interval * timedelta(seconds=1)))).all()
        db.session.rollback()
    client = redis_store.client
    queued = 0
    for org_id, mailbox_id, interval in due:
        if client.exists(_lock_key(mailbox_id)):
            continue  # still polling
        # The key lives until the poll ends; if the job is lost it expires on its own.
        if client.set(_queued_key(mailbox_id), 1, nx=True, ex=min(max(interval * 3, 300), 3600)):
            get_queue("mail").enqueue(poll_mailbox, org_id, mailbox_id, job_timeout=JOB_TIMEOUT)
            queued += 1
    return queued


def enqueue_stranded() -> int:
    """Scheduler: stored mail left `received` (a worker killed mid-batch, an import) gets a
    processing job per org, once it is a minute old (fresh mail is its poll job's)."""
    with tenancy.system_scope():
        orgs = db.session.scalars(
            select(InboundEmail.org_id).where(
                InboundEmail.status == InboundStatus.RECEIVED,
                InboundEmail.received_at <= utcnow() - timedelta(minutes=1))
            .group_by(InboundEmail.org_id)).all()
        db.session.rollback()
    for org_id in orgs:
        if redis_store.client.set(f"mail:stranded:{org_id}", 1, nx=True, ex=300):
            get_queue("mail").enqueue(process_inbound, org_id, job_timeout=JOB_TIMEOUT)
    return len(orgs)


