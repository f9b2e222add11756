"""Forms of the SLA settings pages, and the words those pages use for policies and calendars.

The forms only read the input into the shape the services take (helpdesk.sla.services
clean_policy / clean_calendar judge it); `SERVICE_FIELDS` says which form field shows each of
the services' field errors.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from zoneinfo import available_timezones

import holidays
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from helpdesk.sla.calendar import WEEKDAYS, country_choices, format_spans
from helpdesk.sla.models import TARGET_LABELS, TARGETS, BusinessCalendar, SlaPolicy
from helpdesk.tickets.models import Channel, Priority

PRIORITY_LABELS = {p.value: p.value.capitalize() for p in reversed(Priority)}  # urgent first
CHANNEL_LABELS = {c.value: "API" if c is Channel.API else c.value.capitalize() for c in Channel}
WEEKDAY_NAMES = dict(zip(WEEKDAYS, ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
                                    "Saturday", "Sunday"), strict=True))
MAX_TARGET_HOURS = 365 * 24
# The services' error keys that differ from the form field showing them; others go by name.
SERVICE_FIELDS = {
    **{f"{target}_minutes": f"{target}_hours" for target in TARGETS},
    **{f"conditions.{key}": key for key in ("priorities", "channels", "tags",
                                             "customer_domains")},
    **{f"hours.{day}": day for day in WEEKDAYS},
}


def _choices(labels: dict[str, str]) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in labels.items()]


class CheckboxesField(SelectMultipleField):
    """A multi-select shown as a list of checkboxes (easier than ctrl-click in a select)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _hours_field(target: str) -> IntegerField:
    return IntegerField(f"{TARGET_LABELS[target]} hours",
                        [Optional(), NumberRange(0, MAX_TARGET_HOURS, "whole hours, 0 or more")])


def _minutes_field(target: str) -> IntegerField:
    return IntegerField(f"{TARGET_LABELS[target]} minutes",
                        [Optional(), NumberRange(0, None, "whole minutes, 0 or more")])


class PolicyForm(FlaskForm):
    name = StringField("Name")
    priorities = CheckboxesField("Priority is any of", choices=_choices(PRIORITY_LABELS))
    channels = CheckboxesField("Channel is any of", choices=_choices(CHANNEL_LABELS))
    tags = StringField("Tagged with any of", description="Tags separated by commas, e.g. "
                       "vip, billing. Empty: tags do not matter.")
    customer_domains = StringField("Customer's email domain is any of",
                                   description="Domains separated by commas, e.g. "
                                               "bigclient.com. Empty: any customer.")
    first_reply_hours = _hours_field("first_reply")
    first_reply_mins = _minutes_field("first_reply")
    next_reply_hours = _hours_field("next_reply")
    next_reply_mins = _minutes_field("next_reply")
    resolution_hours = _hours_field("resolution")
    resolution_mins = _minutes_field("resolution")
    business_hours = RadioField("Count time in", default="business", choices=_choices({
        "business": "Business hours: only the calendar's working hours count",
        "calendar": "Calendar hours: around the clock, nights, weekends and holidays too"}))
    calendar_id = SelectField("Business calendar", validate_choice=False)
    warn_percent = IntegerField("Warn at this percentage of a target", default=80,
                                description="Assignees get a warning when this much of the "
                                            "time has passed, before the breach (1-99).")
    is_active = BooleanField("Active", default=True)

    def with_calendars(self, calendars: list[BusinessCalendar]) -> PolicyForm:
        default = next((c.name for c in calendars if c.is_default), "none")
        self.calendar_id.choices = [SelectChoice("", f"The default calendar (now {default})"),
                                    *(SelectChoice(str(c.id), c.name) for c in calendars)]
        return self

    def service_data(self) -> dict[str, Any]:
        """The input as services.create_policy/update_policy take it."""
        data: dict[str, Any] = {
            "name": self.name.data, "warn_percent": self.warn_percent.data,
            "business_hours": self.business_hours.data != "calendar",
            "calendar_id": self.calendar_id.data, "is_active": self.is_active.data,
            "conditions": {"priorities": self.priorities.data or [],
                           "channels": self.channels.data or [],
                           "tags": self.tags.data or "",
                           "customer_domains": self.customer_domains.data or ""}}
        for target in TARGETS:
            hours, minutes = self[f"{target}_hours"].data, self[f"{target}_mins"].data
            data[f"{target}_minutes"] = (None if hours is None and minutes is None
                                         else (hours or 0) * 60 + (minutes or 0))
        return data


def policy_form_data(policy: SlaPolicy) -> dict[str, Any]:
    """A saved policy as PolicyForm data (the edit page's starting values)."""
    conditions = policy.conditions or {}
    data: dict[str, Any] = {
        "name": policy.name, "priorities": conditions.get("priorities", []),
        "channels": conditions.get("channels", []),
        "tags": ", ".join(conditions.get("tags", [])),
        "customer_domains": ", ".join(conditions.get("customer_domains", [])),
        "business_hours": "business" if policy.business_hours else "calendar",
        "calendar_id": str(policy.calendar_id or ""), "warn_percent": policy.warn_percent,
        "is_active": policy.is_active}
    for target in TARGETS:
        minutes = policy.target(target)
        data[f"{target}_hours"] = None if minutes is None else minutes // 60
        data[f"{target}_mins"] = None if minutes is None else minutes % 60
    return data


