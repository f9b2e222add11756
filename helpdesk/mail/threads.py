"""Which ticket does a mail belong to? In order: (1) our reply-address token, (2) In-Reply-To /
References against every Message-ID we know (inbound and our outbound), (3) a `[#123]` subject
token from the ticket's customer or a participant, (4) the same customer's open ticket with the
same subject from the last days (replies only), (5) none: a new ticket."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from helpdesk.core.models import utcnow
from helpdesk.customers.models import Customer
from helpdesk.extensions import db
from helpdesk.mail import tokens
from helpdesk.mail.models import InboundEmail, InboundStatus, Outbox
from helpdesk.mail.parsing import ParsedMail
from helpdesk.tickets.models import Message, Status, Ticket

REPLY_PREFIX = re.compile(
    r"^\s*((re|aw|sv|vs|antw|antwort|odp|ref|rif|r|fw|fwd|wg|tr|enc)\s*(\[\d+\]|\(\d+\))?\s*:\s*)+",
    re.IGNORECASE)
SUBJECT_TOKEN = re.compile(r"\[#(\d{1,12})\]")
SAME_SUBJECT_WINDOW = timedelta(days=7)
SUBJECT_STATUSES = (Status.NEW, Status.OPEN, Status.PENDING, Status.SOLVED)


class Defer(Exception):  # noqa: N818 - a signal, not an error
    """The mail replies to one still being processed elsewhere: try it again shortly."""


@dataclass
class Match:
    ticket: Ticket | None
    how: str  # token, headers, subject_token, subject, new
    duplicate_of: Message | None = None


def normalize_subject(subject: str) -> str:
    subject = SUBJECT_TOKEN.sub(" ", subject or "")
    subject = REPLY_PREFIX.sub("", subject)
    return " ".join(subject.split()).casefold()


def is_reply_subject(subject: str) -> bool:
    return bool(REPLY_PREFIX.match(subject or ""))


def _by_headers(mail: ParsedMail, inbound_id: int, may_defer: bool) -> Match | None:
    """Step 2; also spots a mail we already have (same Message-ID, e.g. sent to two of our
    addresses): that is a duplicate, not a new message."""
    wanted = mail.in_reply_to + list(reversed(mail.references))
    lookup = list(dict.fromkeys(wanted + ([mail.message_id] if mail.has_message_id else [])))
    if not lookup:
        return None
    known: dict[str, int] = {}
    duplicate = None
    for message in db.session.scalars(select(Message).where(Message.message_id.in_(lookup))):
        known.setdefault(message.message_id, message.ticket_id)
        if mail.has_message_id and message.message_id == mail.message_id:
            duplicate = message
    if duplicate is not None:
        return Match(db.session.get(Ticket, duplicate.ticket_id), "duplicate", duplicate)
    if not wanted:
        return None
    rows = db.session.execute(select(Outbox.message_id, Outbox.ticket_id).where(
        Outbox.message_id.in_(wanted), Outbox.ticket_id.is_not(None)))
    for message_id, ticket_id in rows:
        known.setdefault(message_id, ticket_id)
    for message_id in wanted:
        if message_id in known:
            return Match(db.session.get(Ticket, known[message_id]), "headers")
    if may_defer and db.session.scalar(select(InboundEmail.id).where(
            InboundEmail.message_id.in_(wanted), InboundEmail.status == InboundStatus.RECEIVED,
            InboundEmail.id != inbound_id).limit(1)):
        raise Defer
    return None


def _participant(ticket: Ticket, customer: Customer) -> bool:
    if ticket.customer_id == customer.id:
        return True
    return db.session.scalar(select(Message.id).where(
        Message.ticket_id == ticket.id, Message.author_customer_id == customer.id).limit(1)
    ) is not None


def find_ticket(mail: ParsedMail, customer: Customer, *, inbound_id: int = 0,
                may_defer: bool = False) -> Match:
    """Raises Defer (only when may_defer) if the mail answers one not processed yet."""
    ticket_id = tokens.ticket_id_from(mail.recipients, customer.org_id)
    if ticket_id is not None:
        ticket = db.session.get(Ticket, ticket_id)
        if ticket is not None:
            return Match(ticket, "token")
    found = _by_headers(mail, inbound_id, may_defer)
    if found is not None:
        return found
    for number in SUBJECT_TOKEN.findall(mail.subject or ""):
        ticket = db.session.scalar(select(Ticket).where(Ticket.number == int(number)))
        if ticket is not None and _participant(ticket, customer):
            return Match(ticket, "subject_token")
    if is_reply_subject(mail.subject):
        wanted = normalize_subject(mail.subject)
        candidates = db.session.scalars(
            select(Ticket).where(Ticket.customer_id == customer.id,
                                 Ticket.status.in_(SUBJECT_STATUSES),
                                 Ticket.last_activity_at >= utcnow() - SAME_SUBJECT_WINDOW)
            .order_by(Ticket.last_activity_at.desc()).limit(20))
        for ticket in candidates:
            if wanted and normalize_subject(ticket.subject) == wanted:
                return Match(ticket, "subject")
    return Match(None, "new")
