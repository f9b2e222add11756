"""Mail fixtures: build raw mails, feed them through the real pipeline (store -> process)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import pytest

_counter = itertools.count(1)


def make_mail(*, sender="Casey Customer <casey@example.com>", to="support@acme.test",
              subject="My printer is on fire", body="Please help, it is smoking.",
              message_id: str | None = None, in_reply_to: str | None = None,
              references: str | None = None, headers: dict | None = None,
              html: str | None = None) -> bytes:
    message = EmailMessage()
    if sender:
        message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = message_id or make_msgid(f"m{next(_counter)}", "client.example")
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    if references:
        message["References"] = references
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    if html:
        message.add_alternative(html, subtype="html")
    return bytes(message)


@pytest.fixture
def mail_org(make_org, in_org):
    """An org with a connected mailbox (its IMAP server is never contacted in these tests)."""

    def _mail_org(slug=None, address="support@acme.test"):
        from helpdesk.mail import services

        org = make_org(slug)
        with in_org(org.id):
            mailbox = services.create_mailbox(
                address=address, imap_host="imap.invalid", imap_port=993,
                imap_security="ssl", imap_user=address, imap_password="secret")
            org.mailbox_id = mailbox.id
        return org

    return _mail_org


@pytest.fixture
def deliver(in_org):
    """Store raw mails for an org's mailbox and run the pipeline; returns the InboundEmail rows
    (detached snapshots as dicts)."""

    def _deliver(org, *raws: bytes, mailbox_id: int | None = -1):
        from sqlalchemy import func, select

        from helpdesk.extensions import db
        from helpdesk.mail import pipeline, poller
        from helpdesk.mail.models import InboundEmail

        box = getattr(org, "mailbox_id", None) if mailbox_id == -1 else mailbox_id
        with in_org(org.id):
            before = db.session.scalar(select(func.coalesce(func.max(InboundEmail.id), 0)))
            poller.store(org.id, box, [(None, raw) for raw in raws])
            pipeline.process_pending(org.id)
            rows = db.session.scalars(select(InboundEmail).where(InboundEmail.id > before)
                                      .order_by(InboundEmail.id)).all()
            return [{"id": r.id, "status": r.status.value, "outcome": r.outcome,
                     "error": r.error, "ticket_id": r.ticket_id,
                     "message_row_id": r.message_row_id, "classification": r.classification}
                    for r in rows]

    return _deliver


from tests.tickets.conftest import make_ticket  # noqa: E402, F401  (the ticket factory here too)
