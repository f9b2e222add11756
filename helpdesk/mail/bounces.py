"""Bounces (delivery status reports): find the mail of ours that bounced, attach the report to
its ticket as a note, and stop automatic mail to an address that failed permanently."""

from __future__ import annotations

import io
import re
from email.parser import BytesHeaderParser, Parser
from email.policy import compat32

from sqlalchemy import select

from helpdesk.core.models import utcnow
from helpdesk.customers.models import Customer
from helpdesk.extensions import db
from helpdesk.mail.models import Outbox
from helpdesk.mail.parsing import ParsedMail, message_ids
from helpdesk.orgs.models import Organization
from helpdesk.tickets import events, services
from helpdesk.tickets.attachments import max_size
from helpdesk.tickets.models import Message, Ticket


def _report_fields(mail: ParsedMail) -> list[dict[str, str]]:
    """The per-recipient blocks of the delivery report (RFC 3464), header folding undone."""
    blocks = []
    for item in mail.attachments:
        if item.content_type != "message/delivery-status":
            continue
        text = item.data.decode("utf-8", errors="replace").replace("\r\n", "\n")
        for chunk in re.split(r"\n\s*\n", text):
            fields = Parser(policy=compat32).parsestr(chunk.strip() + "\n", headersonly=True)
            block = {k.lower(): " ".join(str(v).split()) for k, v in fields.items()}
            if "final-recipient" in block or "original-recipient" in block:
                blocks.append(block)
    return blocks


def _address(field: str) -> str:
    value = field.split(";", 1)[-1].strip().strip("<>").lower()
    return value if "@" in value else ""


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
    """Only a report about mail we sent counts: it must name one of our Message-IDs, and only
    that mail's recipient can be marked undeliverable (a forged report changes nothing)."""
    ids = original_ids(mail)
    bounced = db.session.scalar(select(Outbox).where(Outbox.message_id.in_(ids)).limit(1)) \
        if ids else None
    if bounced is None:
        return None, None
    blocks = [b for b in _report_fields(mail)
              if _address(b.get("final-recipient") or b.get("original-recipient", ""))
              == bounced.recipient.lower()] or [{}]
    block = blocks[0]
    action = block.get("action", "failed").lower()
    status = block.get("status", "")
    permanent = action == "failed" and not status.startswith("4")
    diagnostic = block.get("diagnostic-code", "").split(";", 1)[-1].strip()
    reason = " ".join(part for part in (action, status, diagnostic) if part)
    if permanent:
        customer = db.session.scalar(select(Customer).where(Customer.email == bounced.recipient))
        if customer is not None and customer.undeliverable_at is None:
            customer.undeliverable_at = utcnow()
            customer.undeliverable_reason = f"bounce: {reason}"[:2000]
    if bounced.ticket_id is None:
        return None, None
    ticket = services.resolve_merged(db.session.get(Ticket, bounced.ticket_id))
    what = "could not be delivered" if permanent else "is delayed"
    text = (f"Mail to {bounced.recipient} {what} ({reason or 'no details'}).\n\n"
            f"{mail.text.strip()[:5000]}")
    files = [(a.filename, io.BytesIO(a.data), a.content_type) for a in mail.attachments
             if len(a.data) <= max_size()]
    message = services.add_system_note(ticket, text, files,
                                       mail.message_id if mail.has_message_id else None)
    events.bounced(ticket, bounced.recipient, reason, permanent)
    return ticket, message
