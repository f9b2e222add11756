"""Bounces (delivery status reports): find the mail of ours that bounced, attach the report to
its ticket as a note, and stop automatic mail to an address that failed permanently."""

from __future__ import annotations

import io
import re
from email.parser import BytesHeaderParser

from sqlalchemy import select

from helpdesk.core.models import utcnow
from helpdesk.customers.models import Customer
from helpdesk.extensions import db
from helpdesk.mail.models import Outbox
from helpdesk.mail.parsing import ParsedMail, message_ids
from helpdesk.orgs.models import Organization
from helpdesk.tickets import events, services
from helpdesk.tickets.attachments import max_size
from helpdesk.tickets.models import Message, MessageKind, Ticket

FINAL_RECIPIENT = re.compile(
    r"^(?:final|original)-recipient:\s*(?:rfc822;)?\s*<?([^\s<>;]+@[^\s<>;]+)",
    re.IGNORECASE | re.MULTILINE)
ACTION = re.compile(r"^action:\s*(\w+)", re.IGNORECASE | re.MULTILINE)
STATUS = re.compile(r"^status:\s*([245]\.\d{1,3}\.\d{1,3})", re.IGNORECASE | re.MULTILINE)
DIAGNOSTIC = re.compile(r"^diagnostic-code:\s*(.+)$", re.IGNORECASE | re.MULTILINE)


def _report(mail: ParsedMail) -> str:
    parts = [a.data.decode("utf-8", errors="replace") for a in mail.attachments
             if a.content_type == "message/delivery-status"]
    return "\n".join(parts)


def original_ids(mail: ParsedMail) -> list[str]:
    """Message-IDs of the mail that bounced: from the returned message or its headers, then the
    report's own threading headers."""
    found = []
    for item in mail.attachments:
        if item.content_type in ("message/rfc822", "text/rfc822-headers",
                                 "message/rfc822-headers"):
            headers = BytesHeaderParser().parse(io.BytesIO(item.data))
            found += message_ids(headers.get("message-id"))
    return list(dict.fromkeys(found + mail.in_reply_to + mail.references))


def handle_bounce(mail: ParsedMail, org: Organization) -> tuple[Ticket | None, Message | None]:
    ids = original_ids(mail)
    bounced = db.session.scalar(select(Outbox).where(Outbox.message_id.in_(ids)).limit(1)) \
        if ids else None
    report = _report(mail)
    recipients = FINAL_RECIPIENT.findall(report) or ([bounced.recipient] if bounced else [])
    action = (ACTION.search(report).group(1).lower() if ACTION.search(report) else "failed")
    status = STATUS.search(report).group(1) if STATUS.search(report) else ""
    permanent = action == "failed" and not status.startswith("4")
    diagnostic = DIAGNOSTIC.search(report)
    reason = f"{action} {status} {diagnostic.group(1).strip() if diagnostic else ''}".strip()
    if permanent:
        for address in {r.lower() for r in recipients}:
            customer = db.session.scalar(select(Customer).where(Customer.email == address))
            if customer is not None and customer.undeliverable_at is None:
                customer.undeliverable_at = utcnow()
                customer.undeliverable_reason = f"bounce: {reason}"[:2000]
    if bounced is None or bounced.ticket_id is None:
        return None, None
    ticket = services.resolve_merged(db.session.get(Ticket, bounced.ticket_id))
    recipient = ", ".join(recipients) or bounced.recipient
    what = "could not be delivered" if permanent else "is delayed"
    text = (f"Mail to {recipient} {what} ({reason or 'no details'}).\n\n"
            f"{mail.text.strip()[:5000]}")
    files = [(a.filename, io.BytesIO(a.data), a.content_type) for a in mail.attachments
             if len(a.data) <= max_size()]
    message = services._add_message_row(ticket, MessageKind.NOTE, None, None, text,
                                        services.text_to_html(text), files,
                                        {"message_id": mail.message_id})
    events.bounced(ticket, recipient, reason, permanent)
    return ticket, message
