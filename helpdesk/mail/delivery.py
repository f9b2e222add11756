"""Send Outbox rows by SMTP: one row at a time under a row lock, committed as soon as it is
sent, retried with backoff on temporary failures (SMTP down for an hour loses nothing)."""

from __future__ import annotations

import contextlib
import logging
from datetime import timedelta
from email.utils import parseaddr

from sqlalchemy import func, select

from helpdesk.core import tenancy
from helpdesk.core.crypto import SecretUnreadable
from helpdesk.core.jobs import get_queue, org_job
from helpdesk.core.models import utcnow
from helpdesk.extensions import db, redis_store
from helpdesk.mail import smtp
from helpdesk.mail.models import Mailbox, Outbox, OutboxStatus

log = logging.getLogger(__name__)
# Seconds to wait after the n-th failed attempt; 14 attempts span about 5 hours.
BACKOFF = (30, 60, 120, 300, 600, 900, 1200, 1800, 1800, 1800, 1800, 1800, 1800)
MAX_ATTEMPTS = len(BACKOFF) + 1
STALE_AFTER = timedelta(seconds=60)  # queued rows whose job was lost (Redis down at commit)
JOB_TIMEOUT = 1800  # 500 mails with slow SMTP answers


def _next(row: Outbox, error: str, permanent: bool) -> None:
    row.attempts += 1
    row.last_error = error[:2000]
    if permanent or row.attempts >= MAX_ATTEMPTS:
        row.status = OutboxStatus.FAILED
    else:
        row.next_attempt_at = utcnow() + timedelta(seconds=BACKOFF[row.attempts - 1])


def _claim(outbox_id: int) -> Outbox | None:
    return db.session.scalar(
        select(Outbox).where(Outbox.id == outbox_id, Outbox.status == OutboxStatus.QUEUED,
                             Outbox.next_attempt_at <= utcnow())
        .with_for_update(skip_locked=True))


@org_job
def deliver_outbox(org_id: int, outbox_ids: list[int]) -> dict[str, int]:
    """Send the given rows (those still queued and due). Returns counts by outcome."""
    counts = {"sent": 0, "retry": 0, "failed": 0}
    clients: dict[int | None, object] = {}
    down: dict[int | None, str] = {}  # servers that could not be reached in this run
    try:
        for outbox_id in outbox_ids:
            row = _claim(outbox_id)
            if row is None:
                db.session.rollback()
                continue
            mailbox = db.session.get(Mailbox, row.mailbox_id) if row.mailbox_id else None
            try:
                settings = smtp.settings_for(mailbox)
                if settings is None:
                    smtp.save_locally(row.raw, row.recipient)
                else:
                    if row.mailbox_id in down:  # no 30 s timeout per mail: wait for a retry
                        raise smtp.SmtpError(down[row.mailbox_id])
                    if row.mailbox_id not in clients:
                        try:
                            clients[row.mailbox_id] = smtp.connect(settings)
                        except smtp.SmtpError as error:
                            down[row.mailbox_id] = str(error)
                            raise
                    envelope_from = mailbox.address if mailbox else row.sender
                    smtp.send(clients[row.mailbox_id], _address(envelope_from), row.recipient,
                              row.raw)
                row.status = OutboxStatus.SENT
                row.sent_at = utcnow()
                row.last_error = ""
                counts["sent"] += 1
            except (smtp.SmtpError, SecretUnreadable) as error:
                _next(row, str(error), getattr(error, "permanent", False))
                counts["failed" if row.status is OutboxStatus.FAILED else "retry"] += 1
                log.warning("outbox %s to %s: %s", row.id, row.recipient, error)
                client = clients.pop(row.mailbox_id, None)
                if client is not None:
                    _quit(client)
            db.session.commit()  # sent is recorded at once: a crash later must not resend it
    finally:
        for client in clients.values():
            _quit(client)
        redis_store.client.delete(_retry_key(org_id))  # the next sweep may queue again
    return counts


def _retry_key(org_id: int) -> str:
    return f"mail:outbox-retry:{org_id}"


def _address(value: str) -> str:
    return parseaddr(value)[1] or value


def _quit(client) -> None:
    with contextlib.suppress(Exception):  # the connection may already be gone
        client.quit()


def retry_failed(outbox_id: int) -> Outbox | None:
    """An agent's "send again" on a failed mail: queue it now, with a fresh attempt count."""
    row = db.session.get(Outbox, outbox_id)
    if row is None or row.status is not OutboxStatus.FAILED:
        return row
    row.status = OutboxStatus.QUEUED
    row.attempts = 0
    row.next_attempt_at = utcnow()
    from helpdesk.core.jobs import enqueue_after_commit

    enqueue_after_commit(deliver_outbox, row.org_id, [row.id], queue="mail")
    return row


def enqueue_due() -> int:
    """Scheduler: a job per org for queued rows whose time has come (retries, lost jobs)."""
    with tenancy.system_scope():
        rows = db.session.execute(
            select(Outbox.org_id, func.array_agg(Outbox.id))
            .where(Outbox.status == OutboxStatus.QUEUED, Outbox.next_attempt_at <= utcnow(),
                   (Outbox.attempts > 0) | (Outbox.created_at <= utcnow() - STALE_AFTER))
            .group_by(Outbox.org_id)).all()
        db.session.rollback()
    queued = 0
    for org_id, ids in rows:
        # One retry job per org at a time: an outage must not pile jobs up on the mail queue.
        if redis_store.client.set(_retry_key(org_id), 1, nx=True, ex=JOB_TIMEOUT):
            get_queue("mail").enqueue(deliver_outbox, org_id, sorted(ids)[:500],
                                      job_timeout=JOB_TIMEOUT)
            queued += 1
    return queued
