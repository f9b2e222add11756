"""Many customer messages at once (the mail pipeline's batches): the same rows and rules as
`services.create_ticket` / `add_customer_message`, written with a few statements per batch
instead of several per message.

The caller hands over drafts of new tickets and of messages (for new or existing tickets) in
arrival order; `write` numbers the tickets (one counter update, no gaps), inserts tickets,
timeline events, messages and attachments in bulk, reopens existing tickets the customer
answered, then runs assignment and automation the ordinary way, only where the org uses them.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select

from helpdesk.core.models import utcnow
from helpdesk.extensions import db
from helpdesk.orgs.models import Organization
from helpdesk.search import indexing
from helpdesk.sla import clock
from helpdesk.tickets import workflow
from helpdesk.tickets.attachments import safe_filename, write_file
from helpdesk.tickets.models import (
    Attachment,
    AutomationRule,
    Channel,
    Message,
    MessageKind,
    Status,
    Ticket,
    TicketEvent,
)
from helpdesk.tickets.services import next_numbers


@dataclass
class TicketDraft:
    """A ticket opened in this batch. Looks enough like a Ticket for threading."""

    customer_id: int
    subject: str
    channel: Channel = Channel.EMAIL
    tags: list[str] = field(default_factory=list)
    mailbox_id: int | None = None
    follow_up_of: Ticket | None = None
    status: Status = Status.NEW
    merged_into_id: None = None
    id: int | None = None  # set by write()
    number: int | None = None


@dataclass
class MessageDraft:
    ticket: Ticket | TicketDraft
    customer_id: int
    body_text: str
    body_html: str
    body_visible: str | None = None
    headers: dict[str, str | None] = field(default_factory=dict)
    # (filename, bytes, content type, content id)
    attachments: list[tuple[str, bytes, str, str | None]] = field(default_factory=list)
    reopen: bool = True  # False for automatic mail (an out-of-office must not reopen)
    id: int | None = None  # set by write()
    stored: list[dict[str, Any]] = field(default_factory=list)  # attachment rows, by write()


def _insert_tickets(org_id: int, drafts: list[TicketDraft]) -> None:
    now = utcnow()
    for draft, number in zip(drafts, next_numbers(org_id, len(drafts)), strict=True):
        draft.number = number
    rows = [{"org_id": org_id, "number": d.number, "subject": d.subject, "status": d.status,
             "channel": d.channel, "customer_id": d.customer_id, "tags": d.tags,
             "custom_fields": {}, "mailbox_id": d.mailbox_id,
             "follow_up_of_id": d.follow_up_of.id if d.follow_up_of else None,
             "last_activity_at": now, "updated_at": now, "created_at": now} for d in drafts]
    ids = db.session.execute(
        insert(Ticket.__table__).returning(Ticket.__table__.c.id, sort_by_parameter_order=True),
        rows).scalars().all()
    for draft, ticket_id in zip(drafts, ids, strict=True):
        draft.id = ticket_id
    events = [{"org_id": org_id, "ticket_id": d.id, "kind": "created",
               "data": {"channel": d.channel.value}} for d in drafts]
    events += [{"org_id": org_id, "ticket_id": d.id, "kind": "follow_up",
                "data": {"of": d.follow_up_of.number}} for d in drafts if d.follow_up_of]
    db.session.execute(insert(TicketEvent.__table__), events)


def _insert_messages(org_id: int, messages: list[MessageDraft]) -> None:
    now = utcnow()
    rows = [{"org_id": org_id, "ticket_id": m.ticket.id, "kind": MessageKind.CUSTOMER,
             "author_customer_id": m.customer_id, "body_text": m.body_text,
             "body_html": m.body_html, "body_visible": m.body_visible,
             "message_id": m.headers.get("message_id"),
             "in_reply_to": m.headers.get("in_reply_to"),
             "references": m.headers.get("references"), "created_at": now} for m in messages]
    ids = db.session.execute(
        insert(Message.__table__).returning(Message.__table__.c.id, sort_by_parameter_order=True),
        rows).scalars().all()
    for message, message_id in zip(messages, ids, strict=True):
        message.id = message_id
    files = []
    for message in messages:
        for filename, data, content_type, content_id in message.attachments:
            key, digest = write_file(org_id, data)
            name = safe_filename(filename)
            kind = content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
            row = {"org_id": org_id, "message_id": message.id, "filename": name,
                   "content_type": kind.split(";")[0].strip().lower()[:127], "size": len(data),
                   "sha256": digest, "storage_key": key,
                   "content_id": (content_id or None) and content_id[:255], "created_at": now}
            files.append((message, row))
    if files:
        ids = db.session.execute(
            insert(Attachment.__table__).returning(Attachment.__table__.c.id,
                                                   sort_by_parameter_order=True),
            [row for _, row in files]).scalars().all()
        for (message, row), attachment_id in zip(files, ids, strict=True):
            message.stored.append({**row, "id": attachment_id})


def _touch_existing(messages: list[MessageDraft]) -> list[Ticket]:
    """Existing tickets that got mail: newest activity, and reopened if pending or solved."""
    touched: dict[int, Ticket] = {}
    now = utcnow()
    for message in messages:
        ticket = message.ticket
        if isinstance(ticket, TicketDraft):
            continue
        ticket.last_activity_at = now
        if message.reopen:
            workflow.reopen_on_customer_reply(ticket)
        touched[ticket.id] = ticket
    return list(touched.values())


def _rule_events(org_id: int) -> set[str]:
    return set(db.session.scalars(select(AutomationRule.event).where(
        AutomationRule.org_id == org_id, AutomationRule.is_active.is_(True)).distinct()))


def write(org_id: int, drafts: list[TicketDraft], messages: list[MessageDraft]) -> None:
    """Insert the drafts and messages (ids filled in), then the usual follow-ups: reopening,
    assignment and automation rules. Flushes; the caller commits."""
    if drafts:
        _insert_tickets(org_id, drafts)
        indexing.queue_documents(org_id, "tickets", [d.id for d in drafts])
    if messages:
        _insert_messages(org_id, messages)
        indexing.queue_documents(org_id, "messages", [m.id for m in messages])
    touched = _touch_existing(messages)
    org = db.session.get(Organization, org_id)
    rules = _rule_events(org_id) if (drafts or touched) else set()
    manual = org.settings.get("assignment", "manual") == "manual"
    new = db.session.scalars(select(Ticket).where(Ticket.id.in_([d.id for d in drafts]))
                             .order_by(Ticket.id)).all() if drafts else []
    clock.start_new(list(new))
    for ticket in touched:
        clock.refresh(ticket)
    if drafts and (not manual or "created" in rules):
        from helpdesk.tickets.assignment import auto_assign
        from helpdesk.tickets.automation import run_rules

        for ticket in new:
            if not manual:
                auto_assign(ticket)
            if "created" in rules:
                run_rules("created", ticket)
    if touched and "customer_replied" in rules:
        from helpdesk.tickets.automation import run_rules

        for ticket in touched:
            run_rules("customer_replied", ticket)
    db.session.flush()
