"""The ticket page's thread: messages and timeline events in time order, events told as
sentences ("Sam changed priority from normal to high")."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from helpdesk.accounts.models import User
from helpdesk.customers.models import Customer
from helpdesk.extensions import db
from helpdesk.mail.models import Outbox
from helpdesk.tickets.models import CustomField, Message, MessageKind, Team, Ticket, TicketEvent


@dataclass
class TicketRef:
    """A "#12" in a sentence, rendered as a link."""

    number: int


@dataclass
class ThreadItem:
    at: datetime
    message: Message | None = None
    author: str = ""
    parts: list[str | TicketRef] = field(default_factory=list)  # an event's sentence
    event_kind: str = ""
    delivery: Any = None  # a reply's Outbox row (id, status, sent_at, last_error), if mailed


def _names(user_ids: set[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    return dict(db.session.execute(select(User.id, User.name).where(User.id.in_(user_ids))).all())


def _shown(value: Any) -> str:
    if value is None or value == "":
        return "(empty)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


class _Teller:
    """Turns one event into sentence parts, with the names it needs looked up once."""

    def __init__(self, events: list[TicketEvent]):
        user_ids = {e.data.get(k) for e in events if e.kind == "assignee" for k in ("old", "new")}
        self.users = _names({uid for uid in user_ids if isinstance(uid, int)})
        self.teams = dict(db.session.execute(select(Team.id, Team.name)).all()) \
            if any(e.kind == "team" for e in events) else {}
        self.labels = dict(db.session.execute(select(CustomField.key, CustomField.label)).all()) \
            if any(e.kind == "fields" for e in events) else {}

    def user(self, user_id: int | None) -> str:
        return self.users.get(user_id, "a former member") if user_id is not None else "nobody"

    def tell(self, event: TicketEvent) -> list[str | TicketRef]:
        who = event.actor.name if event.actor else ""
        data: dict[str, Any] = event.data or {}
        subject = who or "The system"
        reason = f" ({data['reason']})" if data.get("reason") else ""
        kind = event.kind
        if kind == "created":
            via = data.get("channel", "")
            return [f"{who} created the ticket" if who else "Ticket created",
                    f" via {via}" if via else ""]
        if kind in ("status", "priority"):
            return [f"{subject} changed {kind} from {data.get('old')} to {data.get('new')}{reason}"]
        if kind == "assignee":
            new, old = data.get("new"), data.get("old")
            if new is None:
                return [f"{subject} unassigned {self.user(old)}{reason}"]
            if who and new == event.actor_user_id:
                return [f"{who} took the ticket{reason}"]
            return [f"{subject} assigned the ticket to {self.user(new)}{reason}"]
        if kind == "team":
            new = data.get("new")
            if new is None:
                return [f"{subject} removed the team"]
            return [f"{subject} moved the ticket to team {self.teams.get(new, 'a removed team')}"]
        if kind == "tags":
            bits = []
            if data.get("added"):
                bits.append(f"added tags {_join(data['added'])}")
            if data.get("removed"):
                bits.append(f"removed tags {_join(data['removed'])}")
            return [f"{subject} {' and '.join(bits) or 'changed tags'}"]
        if kind == "fields":
            changes = [f"{self.labels.get(k, k)} to {_shown(v)}"
                       for k, v in (data.get("changes") or {}).items()]
            return [f"{subject} set {_join(changes) if changes else 'fields'}"]
        if kind == "subject":
            return [f"{subject} changed the subject from “{data.get('old')}” to "
                    f"“{data.get('new')}”"]
        if kind == "merged":
            return [f"{subject} merged this ticket into ", TicketRef(data.get("into"))]
        if kind == "merged_in":
            parts: list[str | TicketRef] = [f"{subject} merged "]
            for i, number in enumerate(data.get("sources") or []):
                parts += [", "] if i else []
                parts.append(TicketRef(number))
            return [*parts, " into this ticket"]
        if kind == "split":
            return [f"{subject} split a message off into ", TicketRef(data.get("new"))]
        if kind == "split_from":
            return [f"{subject} split this ticket off ", TicketRef(data.get("source"))]
        if kind == "follow_up":
            return ["Follow-up of ", TicketRef(data.get("of")), " (the customer wrote again)"]
        if kind == "automation":
            actions = ", ".join(data.get("actions") or []) or "no change"
            return [f"Rule “{data.get('rule')}” ran: {actions}"]
        if kind == "bounce":
            what = "could not be delivered" if data.get("permanent") else "is delayed"
            status = f" ({data['status']})" if data.get("status") else ""
            return [f"Mail to {data.get('recipient') or 'the customer'} {what}{status}"]
        if kind == "order_linked":
            return [f"{subject} linked this ticket to order #{data.get('number')}"]
        if kind == "spam":
            verdict = "spam" if data.get("is_spam") else "not spam"
            return [f"{subject} marked the ticket as {verdict}"]
        return [f"{subject}: {kind}"]


def _deliveries(reply_ids: list[int]) -> dict[int, Any]:
    """The latest Outbox row of each reply, in one query (the raw mail is not loaded)."""
    if not reply_ids:
        return {}
    rows = db.session.execute(
        select(Outbox.message_row_id, Outbox.id, Outbox.status, Outbox.sent_at, Outbox.last_error)
        .where(Outbox.message_row_id.in_(reply_ids)).order_by(Outbox.id)).all()
    return {row.message_row_id: row for row in rows}


def build_thread(ticket: Ticket) -> list[ThreadItem]:
    """Every message now on the ticket (merged ones included) and its own events, oldest first."""
    messages = db.session.scalars(select(Message).where(Message.ticket_id == ticket.id)
                                  .order_by(Message.created_at, Message.id)).unique().all()
    events = db.session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)
                                .order_by(TicketEvent.created_at, TicketEvent.id)).unique().all()
    customer_ids = {m.author_customer_id for m in messages if m.author_customer_id}
    customers = {c.id: c for c in db.session.scalars(
        select(Customer).where(Customer.id.in_(customer_ids)))} if customer_ids else {}
    deliveries = _deliveries([m.id for m in messages if m.kind is MessageKind.REPLY])
    items = []
    for message in messages:
        if message.author_user is not None:
            author = message.author_user.name
        elif message.author_customer_id in customers:
            customer = customers[message.author_customer_id]
            author = customer.name or customer.email
        elif message.kind is MessageKind.NOTE and message.message_id is not None:
            author = "Mail system"  # a note nobody wrote that came by mail: a bounce report
        else:
            author = "Automation" if message.author_customer_id is None else "Customer"
        items.append(ThreadItem(at=message.created_at, message=message, author=author,
                                delivery=deliveries.get(message.id)))
    teller = _Teller(list(events))
    for event in events:
        items.append(ThreadItem(at=event.created_at, parts=teller.tell(event),
                                event_kind=event.kind))
    # "Created" opens the thread; other events follow the message that caused them.
    items.sort(key=lambda item: (item.event_kind != "created", item.at, item.message is None))
    return items
