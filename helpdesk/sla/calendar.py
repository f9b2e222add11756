"""Business time: when a number of working minutes, counted from a moment, runs out.

A schedule is a timezone, the working spans of each weekday in local wall-clock time (several
per day for split shifts) and the days off (holiday presets of the `holidays` package plus
custom dates). Spans are turned into UTC instants day by day through zoneinfo, so a span that
crosses a daylight-saving change is an hour shorter or longer, as the clock on the wall says.

Pauses (a ticket waiting on the customer) are intervals the clock does not count; `due_at`
walks the running stretches between them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays
from holidays import registry as holiday_registry

DAY_MINUTES = 24 * 60
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_DAYS = 3 * 366  # a target that does not run out within three years has no due time

Span = tuple[int, int]  # minutes after local midnight: [start, end), end <= 1440
Pause = tuple[datetime, datetime | None]  # None: still paused


@lru_cache(maxsize=256)
def holiday_preset(country: str, subdiv: str | None) -> holidays.HolidayBase:
    """The public holidays of a country (and region); years are filled in on demand."""
    return holidays.country_holidays(country, subdiv=subdiv or None)


@dataclass(frozen=True)
class Schedule:
    timezone: str = "UTC"
    week: tuple[tuple[Span, ...], ...] = ((),) * 7  # Monday first
    days_off: frozenset[date] = frozenset()
    country: str | None = None
    subdiv: str | None = None
    always_open: bool = False  # calendar hours: every minute counts
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_zone", ZoneInfo(self.timezone))

    @property
    def zone(self) -> ZoneInfo:
        return self._zone

    def is_day_off(self, day: date) -> bool:
        if day in self.days_off:
            return True
        return bool(self.country) and day in holiday_preset(self.country, self.subdiv)

    def spans_on(self, day: date) -> list[tuple[datetime, datetime]]:
        """The day's working spans as UTC instants (empty on a day off)."""
        if self.is_day_off(day):
            return []
        result = []
        for start, end in self.week[day.weekday()]:
            result.append((self._instant(day, start), self._instant(day, end)))
        return result

    def _instant(self, day: date, minute: int) -> datetime:
        if minute >= DAY_MINUTES:
            day, minute = day + timedelta(days=1), minute - DAY_MINUTES
        local = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=self._zone)
        return local.astimezone(UTC)

    def local_date(self, moment: datetime) -> date:
        return moment.astimezone(self._zone).date()

    def spans_from(self, moment: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Working spans that end after `moment`, in order (clipped to start at it)."""
        day = self.local_date(moment) - timedelta(days=1)  # a span of the eve may still run
        for _ in range(MAX_DAYS):
            for start, end in self.spans_on(day):
                if end > moment:
                    yield max(start, moment), end
            day += timedelta(days=1)

    def add(self, start: datetime, minutes: float) -> datetime | None:
        """The moment `minutes` of working time after `start`; None if it never comes."""
        if self.always_open:
            return start + timedelta(minutes=minutes)
        if minutes <= 0:
            return start
        remaining = timedelta(minutes=minutes)
        for span_start, span_end in self.spans_from(start):
            available = span_end - span_start
            if remaining <= available:
                return span_start + remaining
            remaining -= available
        return None

    def minutes_between(self, start: datetime, end: datetime) -> float:
        """Working minutes in [start, end) (0 when end is not after start)."""
        if end <= start:
            return 0.0
        if self.always_open:
            return (end - start).total_seconds() / 60
        total = timedelta()
        for span_start, span_end in self.spans_from(start):
            if span_start >= end:
                break
            total += min(span_end, end) - span_start
        return total.total_seconds() / 60


ALWAYS = Schedule(always_open=True)


def _running(anchor: datetime,
             pauses: Iterable[Pause]) -> Iterator[tuple[datetime, datetime | None]]:
    """The stretches from `anchor` on that no pause covers; the last one is open (None) unless
    the clock is paused now."""
    cursor = anchor
    for pause_start, pause_end in sorted(pauses, key=lambda p: p[0]):
        if pause_end is not None and pause_end <= cursor:
            continue
        if pause_start > cursor:
            yield cursor, pause_start
        if pause_end is None:
            return
        cursor = max(cursor, pause_end)
    yield cursor, None


def due_at(schedule: Schedule, anchor: datetime, minutes: float,
           pauses: Sequence[Pause] = ()) -> datetime | None:
    """When `minutes` of running working time after `anchor` are used up; None while paused
    before that (the due time is not known until the clock runs again)."""
    remaining = float(minutes)
    for start, end in _running(anchor, pauses):
        moment = schedule.add(start, remaining)
        if end is None or (moment is not None and moment <= end):
            return moment
        remaining -= schedule.minutes_between(start, end)
    return None


def elapsed(schedule: Schedule, anchor: datetime, until: datetime,
            pauses: Sequence[Pause] = ()) -> float:
    """Running working minutes between `anchor` and `until` (pauses left out)."""
    total = 0.0
    for start, end in _running(anchor, pauses):
        if start >= until:
            break
        total += schedule.minutes_between(start, min(end or until, until))
    return total


def parse_spans(text: str) -> tuple[Span, ...]:
    """'09:00-12:00, 13:00-17:30' into sorted minute spans. Raises ValueError with the reason."""
    spans: list[Span] = []
    for part in (p.strip() for p in text.replace(";", ",").split(",")):
        if not part:
            continue
        try:
            first, second = (s.strip() for s in part.split("-"))
            start, end = _minute(first), _minute(second)
        except ValueError as error:
            raise ValueError(f"“{part[:20]}”: write spans like 09:00-17:00") from error
        if end == 0:
            end = DAY_MINUTES  # 18:00-00:00 runs to midnight
        if end <= start:
            raise ValueError(f"“{part[:20]}”: the end must come after the start")
        spans.append((start, end))
    spans.sort()
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        if start < end:
            raise ValueError("spans overlap")
    return tuple(spans)


def _minute(text: str) -> int:
    hours, _, minutes = text.partition(":")
    value = int(hours) * 60 + int(minutes or 0)
    if not 0 <= int(hours) <= 24 or not 0 <= int(minutes or 0) < 60 or value > DAY_MINUTES:
        raise ValueError(text)
    return value % DAY_MINUTES if value == DAY_MINUTES else value


def format_spans(spans: Iterable[Span]) -> str:
    def hhmm(minute: int) -> str:
        return "24:00" if minute == DAY_MINUTES else f"{minute // 60:02d}:{minute % 60:02d}"

    return ", ".join(f"{hhmm(s)}-{hhmm(e)}" for s, e in spans)


def country_choices() -> list[tuple[str, str]]:
    """(ISO code, "Name (code)") of every country the holidays package knows, by name; the
    package's alpha-3 aliases are left out (they name the same countries again)."""
    names = {codes[1]: re.sub(r"(?<=[a-z])(?=[A-Z])", " ", codes[0])
             for codes in holiday_registry.COUNTRIES.values()}
    return sorted(((code, f"{names.get(code, code)} ({code})")
                   for code in holidays.list_supported_countries(include_aliases=False)),
                  key=lambda item: item[1])
