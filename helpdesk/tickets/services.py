"""Tickets: create, read for update, change fields, add messages. Services flush, never commit."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, BinaryIO

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from helpdesk.core import tenancy
from helpdesk.core.emails import clean_email
from helpdesk.core.exceptions import ValidationFailed
from helpdesk.core.models import utcnow
from helpdesk.customers.models import Customer
from helpdesk.extensions import db
from helpdesk.orgs.models import Membership
from helpdesk.tickets import events, workflow
from helpdesk.tickets.attachments import save_attachment
from helpdesk.tickets.fields import clean_custom_fields
from helpdesk.tickets.models import (
    Channel,
    Message,
    MessageKind,
    Priority,
    Status,
    Team,
    Ticket,
    TicketCounter,
)
from helpdesk.tickets.sanitize import HtmlTooComplex, clean_html, html_to_text, text_to_html

UNSET: Any = object()
TAG_PATTERN = re.compile(r"^[\w][\w .:/+-]{0,49}$", re.UNICODE)
MAX_TAGS = 20
MAX_BODY = 200_000


def next_numbers(org_id: int, count: int = 1) -> list[int]:
    """The org's next `count` ticket numbers. The counter row is locked until commit, so
    concurrent creations queue up; a rolled-back creation gives its numbers back (no gaps)."""
    db.session.execute(
        pg_insert(TicketCounter).values(org_id=org_id, last_number=0)
        .on_conflict_do_nothing(index_elements=["org_id"])
    )
    last = db.session.execute(
        update(TicketCounter)
        .where(TicketCounter.org_id == org_id)
        .values(last_number=TicketCounter.last_number + count)
        .returning(TicketCounter.last_number)
    ).scalar_one()
    return list(range(last - count + 1, last + 1))


def next_number(org_id: int) -> int:
    return next_numbers(org_id)[0]


def get_ticket(number: int, *, for_update: bool = False) -> Ticket | None:
    """The current org's ticket by number; None for another org's or a missing one.

    With for_update the row stays locked until commit: concurrent edits queue up and each
    applies its own fields to the other's result, so neither change is lost.
    """
    query = select(Ticket).where(Ticket.number == number)
    if for_update:
        query = query.with_for_update(of=Ticket)
    return db.session.scalar(query)


def resolve_merged(ticket: Ticket) -> Ticket:
    """Follow merges to the ticket that lives on (mail to a merged ticket lands there)."""
    seen = set()
    while ticket.merged_into_id is not None and ticket.id not in seen:
        seen.add(ticket.id)
        ticket = db.session.get(Ticket, ticket.merged_into_id)
    return ticket


def find_or_create_customer(email: str, name: str = "") -> Customer:
    """Raises ValidationFailed for an invalid address."""
    try:
        address = clean_email(email)
    except ValueError as error:
        raise ValidationFailed("Invalid email.", {"customer_email": str(error)}) from error
    # INSERT ... ON CONFLICT: two first messages from one new address at the same moment
    # must not fail on the unique (org_id, email) index.
    db.session.execute(
        pg_insert(Customer)
        .values(org_id=tenancy.current_org_id(), email=address, name=(name or "").strip()[:200])
        .on_conflict_do_nothing(index_elements=["org_id", "email"])
    )
    return db.session.scalar(select(Customer).where(Customer.email == address))


def clean_tags(tags: Iterable[Any]) -> list[str]:
    """Lower-case, trimmed, unique, in order. Raises ValidationFailed for bad ones."""
    result: list[str] = []
    for raw in tags:
        if not isinstance(raw, str):
            raise ValidationFailed("Invalid tag.", {"tags": "tags are strings"})
        tag = " ".join(raw.split()).lower()
        if not tag:
            continue
        if not TAG_PATTERN.match(tag):
            raise ValidationFailed("Invalid tag.", {"tags": f"“{raw[:60]}”: use up to 50 "
                                                            "letters, digits, spaces or "
                                                            "- _ . : / +"})
        if tag not in result:
            result.append(tag)
    if len(result) > MAX_TAGS:
        raise ValidationFailed("Too many tags.", {"tags": f"at most {MAX_TAGS} tags"})
    return result


def _body(body_text: str | None, body_html: str | None) -> tuple[str, str]:
    """(text, sanitized html) from whichever the caller has; raises ValidationFailed if empty."""
    try:
        body_html = clean_html(body_html) if body_html else ""
    except HtmlTooComplex as error:
        raise ValidationFailed(str(error), {"body_html": str(error)}) from error
    body_text = (body_text or "").replace("\x00", "")
    if not body_text.strip() and body_html:
        body_text = html_to_text(body_html)
    if not body_html and body_text:
        body_html = text_to_html(body_text)
    if not body_text.strip():
        raise ValidationFailed("Empty message.", {"body": "Write a message."})
    if len(body_text) > MAX_BODY:
        raise ValidationFailed("Message too long.", {"body": f"at most {MAX_BODY} characters"})
    return body_text, body_html


def _member_ids(org_id: int) -> set[int]:
    return set(db.session.scalars(select(Membership.user_id).where(Membership.org_id == org_id)))


def create_ticket(actor_id: int | None, *, subject: str, customer: Customer, channel: Channel,
                  body_text: str | None = None, body_html: str | None = None,
                  priority: Priority = Priority.NORMAL, tags: Iterable[str] = (),
                  custom_fields: dict | None = None, team_id: int | None = None,
                  assignee_id: int | None = None,
                  attachments: Iterable[tuple[str, BinaryIO, str | None]] = (),
                  follow_up_of: Ticket | None = None, headers: dict | None = None) -> Ticket:
    """A new ticket whose first message is the customer's. Runs assignment and automation.

    Raises ValidationFailed for an empty subject or body, bad tags or custom fields.
    """
    subject = " ".join((subject or "").split())[:500]
    if not subject:
        raise ValidationFailed("Subject missing.", {"subject": "Give the ticket a subject."})
    body_text, body_html = _body(body_text, body_html)
    tags = clean_tags(tags)
    org_id = customer.org_id
    fields = clean_custom_fields(custom_fields or {}, org_id)
    if assignee_id is not None and assignee_id not in _member_ids(org_id):
        raise ValidationFailed("Unknown assignee.", {"assignee": "not a member of this team"})
    ticket = Ticket(org_id=org_id, number=next_number(org_id), subject=subject, channel=channel,
                    priority=priority, customer_id=customer.id, tags=tags, custom_fields=fields,
                    team_id=team_id, assignee_id=assignee_id,
                    follow_up_of_id=follow_up_of.id if follow_up_of else None)
    db.session.add(ticket)
    db.session.flush()
    events.created(ticket, actor_id)
    if follow_up_of is not None:
        events.follow_up(ticket, actor_id, follow_up_of.number)
    _add_message_row(ticket, MessageKind.CUSTOMER, None, customer.id, body_text, body_html,
                     attachments, headers)
    if assignee_id is None:
        from helpdesk.tickets.assignment import auto_assign

        auto_assign(ticket)
    from helpdesk.tickets.automation import run_rules

    run_rules("created", ticket)
    from helpdesk.sla import clock

    clock.refresh(ticket)
    return ticket


def _add_message_row(ticket, kind, author_user_id, author_customer_id, body_text, body_html,
                     attachments, headers=None) -> Message:
    headers = headers or {}
    message = Message(org_id=ticket.org_id, ticket_id=ticket.id, kind=kind,
                      author_user_id=author_user_id, author_customer_id=author_customer_id,
                      body_text=body_text, body_html=body_html,
                      message_id=headers.get("message_id"), in_reply_to=headers.get("in_reply_to"),
                      references=headers.get("references"))
    db.session.add(message)
    db.session.flush()
    for filename, stream, content_type, *content_id in attachments:
        save_attachment(message, filename, stream, content_type, *content_id)
    ticket.last_activity_at = utcnow()
    return message


def add_reply(actor_id: int, ticket: Ticket, *, body_text: str | None = None,
              body_html: str | None = None, attachments=(), status: Status | None = None,
              send: bool = True) -> Message:
    """A public reply by an agent, mailed to the customer. Sets first_response_at once.

    The ticket moves to `status` (default: open, if it was new). Raises ValidationFailed,
    InvalidTransition (merged or closed tickets take no replies).
    """
    _require_live(ticket)
    body_text, body_html = _body(body_text, body_html)
    message = _add_message_row(ticket, MessageKind.REPLY, actor_id, None, body_text, body_html,
                               attachments)
    first = ticket.first_response_at is None
    if first:
        ticket.first_response_at = message.created_at or utcnow()
    target = status or (Status.OPEN if ticket.status is Status.NEW else None)
    if target is not None:
        workflow.change_status(actor_id, ticket, target)
    if send:
        from helpdesk.mail.outbound import queue_reply

        queue_reply(ticket, message)
    from helpdesk.sla import clock

    clock.reply_sent(ticket, message, actor_id, first=first)
    return message


def add_note(actor_id: int, ticket: Ticket, *, body_text: str | None = None,
             body_html: str | None = None, attachments=()) -> Message:
    """An internal note; @mentions notify the colleagues named. Not a reply (no SLA effect).

    Raises InvalidTransition on a merged ticket (notes belong on its target)."""
    _require_live(ticket, "note")
    body_text, body_html = _body(body_text, body_html)
    message = _add_message_row(ticket, MessageKind.NOTE, actor_id, None, body_text, body_html,
                               attachments)
    from helpdesk.tickets.notifications import notify_mentions

    notify_mentions(actor_id, ticket, message)
    db.session.flush()
    return message


def add_customer_message(ticket: Ticket, customer: Customer, *, body_text: str | None = None,
                         body_html: str | None = None, attachments=(),
                         headers: dict | None = None, reopen: bool = True) -> Message:
    """The customer wrote again. Merged tickets forward to their target; pending and solved
    tickets reopen (unless `reopen` is False: an auto-reply); a closed ticket gets a new
    follow-up ticket linked to it."""
    ticket = resolve_merged(ticket)
    if ticket.status is Status.CLOSED:
        follow_up = create_ticket(None, subject=ticket.subject, customer=customer,
                                  channel=ticket.channel, body_text=body_text,
                                  body_html=body_html, attachments=attachments,
                                  follow_up_of=ticket, headers=headers)
        follow_up.mailbox_id = ticket.mailbox_id
        return db.session.scalar(select(Message).where(Message.ticket_id == follow_up.id))
    body_text, body_html = _body(body_text, body_html)
    message = _add_message_row(ticket, MessageKind.CUSTOMER, None, customer.id, body_text,
                               body_html, attachments, headers)
    if reopen:
        workflow.reopen_on_customer_reply(ticket)
    from helpdesk.tickets.automation import run_rules

    run_rules("customer_replied", ticket)
    from helpdesk.sla import clock

    clock.refresh(ticket)
    return message


def add_system_note(ticket: Ticket, text: str, attachments=(),
                    message_id: str | None = None) -> Message:
    """A note by the system itself (a bounce report): no author, no mentions, no SLA effect."""
    return _add_message_row(ticket, MessageKind.NOTE, None, None, text, text_to_html(text),
                            attachments, {"message_id": message_id})


def _require_live(ticket: Ticket, what: str = "reply") -> None:
    """Merged tickets take nothing more; closed ones take no replies (the customer's next
    mail opens a follow-up). Raises InvalidTransition (409)."""
    if ticket.merged_into_id is not None:
        target = db.session.get(Ticket, ticket.merged_into_id)
        raise workflow.InvalidTransition(
            f"Ticket #{ticket.number} was merged into #{target.number}; add your {what} there.",
            {"ticket": f"merged into #{target.number}"})
    if what == "reply" and ticket.status is Status.CLOSED:
        raise workflow.InvalidTransition(
            f"Ticket #{ticket.number} is closed; it takes no more replies.",
            {"ticket": "closed"})


def is_frozen(ticket: Ticket) -> bool:
    """Closed and merged tickets keep their content; only tags may still change."""
    return ticket.merged_into_id is not None or ticket.status is Status.CLOSED


def _refuse_changes_to_frozen(ticket: Ticket, **given: Any) -> None:
    current = {"subject": ticket.subject, "priority": ticket.priority,
               "assignee_id": ticket.assignee_id, "team_id": ticket.team_id,
               "is_spam": ticket.is_spam}
    changing = [name for name, value in given.items() if value is not UNSET and (
        name == "custom_fields" and any(ticket.custom_fields.get(k) != v
                                        for k, v in (value or {}).items())
        or name != "custom_fields" and value != current[name])]
    if changing:
        state = "merged" if ticket.merged_into_id else "closed"
        raise workflow.InvalidTransition(
            f"Ticket #{ticket.number} is {state}: only its tags can change.",
            {name: "read-only" for name in changing})


def update_ticket(actor_id: int | None, ticket: Ticket, *, status: Status = UNSET,
                  priority: Priority = UNSET, assignee_id: int | None = UNSET,
                  team_id: int | None = UNSET, tags: Iterable[str] = UNSET,
                  add_tags: Iterable[str] = (), remove_tags: Iterable[str] = (),
                  custom_fields: dict = UNSET, subject: str = UNSET, is_spam: bool = UNSET,
                  run_automation: bool = True) -> list[str]:
    """Apply only the given changes, each with its timeline event; returns what changed.

    Raises ValidationFailed (bad values), InvalidTransition (status; merged tickets stay
    closed).
    """
    changed: list[str] = []
    if is_frozen(ticket):
        if status is not UNSET:
            workflow.change_status(actor_id, ticket, status)  # says why it cannot move
        _refuse_changes_to_frozen(ticket, subject=subject, priority=priority,
                                  assignee_id=assignee_id, team_id=team_id,
                                  custom_fields=custom_fields, is_spam=is_spam)
    if subject is not UNSET:
        new_subject = " ".join((subject or "").split())[:500]
        if not new_subject:
            raise ValidationFailed("Subject missing.", {"subject": "Give the ticket a subject."})
        if new_subject != ticket.subject:
            events.subject_changed(ticket, actor_id, ticket.subject, new_subject)
            ticket.subject = new_subject
            changed.append("subject")
    if priority is not UNSET and priority != ticket.priority:
        events.priority_changed(ticket, actor_id, ticket.priority.value, priority.value)
        ticket.priority = priority
        changed.append("priority")
    if assignee_id is not UNSET and assignee_id != ticket.assignee_id:
        if assignee_id is not None and assignee_id not in _member_ids(ticket.org_id):
            raise ValidationFailed("Unknown assignee.", {"assignee": "not a member of this team"})
        from helpdesk.tickets.assignment import set_assignee

        set_assignee(actor_id, ticket, assignee_id)
        changed.append("assignee")
    if team_id is not UNSET and team_id != ticket.team_id:
        if team_id is not None and db.session.get(Team, team_id) is None:
            raise ValidationFailed("Unknown team.", {"team": "no such team"})
        events.team_changed(ticket, actor_id, ticket.team_id, team_id)
        ticket.team_id = team_id
        changed.append("team")
    new_tags = list(ticket.tags) if tags is UNSET else clean_tags(tags)
    new_tags = [t for t in new_tags + clean_tags(add_tags) if t not in clean_tags(remove_tags)]
    new_tags = list(dict.fromkeys(new_tags))
    if new_tags != list(ticket.tags):
        added = [t for t in new_tags if t not in ticket.tags]
        removed = [t for t in ticket.tags if t not in new_tags]
        if len(new_tags) > MAX_TAGS and len(new_tags) > len(ticket.tags):
            raise ValidationFailed("Too many tags.", {"tags": f"at most {MAX_TAGS} tags"})
        events.tags_changed(ticket, actor_id, added, removed)
        ticket.tags = new_tags
        changed.append("tags")
    if custom_fields is not UNSET:
        cleaned = clean_custom_fields(custom_fields, ticket.org_id)
        diff = {k: v for k, v in cleaned.items() if ticket.custom_fields.get(k) != v}
        if diff:
            events.fields_changed(ticket, actor_id, diff)
            ticket.custom_fields = {**ticket.custom_fields, **diff}
            changed.append("custom_fields")
    if is_spam is not UNSET and is_spam != ticket.is_spam:
        events.spam_marked(ticket, actor_id, is_spam)
        ticket.is_spam = is_spam
        changed.append("spam")
    if status is not UNSET and workflow.change_status(actor_id, ticket, status):
        changed.append("status")
    if changed:
        ticket.updated_at = utcnow()
        db.session.flush()
        # The read-only relationships follow their *_id columns only after a reload.
        db.session.expire(ticket, ["assignee", "team"])
        if run_automation:
            from helpdesk.tickets.automation import run_rules

            run_rules("updated", ticket)
        from helpdesk.sla import clock

        clock.refresh(ticket)
    return changed


def max_upload_mb() -> int:
    return current_app.config["MAX_ATTACHMENT_SIZE"] // (1024 * 1024)