def policy_service_data(policy: SlaPolicy, **changes: Any) -> dict[str, Any]:
    """A saved policy as services.update_policy takes it, with `changes` applied."""
    data = {"name": policy.name, "conditions": dict(policy.conditions or {}),
            "business_hours": policy.business_hours, "calendar_id": policy.calendar_id,
            "warn_percent": policy.warn_percent, "is_active": policy.is_active}
    data.update({f"{target}_minutes": policy.target(target) for target in TARGETS})
    return {**data, **changes}


# --- calendars ------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def timezone_choices() -> tuple[SelectChoice, ...]:
    zones = sorted(z for z in available_timezones() if "/" in z and not z.startswith("Etc/"))
    return (SelectChoice("UTC"), *(SelectChoice(zone, zone.replace("_", " ")) for zone in zones))


def _day_field(day: str) -> StringField:
    return StringField(WEEKDAY_NAMES[day])


class CalendarForm(FlaskForm):
    name = StringField("Name")
    timezone = SelectField("Time zone", default="UTC", validate_choice=False,
                           description="The working hours below are wall-clock times there; "
                                       "daylight saving is followed.")
    mon, tue, wed, thu, fri, sat, sun = (_day_field(day) for day in WEEKDAYS)
    holiday_country = SelectField("Public holidays of", validate_choice=False)
    holiday_subdiv = StringField("Region (optional)")
    custom_holidays = TextAreaField(
        "Other days off", description="One per line: the date, then a name, e.g. "
                                      "“2026-12-24 Shop closed”.")

    def with_choices(self) -> CalendarForm:
        self.timezone.choices = _with_current(timezone_choices(), self.timezone.data)
        self.holiday_country.choices = _with_current(
            (SelectChoice("", "No public holidays"),
             *(SelectChoice(code, name) for code, name in country_choices())),
            self.holiday_country.data)
        return self

    def region_help(self) -> str:
        """The regions the chosen country has, so nobody has to guess the codes."""
        regions = holidays.list_supported_countries().get(self.holiday_country.data or "", [])
        if not regions:
            return "Only for countries with regional holidays; empty: the national ones."
        return (f"Empty for the national holidays, or one of: {', '.join(regions)}.")

    def service_data(self) -> dict[str, Any]:
        return {"name": self.name.data, "timezone": self.timezone.data,
                "hours": {day: self[day].data or "" for day in WEEKDAYS},
                "holiday_country": self.holiday_country.data,
                "holiday_subdiv": self.holiday_subdiv.data,
                "custom_holidays": self.custom_holidays.data or ""}


def _with_current(choices: tuple[SelectChoice, ...], current: str | None) -> list[SelectChoice]:
    """Keep a value that is not (or no longer) among the choices selectable, so editing a
    calendar never silently changes it; the service judges it on save."""
    if current and current not in {choice.value for choice in choices}:
        return [*choices, SelectChoice(current)]
    return list(choices)


def calendar_form_data(calendar: BusinessCalendar) -> dict[str, Any]:
    hours = calendar.hours or {}
    return {"name": calendar.name, "timezone": calendar.timezone,
            **{day: format_spans(tuple(span) for span in hours.get(day, [])) for day in WEEKDAYS},
            "holiday_country": calendar.holiday_country or "",
            "holiday_subdiv": calendar.holiday_subdiv or "",
            "custom_holidays": "\n".join(f"{h['date']} {h.get('name', '')}".strip()
                                         for h in calendar.custom_holidays or [])}


# --- how the list page describes them -------------------------------------------------------

def duration(minutes: int) -> str:
    """90 -> "1 h 30 min", 240 -> "4 h", 45 -> "45 min"."""
    hours, rest = divmod(minutes, 60)
    return " ".join(part for part in (f"{hours} h" if hours else "",
                                      f"{rest} min" if rest else "") if part) or "0 min"


def target_lines(policy: SlaPolicy) -> list[str]:
    """ "First reply 4 h business hours", one per target; unset targets say so."""
    kind = "business hours" if policy.business_hours else "calendar hours"
    return [f"{TARGET_LABELS[t]} {duration(policy.target(t))} {kind}"
            if policy.target(t) is not None else f"{TARGET_LABELS[t]}: no target"
            for t in TARGETS]


def condition_text(policy: SlaPolicy) -> str:
    conditions = policy.conditions or {}
    parts = []
    for key, words, labels in (("priorities", "priority is", PRIORITY_LABELS),
                               ("channels", "channel is", CHANNEL_LABELS),
                               ("tags", "tagged", {}),
                               ("customer_domains", "customer's domain is", {})):
        values = [labels.get(v, v) for v in conditions.get(key) or []]
        if values:
            parts.append(f"{words} {' or '.join(values)}")
    return ("Tickets where " + " and ".join(parts)) if parts else "Every ticket"


def week_lines(calendar: BusinessCalendar) -> list[tuple[str, str]]:
    hours = calendar.hours or {}
    return [(WEEKDAY_NAMES[day], format_spans(tuple(s) for s in hours[day])
             if hours.get(day) else "closed") for day in WEEKDAYS]


@lru_cache(maxsize=1)
def _country_names() -> dict[str, str]:
    return dict(country_choices())


def holiday_text(calendar: BusinessCalendar) -> str:
    if not calendar.holiday_country:
        return "No public holidays"
    country = _country_names().get(calendar.holiday_country, calendar.holiday_country)
    region = f", region {calendar.holiday_subdiv}" if calendar.holiday_subdiv else ""
    return f"Public holidays of {country}{region}"


DESCRIBE = {"duration": duration, "target_lines": target_lines, "condition_text": condition_text,
            "week_lines": week_lines, "holiday_text": holiday_text}
