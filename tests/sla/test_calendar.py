"""Business time, worked by hand: weekends, holidays, split shifts, time zones, DST, pauses."""

from datetime import UTC, date, datetime

import pytest

from helpdesk.sla.calendar import (
    ALWAYS,
    Schedule,
    due_at,
    elapsed,
    format_spans,
    parse_spans,
)

NINE_TO_FIVE = ((540, 1020),)
OFFICE = Schedule(week=(NINE_TO_FIVE,) * 5 + ((), ()))
SPLIT = Schedule(week=(((540, 720), (780, 1020)),) * 5 + ((), ()))
BERLIN = Schedule(timezone="Europe/Berlin", week=(NINE_TO_FIVE,) * 5 + ((), ()), country="DE")


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_weekend_is_skipped():
    # Fri 2026-11-20 16:00 + 2 h: one hour on Friday, the other on Monday from 09:00.
    assert OFFICE.add(utc(2026, 11, 20, 16), 120) == utc(2026, 11, 23, 10)


def test_start_outside_hours_waits_for_the_next_opening():
    assert OFFICE.add(utc(2026, 11, 21, 12), 60) == utc(2026, 11, 23, 10)  # Saturday
    assert OFFICE.add(utc(2026, 11, 24, 7), 30) == utc(2026, 11, 24, 9, 30)  # before opening
    assert OFFICE.add(utc(2026, 11, 24, 18), 30) == utc(2026, 11, 25, 9, 30)  # after closing


def test_exactly_the_rest_of_a_day_ends_at_closing():
    assert OFFICE.add(utc(2026, 11, 24, 9), 480) == utc(2026, 11, 24, 17)


def test_split_shift_skips_the_lunch_break():
    # Mon 11:30 + 60: 30 minutes to 12:00, lunch, 30 minutes from 13:00.
    assert SPLIT.add(utc(2026, 11, 23, 11, 30), 60) == utc(2026, 11, 23, 13, 30)
    assert SPLIT.minutes_between(utc(2026, 11, 23, 8), utc(2026, 11, 23, 18)) == 420


def test_public_holidays_from_the_preset_and_custom_days():
    # Christmas 2026 in Germany: Fri 25 and Sat 26 December are holidays (24th is not).
    # Thu 24 16:00 Berlin + 120 min: 60 on the 24th, Fri 25 off, weekend, Mon 28 09:00-10:00
    # Berlin, which is 09:00 UTC (CET, UTC+1).
    assert BERLIN.add(utc(2026, 12, 24, 15), 120) == utc(2026, 12, 28, 9)
    assert BERLIN.is_day_off(date(2026, 12, 25))
    custom = Schedule(week=OFFICE.week, days_off=frozenset({date(2026, 11, 23)}))
    # Fri 16:00 + 120: the custom day off (Monday) is skipped as well: Tue 10:00.
    assert custom.add(utc(2026, 11, 20, 16), 120) == utc(2026, 11, 24, 10)


def test_regional_holidays():
    bavaria = Schedule(timezone="Europe/Berlin", week=OFFICE.week, country="DE", subdiv="BY")
    # Epiphany (6 January) is a holiday in Bavaria, not in Berlin.
    assert bavaria.is_day_off(date(2027, 1, 6))
    assert not BERLIN.is_day_off(date(2027, 1, 6))


def test_timezone_hours_are_local():
    # 09:00-17:00 in Berlin is 08:00-16:00 UTC in winter.
    assert BERLIN.add(utc(2026, 11, 23, 7), 60) == utc(2026, 11, 23, 9)
    tokyo = Schedule(timezone="Asia/Tokyo", week=OFFICE.week)
    # Mon 09:00 Tokyo is Mon 00:00 UTC; Sun 23:00 UTC is Mon 08:00 in Tokyo: opens at 09:00.
    assert tokyo.add(utc(2026, 11, 22, 23), 30) == utc(2026, 11, 23, 0, 30)


def test_daylight_saving_changes_the_length_of_a_day():
    whole_days = Schedule(timezone="Europe/Berlin", week=(((0, 1440),),) * 7)
    # 25 October 2026, clocks go back: the local day has 25 hours; 29 March 2026: 23 hours.
    assert whole_days.minutes_between(utc(2026, 10, 24, 22), utc(2026, 10, 25, 23)) == 1500
    assert whole_days.minutes_between(utc(2026, 3, 28, 23), utc(2026, 3, 29, 22)) == 1380


def test_office_hours_across_the_dst_change_follow_the_wall_clock():
    # Fri 23 Oct 2026 16:00 Berlin (CEST, 14:00 UTC) + 120: one hour on Friday, then Mon 26 Oct
    # 09:00-10:00 Berlin, now CET: 09:00 UTC.
    assert BERLIN.add(utc(2026, 10, 23, 14), 120) == utc(2026, 10, 26, 9)


def test_calendar_hours_count_every_minute():
    assert ALWAYS.add(utc(2026, 11, 21, 12), 90) == utc(2026, 11, 21, 13, 30)
    assert ALWAYS.minutes_between(utc(2026, 11, 21), utc(2026, 11, 22)) == 1440


def test_a_calendar_without_hours_never_comes_due():
    assert Schedule().add(utc(2026, 11, 21), 60) is None


def test_pausing_across_a_weekend_extends_the_due_time():
    # 8 business hours from Fri 10:00; pending from Fri 12:00 to Mon 12:00. Running: Fri
    # 10-12 (120), Mon 12-17 (300), Tue 09-10 (60) = 480: due Tue 10:00.
    pauses = [(utc(2026, 11, 20, 12), utc(2026, 11, 23, 12))]
    assert due_at(OFFICE, utc(2026, 11, 20, 10), 480, pauses) == utc(2026, 11, 24, 10)
    assert due_at(OFFICE, utc(2026, 11, 20, 10), 480) == utc(2026, 11, 23, 10)
    assert elapsed(OFFICE, utc(2026, 11, 20, 10), utc(2026, 11, 23, 14), pauses) == 240


def test_still_paused_means_no_due_time_yet():
    pauses = [(utc(2026, 11, 20, 12), None)]
    assert due_at(OFFICE, utc(2026, 11, 20, 10), 480, pauses) is None
    # ... unless the target ran out before the pause began.
    assert due_at(OFFICE, utc(2026, 11, 20, 10), 60, pauses) == utc(2026, 11, 20, 11)


def test_pauses_before_the_anchor_do_not_count():
    pauses = [(utc(2026, 11, 16, 10), utc(2026, 11, 17, 10))]
    assert due_at(OFFICE, utc(2026, 11, 20, 10), 60, pauses) == utc(2026, 11, 20, 11)


@pytest.mark.parametrize("text, spans", [
    ("09:00-17:00", ((540, 1020),)),
    ("13:00-17:00, 9-12", ((540, 720), (780, 1020))),
    ("18:00-00:00", ((1080, 1440),)),
    ("", ()),
])
def test_parse_spans(text, spans):
    assert parse_spans(text) == spans


@pytest.mark.parametrize("text", ["17:00-09:00", "09:00-12:00, 11:00-13:00", "nine to five",
                                  "25:00-26:00", "09:70-10:00"])
def test_parse_spans_refuses_nonsense(text):
    with pytest.raises(ValueError):
        parse_spans(text)


def test_format_spans_round_trips():
    assert format_spans(parse_spans("09:00-12:00, 13:00-24:00")) == "09:00-12:00, 13:00-24:00"
