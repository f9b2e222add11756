"""Automation rules from the settings pages: listed in run order, checked by
automation.validate_rule and then value by value (ids of members, teams, shared responses)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from helpdesk.core.exceptions import ServiceError, ValidationFailed
from helpdesk.extensions import db
from helpdesk.tickets import automation
from helpdesk.tickets.admin import move_in_order, next_position, one_line
from helpdesk.tickets.models import (
    AutomationRule,
    CannedResponse,
    Channel,
    Priority,
    Status,
)
from helpdesk.tickets.queries import members, teams
from helpdesk.tickets.services import clean_tags

MAX_NOTE = 5_000


def list_rules() -> list[AutomationRule]:
    return list(db.session.scalars(select(AutomationRule)
                                   .order_by(AutomationRule.position, AutomationRule.id)))


def shared_canned_choices() -> list[tuple[int, str]]:
    return [(c.id, c.title) for c in db.session.scalars(
        select(CannedResponse).where(CannedResponse.owner_user_id.is_(None))
        .order_by(CannedResponse.title))]


def action_value_choices() -> dict[str, list[tuple[Any, str]]]:
    """For the action types whose value is picked from a list: (value, label) pairs."""
    return {
        "set_priority": [(p.value, p.value.capitalize()) for p in Priority],
        "set_status": [(s.value, s.value.capitalize()) for s in Status],
        "assign": [("", "Nobody (unassign)"), *members()],
        "set_team": [("", "No team"), *teams()],
        "send_canned": shared_canned_choices(),
    }


def _split(value: Any) -> list[str]:
    items = value if isinstance(value, list) else str(value or "").split(",")
    return [str(item).strip() for item in items if str(item).strip()]


def _clean_condition(condition: dict[str, Any]) -> dict[str, Any]:
    """Raises ValueError with the message for the row."""
    field, op = condition["field"], condition["op"]
    if op == "in" or field == "tags":
        values = _split(condition.get("value"))
    else:
        values = [str(condition.get("value") or "").strip()]
    if not values or not values[0]:
        raise ValueError("Enter a value to compare with.")
    allowed = {"priority": [p.value for p in Priority], "channel": [c.value for c in Channel]}
    if field in allowed:
        values = [v.lower() for v in values]
        wrong = [v for v in values if v not in allowed[field]]
        if wrong:
            raise ValueError(f"{field.capitalize()} is one of: {', '.join(allowed[field])}.")
    value = values if op == "in" or field == "tags" else values[0][:500]
    return {"field": field, "op": op, "value": value}


def _clean_action(action: dict[str, Any], choices: dict[str, list]) -> dict[str, Any]:
    """Raises ValueError with the message for the row."""
    kind, raw = action["type"], action.get("value")
    text = str(raw if raw is not None else "").strip()
    if kind in ("add_tags", "remove_tags"):
        try:
            value: Any = clean_tags(_split(raw))
        except ServiceError as error:
            raise ValueError(next(iter(error.fields.values()), error.message)) from error
        if not value:
            raise ValueError("Enter at least one tag (separate several with commas).")
    elif kind == "add_note":
        if not text:
            raise ValueError("Write the note.")
        value = text[:MAX_NOTE]
    else:
        allowed = {str(v): v for v, _ in choices[kind]}
        if text not in allowed:
            if kind == "send_canned" and not allowed:
                raise ValueError("Create a shared canned response first.")
            raise ValueError("Choose one of the listed values.")
        value = allowed[text] if allowed[text] != "" else None
    return {"type": kind, "value": value}


def save_rule(*, name: str, event: str, match_all: bool, is_active: bool,
              conditions: list[dict[str, Any]], actions: list[dict[str, Any]],
              rule: AutomationRule | None = None) -> AutomationRule:
    """Create or edit a rule, checked by automation.validate_rule and then value by value.

    Raises ValidationFailed with keys name, event, actions, conditions.<i>, actions.<i>.
    """
    errors: dict[str, str] = {}
    name = one_line(name, 200)
    if not name:
        errors["name"] = "Name the rule."
    try:
        automation.validate_rule(event, conditions, actions)
    except ValidationFailed as error:
        for key, message in error.fields.items():
            errors[key] = {"event": "Choose when the rule runs.",
                           "actions": "Add at least one action."}.get(key, message)
    cleaned_conditions, cleaned_actions = [], []
    for i, condition in enumerate(conditions):
        if f"conditions.{i}" in errors:
            errors[f"conditions.{i}"] = "Choose a field and how to compare it."
            continue
        try:
            cleaned_conditions.append(_clean_condition(condition))
        except ValueError as error:
            errors[f"conditions.{i}"] = str(error)
    choices = action_value_choices()
    for i, action in enumerate(actions):
        if f"actions.{i}" in errors:
            errors[f"actions.{i}"] = "Choose what to do."
            continue
        try:
            cleaned_actions.append(_clean_action(action, choices))
        except ValueError as error:
            errors[f"actions.{i}"] = str(error)
    if errors:
        raise ValidationFailed("The rule has errors: see the marked fields.", errors)
    if rule is None:
        rule = AutomationRule(position=next_position(AutomationRule))
        db.session.add(rule)
    rule.name, rule.event, rule.match_all, rule.is_active = name, event, match_all, is_active
    rule.conditions, rule.actions = cleaned_conditions, cleaned_actions
    db.session.flush()
    return rule


def move_rule(rule: AutomationRule, offset: int) -> None:
    """Rules run in this order; -1 moves the rule up, +1 down."""
    move_in_order(list_rules(), rule, offset)


def set_rule_active(rule: AutomationRule, active: bool) -> None:
    rule.is_active = active
    db.session.flush()


def delete_rule(rule: AutomationRule) -> None:
    db.session.delete(rule)
    db.session.flush()
