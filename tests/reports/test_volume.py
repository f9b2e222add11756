"""The volume report against the history of conftest.py, counted by hand.

Local days are Berlin days (UTC+1 in November): T2, created Mon 2 Nov 23:30 UTC, belongs to
Tuesday 3 Nov. T3 (spam) and T4 (merged into T8) are never counted.
"""

WEEK = {"from_": "2026-11-02", "to": "2026-11-08"}
DAYS = ["2026-11-02", "2026-11-03", "2026-11-04", "2026-11-05", "2026-11-06", "2026-11-07",
        "2026-11-08"]


def column(report, key):
    return [bucket[key] for bucket in report["series"]]


def test_days_are_local_and_every_bucket_is_listed(history, read):
    report = read(history, "volume", **WEEK)
    assert report["from"] == "2026-11-02" and report["to"] == "2026-11-08"
    assert report["interval"] == "day" and report["timezone"] == "Europe/Berlin"
    assert column(report, "period") == DAYS
    # created: Mon T1 (08:30 local), T8; Tue T2 (00:30 local); Wed only T3 (spam) and T4
    # (merged): 0; Thu T5; Sat T6. Fri and Sun nothing (zero buckets).
    assert column(report, "created") == [2, 1, 0, 1, 0, 1, 0]
    # solved, by the current solved_at: T0 Wed; T1 Thu (its Monday solve was undone by the
    # reopen on Tuesday).
    assert column(report, "solved") == [0, 0, 1, 1, 0, 0, 0]
    # reopened: T1's solved -> open on Tuesday.
    assert column(report, "reopened") == [0, 1, 0, 0, 0, 0, 0]
    # backlog: open at the start T9, T0 (T7 was solved in October) = 2;
    # Mon +T1 +T8 = 4 (T1 counts: its solved_at is Thursday now); Tue +T2 = 5; Wed -T0 = 4;
    # Thu +T5 -T1 = 4; Fri 4; Sat +T6 = 5; Sun 5.
    assert column(report, "backlog") == [4, 5, 4, 4, 4, 5, 5]
    assert report["totals"] == {"created": 5, "solved": 2, "reopened": 1, "backlog": 5}
    assert report["filters"] == {"team": None, "agent": None, "tag": None, "channel": None}


def test_breakdowns_by_channel_tag_and_priority(history, read):
    # Created in the range: T1 email, T8 phone, T2 portal, T5 api, T6 email;
    # solved in it: T0 email, T1 email.
    report = read(history, "volume", **WEEK)
    assert report["breakdown"] == {"by": "channel", "rows": [
        {"value": "email", "created": 2, "solved": 2},
        {"value": "api", "created": 1, "solved": 0},
        {"value": "phone", "created": 1, "solved": 0},
        {"value": "portal", "created": 1, "solved": 0},
    ]}
    # Tags: T1 billing+vip (created and solved), T8 vip, T2 vip, T5 none, T6 billing;
    # T0 billing (solved). A ticket with two tags counts for each.
    report = read(history, "volume", **WEEK, by="tag")
    assert report["breakdown"] == {"by": "tag", "rows": [
        {"value": "vip", "created": 3, "solved": 1},
        {"value": "billing", "created": 2, "solved": 2},
        {"value": None, "created": 1, "solved": 0},
    ]}
    # Priorities: T1, T8 normal; T2 urgent; T5 low; T6 high; solved T0, T1 normal.
    report = read(history, "volume", **WEEK, by="priority")
    assert report["breakdown"]["rows"] == [
        {"value": "normal", "created": 2, "solved": 2},
        {"value": "high", "created": 1, "solved": 0},
        {"value": "low", "created": 1, "solved": 0},
        {"value": "urgent", "created": 1, "solved": 0},
    ]


def test_weeks_start_monday_and_months_are_calendar_months(history, read):
    # Weeks of 2 and 9 November. Week 1 as the days above; week 2: T6 solved Mon 9 Nov,
    # nothing created -> backlog 5 - 1 = 4 (T9, T2, T5, T8).
    report = read(history, "volume", from_="2026-11-02", to="2026-11-15", interval="week")
    assert report["series"] == [
        {"period": "2026-11-02", "created": 5, "solved": 2, "reopened": 1, "backlog": 5},
        {"period": "2026-11-09", "created": 0, "solved": 1, "reopened": 0, "backlog": 4},
    ]
    # A range starting on a Wednesday still buckets by the week's Monday, counting only the
    # days in the range: Wed 4 - Sun 8 Nov: created T5, T6; solved T0, T1; backlog at the
    # start (Wed 00:00) T9, T0, T1, T8, T2 = 5, at the end 5 + 2 - 2 = 5.
    report = read(history, "volume", from_="2026-11-04", to="2026-11-08", interval="week")
    assert report["series"] == [
        {"period": "2026-11-02", "created": 2, "solved": 2, "reopened": 0, "backlog": 5}]
    # Months from Mon 26 Oct: October holds T9 (26th), T0, T7 (30th) created, T7 solved,
    # backlog T9, T0 = 2; November (to the 15th): created 5, solved T0, T1, T6, reopened T1,
    # backlog 2 + 5 - 3 = 4.
    report = read(history, "volume", from_="2026-10-26", to="2026-11-15", interval="month")
    assert report["series"] == [
        {"period": "2026-10-01", "created": 3, "solved": 1, "reopened": 0, "backlog": 2},
        {"period": "2026-11-01", "created": 5, "solved": 3, "reopened": 1, "backlog": 4},
    ]


