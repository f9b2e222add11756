"""Business calendars and SLA policies: defaults for a new org, validated changes.

Changing a policy or calendar re-times the org's running tickets in a `default` job, so the
inbox's due times follow the new rules without anyone opening the tickets.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from zoneinfo import available_timezones

from sqlalchemy import func, select

from helpdesk.core.exceptions import PlanLimitExceeded, ValidationFailed
from helpdesk.core.jobs import enqueue_after_commit
from helpdesk.extensions import db
from helpdesk.orgs.models import Organization
from helpdesk.orgs.plans import PLANS
from helpdesk.sla.calendar import WEEKDAYS, holiday_preset
from helpdesk.sla.clock import forget_rules, has_sla_feature
from helpdesk.sla.models import TARGETS, BusinessCalendar, SlaPolicy
from helpdesk.tickets.models import Channel, Priority

OFFICE_HOURS = {day: [[9 * 60, 17 * 60]] for day in WEEKDAYS[:5]}
# (name, priority, first reply, next reply, resolution) in business minutes.
DEFAULT_POLICIES = (
    ("Urgent", "urgent", 60, 120, 8 * 60),
    ("High", "high", 4 * 60, 8 * 60, 24 * 60),
    ("Normal", "normal", 8 * 60, 16 * 60, 48 * 60),
    ("Low", "low", 24 * 60, 48 * 60, 96 * 60),
)
DEFAULT_POLICY = "Normal"  # the one policy of plans without the "sla" feature
MAX_POLICIES = 50
MAX_CALENDARS = 20
MAX_HOLIDAYS = 200
MAX_TARGET_MINUTES = 365 * 24 * 60
CONDITION_KEYS = ("priorities", "tags", "channels", "customer_domains")


def upgrade_message(org: Organization) -> str:
    plans = [plan.name for plan in PLANS.values() if "sla" in plan.features]
    return (f"SLA policies are part of the {' and '.join(plans)} plans. Your "
            f"{PLANS[org.plan].name} plan uses the default policy for every ticket; "
            "upgrade to set targets by priority, tag, channel or customer.")


def seed_defaults(org_id: int) -> None:
    """The office-hours calendar and one policy per priority (Normal is the default)."""
    db.session.add(BusinessCalendar(org_id=org_id, name="Office hours", timezone="UTC",
                                    hours=OFFICE_HOURS, custom_holidays=[], is_default=True))
    for position, (name, priority, first, following, resolution) in enumerate(DEFAULT_POLICIES):
        db.session.add(SlaPolicy(
            org_id=org_id, name=name, position=position, is_default=name == DEFAULT_POLICY,
            conditions={"priorities": [priority]}, first_reply_minutes=first,
            next_reply_minutes=following, resolution_minutes=resolution, business_hours=True))
    db.session.flush()


def policies() -> list[SlaPolicy]:
    return list(db.session.scalars(select(SlaPolicy).order_by(SlaPolicy.position, SlaPolicy.id)))


def calendars() -> list[BusinessCalendar]:
    return list(db.session.scalars(select(BusinessCalendar).order_by(
        BusinessCalendar.is_default.desc(), BusinessCalendar.name)))


def _require_feature(org: Organization) -> None:
    if not has_sla_feature(org):
        raise PlanLimitExceeded(upgrade_message(org), {"plan": "upgrade to edit SLA policies"})


# --- policies -------------------------------------------------------------------------------

def clean_policy(data: dict[str, Any]) -> dict[str, Any]:
    """Validated policy fields from form or JSON input. Raises ValidationFailed."""
    errors: dict[str, str] = {}
    name = " ".join(str(data.get("name") or "").split())[:100]
    if not name:
        errors["name"] = "Give the policy a name."
    cleaned: dict[str, Any] = {"name": name}
    for target in TARGETS:
        raw = data.get(f"{target}_minutes")
        if raw in (None, ""):
            cleaned[f"{target}_minutes"] = None
            continue
        try:
            minutes = int(raw)
        except (TypeError, ValueError):
            minutes = -1
        if not 1 <= minutes <= MAX_TARGET_MINUTES:
            errors[f"{target}_minutes"] = f"whole minutes from 1 to {MAX_TARGET_MINUTES}, or empty"
        cleaned[f"{target}_minutes"] = minutes
    if all(cleaned[f"{t}_minutes"] is None for t in TARGETS) and "name" not in errors:
        errors["first_reply_minutes"] = "set at least one target"
    try:
        warn = int(data.get("warn_percent", 80))
    except (TypeError, ValueError):
        warn = 0
    if not 1 <= warn <= 99:
        errors["warn_percent"] = "a percentage from 1 to 99"
    cleaned["warn_percent"] = warn
    cleaned["business_hours"] = _flag(data.get("business_hours", True))
    cleaned["is_active"] = _flag(data.get("is_active", True))
    calendar_id = data.get("calendar_id")
    if calendar_id in (None, "", 0, "0"):
        cleaned["calendar_id"] = None
    else:
        try:
            number = int(calendar_id)
            # Beyond bigint PostgreSQL would refuse the lookup itself: no such calendar either.
            calendar = db.session.get(BusinessCalendar, number) if 0 < number < 2**63 else None
        except (TypeError, ValueError):
            calendar = None
        if calendar is None:
            errors["calendar_id"] = "no such calendar"
        cleaned["calendar_id"] = calendar.id if calendar else None
    cleaned["conditions"] = _conditions(data.get("conditions") or {}, errors)
    if errors:
        raise ValidationFailed("Invalid SLA policy.", errors)
    return cleaned


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "on", "yes", "y")
    return bool(value)


def _conditions(raw: Any, errors: dict[str, str]) -> dict[str, list[str]]:
    if not isinstance(raw, dict):
        errors["conditions"] = "an object of lists"
        return {}
    allowed = {"priorities": {p.value for p in Priority}, "channels": {c.value for c in Channel}}
    result: dict[str, list[str]] = {}
    for key, values in raw.items():
        if key not in CONDITION_KEYS:
            errors[f"conditions.{key}"] = f"one of {', '.join(CONDITION_KEYS)}"
            continue
        if isinstance(values, str):
            values = values.split(",")
        if not isinstance(values, list):
            errors[f"conditions.{key}"] = "a list"
            continue
        cleaned = list(dict.fromkeys(str(v).strip().lower().lstrip("@")[:100]
                                     for v in values if str(v).strip()))
        bad = [v for v in cleaned if key in allowed and v not in allowed[key]]
        if bad:
            errors[f"conditions.{key}"] = f"unknown: {', '.join(bad)}; use " \
                                          f"{', '.join(sorted(allowed[key]))}"
        if cleaned:
            result[key] = cleaned[:50]
    return result


def create_policy(org: Organization, data: dict[str, Any]) -> SlaPolicy:
    _require_feature(org)
    fields = clean_policy(data)
    count = db.session.scalar(select(func.count(SlaPolicy.id)))
    if count >= MAX_POLICIES:
        raise ValidationFailed("Too many policies.", {"name": f"at most {MAX_POLICIES}"})
    last = db.session.scalar(select(func.max(SlaPolicy.position))) or 0
    policy = SlaPolicy(org_id=org.id, position=last + 1, **fields)
    db.session.add(policy)
    db.session.flush()
    retime(org.id)
    return policy


def update_policy(org: Organization, policy: SlaPolicy, data: dict[str, Any]) -> SlaPolicy:
    _require_feature(org)
    fields = clean_policy(data)
    if policy.is_default and not fields["is_active"]:
        # Plans without the "sla" feature fall back on it: it must stay on.
        raise ValidationFailed("The default policy stays active.",
                               {"is_active": "the default policy applies on every plan; "
                                             "change its targets instead"})
    for key, value in fields.items():
        setattr(policy, key, value)
    db.session.flush()
    retime(org.id)
    return policy


def delete_policy(org: Organization, policy: SlaPolicy) -> None:
    _require_feature(org)
    if policy.is_default:
        raise ValidationFailed("The default policy stays.",
                               {"policy": "the default policy applies on every plan; edit it "
                                          "instead"})
    db.session.delete(policy)
    db.session.flush()
    retime(org.id)


def move_policy(org: Organization, policy: SlaPolicy, direction: int) -> None:
    """Swap with the neighbour above (-1) or below (+1): first match wins."""
    _require_feature(org)
    ordered = policies()
    index = ordered.index(policy)
    other = index + (1 if direction > 0 else -1)
    if not 0 <= other < len(ordered):
        return
    ordered[index], ordered[other] = ordered[other], ordered[index]
    for position, item in enumerate(ordered):
        item.position = position
    db.session.flush()
    retime(org.id)


# --- calendars ------------------------------------------------------------------------------

def clean_calendar(data: dict[str, Any]) -> dict[str, Any]:
    """Validated calendar fields: hours as {"mon": "09:00-12:00, 13:00-17:00"} (or minute
    lists), holidays as "YYYY-MM-DD name" lines or a list. Raises ValidationFailed."""
    from helpdesk.sla.calendar import parse_spans

    errors: dict[str, str] = {}
    name = " ".join(str(data.get("name") or "").split())[:100]
    if not name:
        errors["name"] = "Give the calendar a name."
    timezone = str(data.get("timezone") or "UTC").strip()
    if timezone not in available_timezones() and timezone != "UTC":
        errors["timezone"] = "an IANA time zone such as Europe/Berlin"
    hours: dict[str, list[list[int]]] = {}
    raw_hours = data.get("hours") or {}
    if not isinstance(raw_hours, dict):
        errors["hours"] = "an object by weekday"
        raw_hours = {}
    for day in WEEKDAYS:
        value = raw_hours.get(day) or ""
        try:
            if isinstance(value, list):
                from helpdesk.sla.calendar import format_spans

                value = format_spans((int(s), int(e)) for s, e in value)
            spans = parse_spans(value)
        except (ValueError, TypeError) as error:
            errors[f"hours.{day}"] = str(error) or "write spans like 09:00-17:00"
            continue
        if spans:
            hours[day] = [list(span) for span in spans]
    if not hours and not any(k.startswith("hours") for k in errors):
        errors["hours.mon"] = "give at least one working span in the week"
    country = (str(data.get("holiday_country") or "").strip().upper() or None)
    subdiv = (str(data.get("holiday_subdiv") or "").strip().upper() or None)
    if country:
        try:
            holiday_preset(country, None)
        except NotImplementedError:
            errors["holiday_country"] = "a country the holidays package knows (ISO code)"
        else:
            try:  # an unknown region is a NotImplementedError too: tell which field is wrong
                holiday_preset(country, subdiv)
            except (NotImplementedError, ValueError):
                errors["holiday_subdiv"] = "not a region of that country"
    elif subdiv:
        errors["holiday_subdiv"] = "choose the country first"
    holidays = _holidays(data.get("custom_holidays") or [], errors)
    if errors:
        raise ValidationFailed("Invalid business calendar.", errors)
    return {"name": name, "timezone": timezone, "hours": hours, "holiday_country": country,
            "holiday_subdiv": subdiv, "custom_holidays": holidays}


def _holidays(raw: Any, errors: dict[str, str]) -> list[dict[str, str]]:
    lines = raw.splitlines() if isinstance(raw, str) else raw
    result: dict[str, dict[str, str]] = {}
    for number, item in enumerate(lines if isinstance(lines, list) else [], start=1):
        if isinstance(item, dict):
            text, name = str(item.get("date", "")), str(item.get("name", ""))
        else:
            text, _, name = str(item).strip().partition(" ")
        if not text.strip():
            continue
        try:
            day = date.fromisoformat(text.strip())
        except ValueError:
            errors["custom_holidays"] = f"line {number}: start with a date like 2026-12-24"
            continue
        result[day.isoformat()] = {"date": day.isoformat(), "name": name.strip()[:100]}
    if len(result) > MAX_HOLIDAYS:
        errors["custom_holidays"] = f"at most {MAX_HOLIDAYS} dates"
    return sorted(result.values(), key=lambda h: h["date"])


def create_calendar(org: Organization, data: dict[str, Any]) -> BusinessCalendar:
    fields = clean_calendar(data)
    if db.session.scalar(select(func.count(BusinessCalendar.id))) >= MAX_CALENDARS:
        raise ValidationFailed("Too many calendars.", {"name": f"at most {MAX_CALENDARS}"})
    _unique_name(fields["name"])
    calendar = BusinessCalendar(org_id=org.id, is_default=False, **fields)
    db.session.add(calendar)
    db.session.flush()
    forget_rules()
    return calendar


def update_calendar(org: Organization, calendar: BusinessCalendar,
                    data: dict[str, Any]) -> BusinessCalendar:
    fields = clean_calendar(data)
    _unique_name(fields["name"], calendar.id)
    for key, value in fields.items():
        setattr(calendar, key, value)
    db.session.flush()
    retime(org.id)
    return calendar


def make_default_calendar(org: Organization, calendar: BusinessCalendar) -> None:
    for other in calendars():
        other.is_default = other.id == calendar.id
    db.session.flush()
    retime(org.id)


def delete_calendar(org: Organization, calendar: BusinessCalendar) -> None:
    if calendar.is_default:
        raise ValidationFailed("The default calendar stays.",
                               {"calendar": "make another calendar the default first"})
    db.session.delete(calendar)
    db.session.flush()
    retime(org.id)


def _unique_name(name: str, own_id: int | None = None) -> None:
    clash = db.session.scalar(select(BusinessCalendar.id).where(
        func.lower(BusinessCalendar.name) == name.lower(), BusinessCalendar.id != (own_id or 0)))
    if clash is not None:
        raise ValidationFailed("Name taken.", {"name": "another calendar has this name"})


def retime(org_id: int) -> None:
    """Re-time the org's running tickets after the rules changed (a job, after commit)."""
    from helpdesk.sla.jobs import retime_org

    forget_rules()
    enqueue_after_commit(retime_org, org_id, queue="default")
