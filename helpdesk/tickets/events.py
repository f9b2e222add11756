"""The timeline: one small function per event kind, each appending a TicketEvent row."""

from __future__ import annotations

from typing import Any

from helpdesk.extensions import db
from helpdesk.tickets.models import Ticket, TicketEvent


def _record(ticket: Ticket, kind: str, actor_id: int | None, **data: Any) -> TicketEvent:
    event = TicketEvent(org_id=ticket.org_id, ticket_id=ticket.id, actor_user_id=actor_id,
                        kind=kind, data=data)
    db.session.add(event)
    return event


def created(ticket: Ticket, actor_id: int | None) -> TicketEvent:
    return _record(ticket, "created", actor_id, channel=ticket.channel.value)


def status_changed(ticket, actor_id, old, new, reason: str = "") -> TicketEvent:
    return _record(ticket, "status", actor_id, old=old, new=new, reason=reason)


def priority_changed(ticket, actor_id, old, new) -> TicketEvent:
    return _record(ticket, "priority", actor_id, old=old, new=new)


def assignee_changed(ticket, actor_id, old, new, reason: str = "") -> TicketEvent:
    return _record(ticket, "assignee", actor_id, old=old, new=new, reason=reason)


def team_changed(ticket, actor_id, old, new) -> TicketEvent:
    return _record(ticket, "team", actor_id, old=old, new=new)


def tags_changed(ticket, actor_id, added: list[str], removed: list[str]) -> TicketEvent:
    return _record(ticket, "tags", actor_id, added=added, removed=removed)


def fields_changed(ticket, actor_id, changes: dict[str, Any]) -> TicketEvent:
    return _record(ticket, "fields", actor_id, changes=changes)


def subject_changed(ticket, actor_id, old, new) -> TicketEvent:
    return _record(ticket, "subject", actor_id, old=old, new=new)


def merged(ticket, actor_id, into_number: int) -> TicketEvent:
    return _record(ticket, "merged", actor_id, into=into_number)


def merged_in(ticket, actor_id, from_numbers: list[int]) -> TicketEvent:
    return _record(ticket, "merged_in", actor_id, sources=from_numbers)


def split(ticket, actor_id, new_number: int, message_id: int) -> TicketEvent:
    return _record(ticket, "split", actor_id, new=new_number, message=message_id)


def split_from(ticket, actor_id, source_number: int) -> TicketEvent:
    return _record(ticket, "split_from", actor_id, source=source_number)


def follow_up(ticket, actor_id, of_number: int) -> TicketEvent:
    return _record(ticket, "follow_up", actor_id, of=of_number)


def automation(ticket, rule_name: str, actions: list[str]) -> TicketEvent:
    return _record(ticket, "automation", None, rule=rule_name, actions=actions)


def spam_marked(ticket, actor_id, is_spam: bool) -> TicketEvent:
    return _record(ticket, "spam", actor_id, is_spam=is_spam)


def bounced(ticket, recipient: str, status: str, permanent: bool) -> TicketEvent:
    return _record(ticket, "bounce", None, recipient=recipient, status=status,
                   permanent=permanent)


def sla_alert(ticket, target: str, level: str, due) -> TicketEvent:
    return _record(ticket, "sla", None, target=target, level=level, due=due.isoformat())
