"""Triggers: rules run in position order on ticket created / updated / customer replied.

Changes made by rules do not fire further rules (no loops): the actions apply with automation
switched off, and each rule runs at most once per event.
"""

from __future__ import annotations

from typing import Any

from flask import g
from sqlalchemy import select

from helpdesk.core.exceptions import ServiceError, ValidationFailed
from helpdesk.extensions import db
from helpdesk.tickets import events
from helpdesk.tickets.models import AutomationRule, Message, MessageKind, Priority, Status, Ticket

EVENTS = ("created", "updated", "customer_replied", "sla_warning", "sla_breached")
FIELDS = ("subject", "body", "customer_domain", "tags", "priority", "channel")
OPERATORS = ("contains", "not_contains", "equals", "not_equals", "in")
ACTIONS = ("set_priority", "set_status", "add_tags", "remove_tags", "assign", "set_team",
           "add_note", "send_canned")


def _value_of(ticket: Ticket, field: str) -> Any:
    if field == "subject":
        return ticket.subject.lower()
    if field == "body":
        last = db.session.scalar(select(Message.body_text).where(
            Message.ticket_id == ticket.id, Message.kind == MessageKind.CUSTOMER)
            .order_by(Message.created_at.desc(), Message.id.desc()).limit(1))
        return (last or "").lower()
    if field == "customer_domain":
        return ticket.customer.email.rsplit("@", 1)[-1].lower()
    if field == "tags":
        return list(ticket.tags)
    if field == "priority":
        return ticket.priority.value
    if field == "channel":
        return ticket.channel.value
    raise ValueError(field)


def matches(ticket: Ticket, condition: dict[str, Any]) -> bool:
    actual = _value_of(ticket, condition["field"])
    op, expected = condition["op"], condition.get("value")
    expected_list = expected if isinstance(expected, list) else [expected]
    expected_list = [str(e).lower() for e in expected_list]
    if isinstance(actual, list):  # tags
        hit = any(e in actual for e in expected_list)
        return {"contains": hit, "in": hit, "equals": hit, "not_contains": not hit,
                "not_equals": not hit}[op]
    first = expected_list[0] if expected_list else ""
    return {
        "contains": first in actual,
        "not_contains": first not in actual,
        "equals": actual == first,
        "not_equals": actual != first,
        "in": actual in expected_list,
    }[op]


def validate_rule(event: str, conditions: list, actions: list) -> None:
    errors = {}
    if event not in EVENTS:
        errors["event"] = f"one of {', '.join(EVENTS)}"
    for i, c in enumerate(conditions if isinstance(conditions, list) else [None]):
        if not isinstance(c, dict) or c.get("field") not in FIELDS or c.get("op") not in OPERATORS:
            errors[f"conditions.{i}"] = f"field in {FIELDS}, op in {OPERATORS}, and a value"
    for i, a in enumerate(actions if isinstance(actions, list) else [None]):
        if not isinstance(a, dict) or a.get("type") not in ACTIONS:
            errors[f"actions.{i}"] = f"type in {ACTIONS}, and a value"
    if not actions:
        errors["actions"] = "at least one action"
    if errors:
        raise ValidationFailed("Invalid rule.", errors)


def _apply(ticket: Ticket, action: dict[str, Any]) -> str:
    from helpdesk.tickets import services

    kind, value = action["type"], action.get("value")
    if kind == "set_priority":
        services.update_ticket(None, ticket, priority=Priority(value), run_automation=False)
    elif kind == "set_status":
        services.update_ticket(None, ticket, status=Status(value), run_automation=False)
    elif kind == "add_tags":
        services.update_ticket(None, ticket, add_tags=value if isinstance(value, list) else [value],
                               run_automation=False)
    elif kind == "remove_tags":
        services.update_ticket(None, ticket,
                               remove_tags=value if isinstance(value, list) else [value],
                               run_automation=False)
    elif kind == "assign":
        services.update_ticket(None, ticket, assignee_id=int(value) if value else None,
                               run_automation=False)
    elif kind == "set_team":
        services.update_ticket(None, ticket, team_id=int(value) if value else None,
                               run_automation=False)
    elif kind == "add_note":
        services._add_message_row(ticket, MessageKind.NOTE, None, None, str(value),
                                  services.text_to_html(str(value)), ())
    elif kind == "send_canned":
        _send_canned(ticket, int(value))
    return kind


def _send_canned(ticket: Ticket, canned_id: int) -> None:
    from helpdesk.orgs.models import Organization
    from helpdesk.tickets import canned, services
    from helpdesk.tickets.models import CannedResponse

    response = db.session.get(CannedResponse, canned_id)
    if response is None:
        return
    org = db.session.get(Organization, ticket.org_id)
    body = canned.render(response.body, canned.context_for(ticket, None, org))
    message = services._add_message_row(ticket, MessageKind.REPLY, None, None, body,
                                        services.text_to_html(body), ())
    from helpdesk.mail.outbound import queue_reply

    queue_reply(ticket, message)


def run_rules(event: str, ticket: Ticket) -> list[str]:
    """Apply every active rule for `event` whose conditions hold; returns the rule names."""
    from helpdesk.tickets.services import is_frozen

    if g.get("automation_running") or is_frozen(ticket):
        return []  # no rule writes to closed or merged tickets
    g.automation_running = True
    ran = []
    try:
        rules = db.session.scalars(select(AutomationRule).where(
            AutomationRule.org_id == ticket.org_id,
            AutomationRule.event == event, AutomationRule.is_active.is_(True))
            .order_by(AutomationRule.position, AutomationRule.id)).all()
        for rule in rules:
            checks = [matches(ticket, c) for c in rule.conditions]
            if checks and not (all(checks) if rule.match_all else any(checks)):
                continue
            done = []
            for action in rule.actions:
                try:
                    with db.session.begin_nested():  # a failed action undoes only itself
                        done.append(_apply(ticket, action))
                except (ServiceError, ValueError, TypeError, KeyError) as error:
                    # A stale or bad rule (deleted team, invalid value) must not block tickets.
                    done.append(f"{action.get('type')} failed: {error}")
            events.automation(ticket, rule.name, done)
            ran.append(rule.name)
    finally:
        g.automation_running = False
    return ran
