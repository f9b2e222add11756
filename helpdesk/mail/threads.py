"""Which ticket does a mail belong to? In order: (1) our reply-address token, (2) In-Reply-To /
References against every Message-ID we know (inbound and our outbound), (3) a `[#123]` subject
token from the ticket's customer or a participant, (4) the same customer's open ticket with the
same subject from the last days (replies only), (5) none: a new ticket.

The rules live in `find_ticket`; where the facts come from is a `Lookups` object: straight from
the database for one mail, or prefetched for a whole batch (helpdesk.mail.ingest), where tickets
opened earlier in the same batch count too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select, text

from helpdesk.core.models import utcnow
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
    ticket: Any  # a Ticket, or a ticket drafted earlier in the same batch; None: new ticket
    how: str  # token, headers, subject_token, subject, duplicate, new
    duplicate_of: Any = None  # (ticket, message row id or None) when we have this mail already


def normalize_subject(subject: str) -> str:
    subject = SUBJECT_TOKEN.sub(" ", subject or "")
    subject = REPLY_PREFIX.sub("", subject)
    return " ".join(subject.split()).casefold()


def ticket_subject(subject: str) -> str:
    """A new ticket's subject: as written, minus ticket tokens (another ticket's `[#12]` that
    did not thread this mail would only confuse later mail)."""
    subject = " ".join(SUBJECT_TOKEN.sub(" ", subject or "").split())[:500]
    return subject or "(no subject)"


def is_reply_subject(subject: str) -> bool:
    return bool(REPLY_PREFIX.match(subject or ""))


def wanted_ids(mail: ParsedMail) -> list[str]:
    """The Message-IDs a mail answers, most direct first (never its own)."""
    return [i for i in dict.fromkeys(mail.in_reply_to + list(reversed(mail.references)))
            if i != mail.message_id]


def known_message_ids(ids) -> dict[str, tuple[int, int | None]]:
    """Message-ID -> (ticket id, message row id, or None for our outbound mail): every id we
    know for the org, inbound and outbound."""
    found: dict[str, tuple[int, int | None]] = {}
    if not ids:
        return found
    for message_id, ticket_id, row_id in db.session.execute(
            select(Message.message_id, Message.ticket_id, Message.id)
            .where(Message.message_id.in_(ids))):
        found.setdefault(message_id, (ticket_id, row_id))
    for message_id, ticket_id in db.session.execute(
            select(Outbox.message_id, Outbox.ticket_id)
            .where(Outbox.message_id.in_(ids), Outbox.ticket_id.is_not(None))):
        found.setdefault(message_id, (ticket_id, None))
    return found


class Lookups:
    """The facts threading needs, read from the database one mail at a time. `not_waiting_on`:
    inbound ids a mail must not wait for (its own batch, second time round: no cycles)."""

    def __init__(self, not_waiting_on: frozenset[int] = frozenset()):
        self.not_waiting_on = not_waiting_on

    def ticket(self, ticket_id: int):
        return db.session.get(Ticket, ticket_id)

    def known(self, ids: list[str]) -> dict[str, tuple[int, int | None]]:
        return known_message_ids(ids)

    def by_number(self, number: int):
        return db.session.scalar(select(Ticket).where(Ticket.number == number))

    def participant(self, ticket, customer_id: int) -> bool:
        if ticket.customer_id == customer_id:
            return True
        return db.session.scalar(select(Message.id).where(
            Message.ticket_id == ticket.id, Message.author_customer_id == customer_id).limit(1)
        ) is not None

    def recent_of_customer(self, customer_id: int) -> list:
        return list(db.session.scalars(
            select(Ticket).where(Ticket.customer_id == customer_id,
                                 Ticket.status.in_(SUBJECT_STATUSES),
                                 Ticket.last_activity_at >= utcnow() - SAME_SUBJECT_WINDOW)
            .order_by(Ticket.last_activity_at.desc()).limit(20)))

    def pending(self, ids: list[str], inbound_id: int) -> bool:
        return db.session.scalar(select(InboundEmail.id).where(
            InboundEmail.message_id.in_(ids), InboundEmail.status == InboundStatus.RECEIVED,
            InboundEmail.id != inbound_id, InboundEmail.id.not_in(self.not_waiting_on))
            .limit(1)) is not None


def lock_message_ids(org_id: int, message_ids: list[str]) -> None:
    """Serialize work on the same Message-ID across workers (one mail sent to two of our
    addresses, polled by two jobs at once): a transaction-long advisory lock per id, taken in
    one order, so the second sees the first's message and calls itself a duplicate."""
    if message_ids:
        db.session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:org || ' ' || m, 0)) "
                 "FROM (SELECT unnest(CAST(:ids AS text[])) AS m ORDER BY 1) AS ids"),
            {"org": str(org_id), "ids": sorted(set(message_ids))})


def find_ticket(mail: ParsedMail, customer_id: int, org_id: int, lookups: Lookups, *,
                inbound_id: int = 0, may_defer: bool = False) -> Match:
    """Raises Defer (only when may_defer) if the mail answers one not processed yet."""
    ticket_id = tokens.ticket_id_from(mail.recipients, org_id)
    if ticket_id is not None:
        ticket = lookups.ticket(ticket_id)
        if ticket is not None:
            return Match(ticket, "token")
    wanted = wanted_ids(mail)
    known = lookups.known(wanted + ([mail.message_id] if mail.has_message_id else []))
    if mail.has_message_id and mail.message_id in known:
        # We have this very mail (e.g. sent to two of our addresses): not a new message.
        ticket_id, row_id = known[mail.message_id]
        return Match(lookups.ticket(ticket_id), "duplicate", (lookups.ticket(ticket_id), row_id))
    for message_id in wanted:
        if message_id in known:
            return Match(lookups.ticket(known[message_id][0]), "headers")
    if wanted and may_defer and lookups.pending(wanted, inbound_id):
        raise Defer
    for number in SUBJECT_TOKEN.findall(mail.subject or ""):
        ticket = lookups.by_number(int(number))
        if ticket is not None and lookups.participant(ticket, customer_id):
            return Match(ticket, "subject_token")
    if is_reply_subject(mail.subject):
        subject = normalize_subject(mail.subject)
        for ticket in lookups.recent_of_customer(customer_id):
            if subject and normalize_subject(ticket.subject) == subject:
                return Match(ticket, "subject")
    return Match(None, "new")
