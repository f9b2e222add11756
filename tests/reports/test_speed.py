"""First/next reply and resolution times against the history of conftest.py, by hand.

Business minutes of the Berlin calendar (08:00-16:00 UTC on weekdays in November). Medians and
90th percentiles interpolate like PostgreSQL's percentile_cont: for n sorted values the p-th
percentile sits at position p * (n - 1).
"""

from tests.reports.test_volume import WEEK

LABELS = ["< 1 h", "1-4 h", "4-8 h", "8-24 h", "1-3 days", "> 3 days"]


def histogram(*counts):
    return [{"label": label, "count": count} for label, count in zip(LABELS, counts, strict=True)]


def test_first_and_next_replies(history, read):
    report = read(history, "first-response", **WEEK)
    # First replies sent Mon 2 - Sun 8 Nov (T3's is on a spam ticket, T7's was in October):
    # T1 30 (Ada), T2 150 (Ben), T0 420 (Ada), T8 1560 (Ben), T9 4320 (Ada).
    # Median: the 3rd of 5 = 420. p90 at 0.9 * 4 = 3.6: 1560 + 0.6 * (4320 - 1560) = 3216.
    assert report["first_reply"] == {
        "count": 5, "median_minutes": 420.0, "p90_minutes": 3216.0,
        # 30 | 150 | 420 | - | 1560 | 4320 (three business days are 1440 minutes: 4320 is
        # the first minute of "> 3 days")
        "histogram": histogram(1, 1, 1, 0, 1, 1)}
    # Next replies: Ben's answer on T1 after the customer wrote on Tuesday (09:00-12:00).
    # T0's second reply (Tue) ended nobody's wait (kind "more") and is not counted.
    assert report["next_reply"] == {"count": 1, "median_minutes": 180.0, "p90_minutes": 180.0,
                                    "histogram": histogram(0, 1, 0, 0, 0, 0)}
    # Per local day: Mon T1, T0 (median (30 + 420) / 2 = 225); Tue T2 and T1's next reply;
    # Thu T8; Fri T9; the other days are empty.
    assert [(b["period"], b["first_reply_count"], b["first_reply_median_minutes"],
             b["next_reply_count"], b["next_reply_median_minutes"]) for b in report["series"]] == [
        ("2026-11-02", 2, 225.0, 0, None), ("2026-11-03", 1, 150.0, 1, 180.0),
        ("2026-11-04", 0, None, 0, None), ("2026-11-05", 1, 1560.0, 0, None),
        ("2026-11-06", 1, 4320.0, 0, None), ("2026-11-07", 0, None, 0, None),
        ("2026-11-08", 0, None, 0, None)]


def test_reply_filters_mean_the_agent_who_replied(history, read):
    # Ada replied first on T1 (30), T0 (420) and T9 (4320), although T9 is Ben's ticket.
    report = read(history, "first-response", **WEEK, agent=history.ada.id)
    assert (report["first_reply"]["count"], report["first_reply"]["median_minutes"]) == (3, 420.0)
    # p90: 420 + 0.8 * (4320 - 420) = 3540.
    assert report["first_reply"]["p90_minutes"] == 3540.0
    assert report["next_reply"]["count"] == 0 and report["next_reply"]["median_minutes"] is None
    # Team Billing: T2 150 and T8 1560 -> median 855, p90 150 + 0.9 * 1410 = 1419.
    report = read(history, "first-response", **WEEK, team=history.billing)
    assert report["first_reply"]["median_minutes"] == 855.0
    assert report["first_reply"]["p90_minutes"] == 1419.0
    # Tag vip: T1 30, T2 150, T8 1560 first; T1's next reply 180.
    report = read(history, "first-response", **WEEK, tag="vip")
    assert report["first_reply"]["count"] == 3 and report["first_reply"]["median_minutes"] == 150
    assert report["next_reply"]["count"] == 1
    # Channel portal: T2 only.
    report = read(history, "first-response", **WEEK, channel="portal")
    assert report["first_reply"]["histogram"] == histogram(0, 1, 0, 0, 0, 0)
    # Nobody replied on an unassigned ticket... and "none" means replies without an agent.
    report = read(history, "first-response", **WEEK, agent="none")
    assert report["first_reply"]["count"] == 0 and report["first_reply"]["p90_minutes"] is None


def test_weekly_replies(history, read):
    # Week of 9 Nov: T6's first reply, Mon 08:00-08:30 after a weekend: 30.
    report = read(history, "first-response", from_="2026-11-02", to="2026-11-15",
                  interval="week")
    assert [(b["period"], b["first_reply_count"], b["first_reply_median_minutes"])
            for b in report["series"]] == [("2026-11-02", 5, 420.0), ("2026-11-09", 1, 30.0)]
    assert report["first_reply"]["count"] == 6
    # Six values 30, 30, 150, 420, 1560, 4320: median (150 + 420) / 2 = 285.
    assert report["first_reply"]["median_minutes"] == 285.0


def test_resolution_times(history, read):
    # Solved Mon 2 - Sun 8 Nov: T0 (Wed) 360 + 480 + 480 + 420 = 1740; T1 (Thu): Mon
    # 08:00-10:00 = 120, paused while solved until the customer wrote on Tue 09:00, then
    # Tue 420 + Wed 480 + Thu 60 = 1080. Median 1410, p90 1080 + 0.9 * 660 = 1674.
    report = read(history, "resolution", **WEEK)
    assert report["resolution"] == {"count": 2, "median_minutes": 1410.0, "p90_minutes": 1674.0,
                                    "histogram": histogram(0, 0, 0, 1, 1, 0)}
    assert [(b["period"], b["count"], b["median_minutes"]) for b in report["series"]] == [
        ("2026-11-02", 0, None), ("2026-11-03", 0, None), ("2026-11-04", 1, 1740.0),
        ("2026-11-05", 1, 1080.0), ("2026-11-06", 0, None), ("2026-11-07", 0, None),
        ("2026-11-08", 0, None)]
    # The agent filter is the assignee here: Ben's tickets were not solved that week...
    report = read(history, "resolution", **WEEK, agent=history.ben.id)
    assert report["resolution"]["count"] == 0 and report["resolution"]["median_minutes"] is None
    assert report["resolution"]["histogram"] == histogram(0, 0, 0, 0, 0, 0)
    # ...but T6 was, on Monday 9 Nov: Mon 08:00-12:00 = 240 (the weekend does not count).
    report = read(history, "resolution", from_="2026-11-09", to="2026-11-09",
                  agent=history.ben.id)
    assert report["resolution"]["median_minutes"] == 240.0
    # Months: October holds T7 (Fri 30 Oct 11:00-15:00 = 240), November T0, T1, T6.
    report = read(history, "resolution", from_="2026-10-01", to="2026-11-30", interval="month")
    assert [(b["period"], b["count"], b["median_minutes"]) for b in report["series"]] == [
        ("2026-10-01", 1, 240.0), ("2026-11-01", 3, 1080.0)]
