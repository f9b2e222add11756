"""What every report takes (the API, the desk page and the CSV alike): a range of local days, the
bucket interval and the ticket filters. One schema; a bad value is a 422 naming its field.

Days are local days of the org's default business calendar (UTC without one): `from` and `to`
are inclusive, so the range runs from `from` 00:00 to the midnight after `to`, local time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate

from helpdesk.api.schemas import MAX_ID, Text
from helpdesk.core.exceptions import NotFound, ValidationFailed
from helpdesk.core.models import utcnow
from helpdesk.tickets.models import Channel

REPORTS = ("volume", "first-response", "resolution", "sla", "agents", "csat")
# Named in the architecture for the storefront; until it has them they are unknown reports.
LATER = ("sales", "inventory")
INTERVALS = ("day", "week", "month")
BREAKDOWNS = ("channel", "tag", "priority")
DEFAULT_DAYS = 30
MAX_DAYS = 731
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(2999, 12, 31)
CHANNELS = tuple(channel.value for channel in Channel)


class LocalDay(fields.Field):
    """A date, `2026-11-02`, read as a local day of the org."""

    def __init__(self, description: str, **kwargs: Any):
        super().__init__(metadata={"type": "string", "format": "date",
                                   "description": description}, **kwargs)

    def _deserialize(self, value: Any, attr, data, **kwargs) -> date:
        try:
            day = date.fromisoformat(str(value).strip())
        except ValueError as error:
            raise ValidationError("A date such as 2026-11-02 (YYYY-MM-DD).") from error
        if not FIRST_DAY <= day <= LAST_DAY:
            raise ValidationError(f"A date between {FIRST_DAY} and {LAST_DAY}.")
        return day


class AgentFilter(fields.Field):
    def _deserialize(self, value: Any, attr, data, **kwargs) -> int | str:
        text = str(value).strip().lower()
        if text == "none":
            return text
        if text.isdigit() and 0 < int(text) <= MAX_ID:
            return int(text)
        raise ValidationError('A user id, or "none" for unassigned tickets.')


class ReportArgs(Schema):
    """The query string of a report. Its OpenAPI parameters are generated from these fields."""

    from_ = LocalDay(data_key="from", description="First local day (default: 29 days before "
                                                  "`to`).")
    to = LocalDay(description="Last local day, included (default: today).")
    interval = fields.String(load_default="day", validate=validate.OneOf(INTERVALS),
                             metadata={"description": "Bucket size: day (default), week "
                                                      "(starting Monday) or month."})
    team = fields.Integer(strict=False, validate=validate.Range(min=1, max=MAX_ID),
                          metadata={"description": "Tickets of this team (id)."})
    agent = AgentFilter(metadata={"type": "string", "description": 'Tickets assigned to this '
                                  'user id, or "none" (unassigned). Reply figures: the agent '
                                  'who replied.'})
    tag = Text(max_length=50, metadata={"description": "Tickets carrying this tag."})
    channel = fields.String(validate=validate.OneOf(CHANNELS),
                            metadata={"description": "Tickets that came by this channel: "
                                                     + ", ".join(CHANNELS) + "."})
    by = fields.String(validate=validate.OneOf(BREAKDOWNS),
                       metadata={"description": "volume only: the breakdown, by channel "
                                                "(default), tag or priority."})


_STRICT = ReportArgs(unknown=RAISE)
_LENIENT = ReportArgs(unknown=EXCLUDE)  # a desk form: stray arguments are ignored


@dataclass(frozen=True)
class ReportParams:
    name: str
    first_day: date
    last_day: date
    interval: str
    timezone: str
    team_id: int | None = None
    agent: int | str | None = None  # a user id, "none", or None: anyone
    tag: str | None = None
    channel: str | None = None
    by: str | None = None

    @property
    def filters(self) -> dict[str, Any]:
        return {"team": self.team_id, "agent": self.agent, "tag": self.tag,
                "channel": self.channel}

    def query_args(self) -> dict[str, str]:
        """The arguments that give these parameters again (links, the CSV URL)."""
        args = {"from": self.first_day.isoformat(), "to": self.last_day.isoformat(),
                "interval": self.interval, "team": self.team_id, "agent": self.agent,
                "tag": self.tag, "channel": self.channel, "by": self.by}
        return {key: str(value) for key, value in args.items() if value is not None}


def check_name(name: str) -> str:
    """The report's name, or NotFound (404) that says which names exist."""
    if name in REPORTS:
        return name
    if name in LATER:
        raise NotFound(f"The {name} report arrives with the storefront; it does not exist yet.")
    raise NotFound(f"There is no report named “{name[:50]}”. Reports: {', '.join(REPORTS)}.")


def today_in(timezone: str) -> date:
    return utcnow().astimezone(ZoneInfo(timezone)).date()


def parse(name: str, args: Mapping[str, str], timezone: str, *,
          strict: bool = True) -> ReportParams:
    """The parameters of report `name` from a query string. Raises ValidationFailed (422) with
    the fields at fault; `strict` also refuses unknown arguments (the API)."""
    values = {key: value for key, value in args.items() if str(value).strip() != ""}
    try:
        data = (_STRICT if strict else _LENIENT).load(values)
    except ValidationError as error:
        messages = error.messages if isinstance(error.messages, dict) else {}
        fields_ = {key: " ".join(map(str, value)) if isinstance(value, list) else str(value)
                   for key, value in messages.items()}
        raise ValidationFailed(_summary(fields_), fields_) from error
    last_day = data.get("to") or today_in(timezone)
    first_day = data.get("from_") or max(last_day - timedelta(days=DEFAULT_DAYS - 1), FIRST_DAY)
    if first_day > last_day:
        raise ValidationFailed("The range ends before it starts.",
                               {"from": f"Must be on or before the end date ({last_day})."})
    if (last_day - first_day).days + 1 > MAX_DAYS:
        raise ValidationFailed("The range is too long.",
                               {"to": f"At most {MAX_DAYS} days after the start date "
                                      f"({first_day + timedelta(days=MAX_DAYS - 1)})."})
    by = data.get("by")
    if by is not None and name != "volume":
        raise ValidationFailed("Only the volume report has a breakdown.",
                               {"by": "Only the volume report takes this."})
    return ReportParams(
        name=name, first_day=first_day, last_day=last_day, interval=data["interval"],
        timezone=timezone, team_id=data.get("team"), agent=data.get("agent"),
        tag=(data.get("tag") or "").lower() or None, channel=data.get("channel"),
        by=by or ("channel" if name == "volume" else None))


def _summary(fields_: dict[str, str]) -> str:
    unknown = sorted(key for key, message in fields_.items() if message == "Unknown field.")
    if unknown:
        return f"Unknown parameter{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}."
    return "Some parameters are invalid: " + ", ".join(sorted(fields_)) + "."


def local_midnight(day: date, zone: ZoneInfo | None = None) -> datetime:
    """`day` 00:00 in `zone`, or as a naive local timestamp (for the buckets' series)."""
    return datetime(day.year, day.month, day.day, tzinfo=zone)