def test_filters_by_team_agent_tag_and_channel(history, read):
    # Team Support: T9, T0, T7, T1 (T3 is spam). Created T1 Mon; solved T0 Wed, T1 Thu;
    # reopened T1 Tue; backlog T9, T0 at the start, +T1 = 3, Wed -T0 = 2, Thu -T1 = 1.
    report = read(history, "volume", **WEEK, team=history.support)
    assert column(report, "created") == [1, 0, 0, 0, 0, 0, 0]
    assert column(report, "solved") == [0, 0, 1, 1, 0, 0, 0]
    assert column(report, "reopened") == [0, 1, 0, 0, 0, 0, 0]
    assert column(report, "backlog") == [3, 3, 2, 1, 1, 1, 1]
    assert report["filters"]["team"] == history.support
    # Assigned to Ada: T0, T7, T1 -> like Support without T9.
    report = read(history, "volume", **WEEK, agent=history.ada.id)
    assert column(report, "backlog") == [2, 2, 1, 0, 0, 0, 0]
    assert report["totals"] == {"created": 1, "solved": 2, "reopened": 1, "backlog": 0}
    # Unassigned: T5 only (T2 was given to Ben on Tuesday).
    report = read(history, "volume", **WEEK, agent="none")
    assert column(report, "created") == [0, 0, 0, 1, 0, 0, 0]
    assert report["totals"] == {"created": 1, "solved": 0, "reopened": 0, "backlog": 1}
    assert report["filters"]["agent"] == "none"
    # Tag vip: T1, T8, T2 (T4 is merged). Created Mon 2, Tue 1; T1 solved Thu, reopened Tue.
    report = read(history, "volume", **WEEK, tag="VIP")
    assert column(report, "created") == [2, 1, 0, 0, 0, 0, 0]
    assert column(report, "backlog") == [2, 3, 3, 2, 2, 2, 2]
    assert report["totals"]["reopened"] == 1 and report["filters"]["tag"] == "vip"
    # Channel email: T9, T0, T7, T1, T6 (T3 spam). Created T1 Mon, T6 Sat; solved T0, T1;
    # backlog 2, 3, 3, 2, 1, 1, 2, 2.
    report = read(history, "volume", **WEEK, channel="email")
    assert column(report, "created") == [1, 0, 0, 0, 0, 1, 0]
    assert column(report, "backlog") == [3, 3, 2, 1, 1, 2, 2]
    # Filters combine: Billing team and tag billing -> only T6.
    report = read(history, "volume", **WEEK, team=history.billing, tag="billing")
    assert report["totals"] == {"created": 1, "solved": 0, "reopened": 0, "backlog": 1}
    assert report["breakdown"]["rows"] == [{"value": "email", "created": 1, "solved": 0}]


def test_a_range_without_tickets_is_all_zero_buckets(history, read):
    # Before the first ticket (26 Oct): three empty days, nothing in the backlog.
    report = read(history, "volume", from_="2026-10-20", to="2026-10-22")
    assert report["series"] == [
        {"period": day, "created": 0, "solved": 0, "reopened": 0, "backlog": 0}
        for day in ("2026-10-20", "2026-10-21", "2026-10-22")]
    assert report["breakdown"]["rows"] == []
    # After the last change, the backlog stays at what is open now: T9, T2, T5, T8.
    report = read(history, "volume", from_="2026-11-16", to="2026-11-17")
    assert column(report, "backlog") == [4, 4] and column(report, "created") == [0, 0]


def test_backlog_of_tickets_that_outlast_the_range_and_days_across_dst(history, read):
    # Mon 2 - Tue 3 Nov: T0 (created 30 Oct, solved Wed 4 Nov) was open before, during and
    # after the range; T9 still is. Start 2, Mon +T1 +T8 = 4, Tue +T2 = 5.
    report = read(history, "volume", from_="2026-11-02", to="2026-11-03")
    assert column(report, "backlog") == [4, 5]
    # Only the Support team's: T9, T0 before; +T1 Monday.
    assert column(read(history, "volume", from_="2026-11-02", to="2026-11-03",
                       team=history.support), "backlog") == [3, 3]
    # Berlin leaves summer time on Sun 25 Oct (that day has 25 hours); T9 was created on Mon
    # 26 Oct 09:00 local (08:00 UTC).
    report = read(history, "volume", from_="2026-10-24", to="2026-10-26")
    assert [(b["period"], b["created"], b["backlog"]) for b in report["series"]] == [
        ("2026-10-24", 0, 0), ("2026-10-25", 0, 0), ("2026-10-26", 1, 1)]
