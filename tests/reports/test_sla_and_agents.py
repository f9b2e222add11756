"""The SLA, agents and csat reports against the history of conftest.py, by hand."""

from tests.reports.test_volume import WEEK


def target(name, achieved, breached, rate):
    return {"target": name, "achieved": achieved, "breached": breached, "achieved_rate": rate}


def test_sla_targets_policies_breaches_and_open_tickets_past_due(history, read):
    report = read(history, "sla", **WEEK)
    # First replies with a target, sent in the week: met T1 (30 <= 480), T0 (420 <= 480);
    # breached T2 (urgent, 150 > 60), T8 (1560 > 480), T9 (4320 > 480) -> 2 / 5 = 0.4.
    # Next: T1 (180 <= 960). Resolution, tickets solved in the week: T0 1740 and T1 1080,
    # both within 2880.
    assert report["targets"] == [target("first_reply", 2, 3, 0.4),
                                 target("next_reply", 1, 0, 1.0),
                                 target("resolution", 2, 0, 1.0)]
    # Per policy, by name: Normal holds all but T2, which is Urgent.
    assert [(p["name"], p["targets"]) for p in report["policies"]] == [
        ("Normal", [target("first_reply", 2, 2, 0.5), target("next_reply", 1, 0, 1.0),
                    target("resolution", 2, 0, 1.0)]),
        ("Urgent", [target("first_reply", 0, 1, 0.0), target("next_reply", 0, 0, None),
                    target("resolution", 0, 0, None)]),
    ]
    # The breach scan's events in the week, newest first: Wed 07:00 T2 resolution (due Tue
    # 08:00 + 480 = 16:00) and T8 first reply (due Mon 12:00 + 480 = Tue 12:00); Tue 09:30 T2
    # first reply (due Tue 08:00 + 60) and T9 resolution (due Mon 26 Oct + 6 days of 480 =
    # Mon 2 Nov 16:00); Mon 07:00 T9 first reply (due Mon 26 Oct 16:00).
    n = history.desk.numbers
    breaches = [(b["at"], b["ticket_number"], b["target"], b["due"]) for b in report["breaches"]]
    assert [b[0] for b in breaches] == ["2026-11-04T07:00:00+00:00"] * 2 + [
        "2026-11-03T09:30:00+00:00"] * 2 + ["2026-11-02T07:00:00+00:00"]
    assert set(breaches) == {
        ("2026-11-04T07:00:00+00:00", n["T2"], "resolution", "2026-11-03T16:00:00+00:00"),
        ("2026-11-04T07:00:00+00:00", n["T8"], "first_reply", "2026-11-03T12:00:00+00:00"),
        ("2026-11-03T09:30:00+00:00", n["T2"], "first_reply", "2026-11-03T09:00:00+00:00"),
        ("2026-11-03T09:30:00+00:00", n["T9"], "resolution", "2026-11-02T16:00:00+00:00"),
        ("2026-11-02T07:00:00+00:00", n["T9"], "first_reply", "2026-10-26T16:00:00+00:00"),
    }
    first = report["breaches"][-1]
    assert first["subject"] == "Ticket T9" and first["url"] == f"/acme/desk/tickets/{n['T9']}"
    # Open now (20 Nov) and past a due time: T2 (resolution, 3 Nov), T5 (first reply, low:
    # Thu 5 Nov + 1440 = Mon 9 Nov 16:00), T8 and T9 (resolution). T6 was solved.
    assert report["open_breached"] == 4


def test_sla_filters(history, read):
    # Ben's replies: T2 (breached), T8 (breached) first, T1 next (met). Resolution counts the
    # assignee's tickets: none of Ben's was solved in the week.
    report = read(history, "sla", **WEEK, agent=history.ben.id)
    assert report["targets"] == [target("first_reply", 0, 2, 0.0),
                                 target("next_reply", 1, 0, 1.0),
                                 target("resolution", 0, 0, None)]
    # The breaches and the open count follow the assignee: T2, T8, T9 are Ben's.
    assert {b["ticket_number"] for b in report["breaches"]} == {
        history.desk.numbers[label] for label in ("T2", "T8", "T9")}
    assert report["open_breached"] == 3
    # Channel api: only T5, never answered; past due, no breach recorded in the week (the
    # scan did not run after its due time).
    report = read(history, "sla", **WEEK, channel="api")
    assert report["targets"] == [target("first_reply", 0, 0, None),
                                 target("next_reply", 0, 0, None),
                                 target("resolution", 0, 0, None)]
    assert report["policies"] == [] and report["breaches"] == []
    assert report["open_breached"] == 1
    # Team Support, tag billing: T0 and T1 (T3 is spam).
    report = read(history, "sla", **WEEK, team=history.support, tag="billing")
    assert report["targets"][0] == target("first_reply", 2, 0, 1.0)
    assert report["breaches"] == [] and report["open_breached"] == 0


def test_agents(history, read):
    report = read(history, "agents", **WEEK)
    ada, ben, mia = history.ada.id, history.ben.id, history.mia.id
    assert report["agents"] == [
        # Ada: solved T0, T1 (her tickets); replies T1, T0, T0 again ("more"), T9 = 4; first
        # replies 30, 420, 4320 -> 420; resolutions 1740, 1080 -> 1410; nothing open of hers.
        {"agent_id": ada, "name": "Ada Agent", "tickets_solved": 2, "replies": 4,
         "first_reply_median_minutes": 420.0, "resolution_median_minutes": 1410.0,
         "open_load": 0},
        # Ben: T6 was solved on the 9th; replies T2, T1 (next), T8 = 3 (T3 is spam); first
        # replies 150, 1560 -> 855; open now: T2, T8, T9.
        {"agent_id": ben, "name": "Ben Agent", "tickets_solved": 0, "replies": 3,
         "first_reply_median_minutes": 855.0, "resolution_median_minutes": None,
         "open_load": 3},
        {"agent_id": mia, "name": "Mia Manager", "tickets_solved": 0, "replies": 0,
         "first_reply_median_minutes": None, "resolution_median_minutes": None,
         "open_load": 0},
        {"agent_id": history.org.owner_id, "name": report["agents"][3]["name"],
         "tickets_solved": 0, "replies": 0, "first_reply_median_minutes": None,
         "resolution_median_minutes": None, "open_load": 0},
    ]
    assert report["agents"][3]["name"].startswith("Owner")
    # One member; the ticket filters still apply: Ben on the Billing team drops T1's next
    # reply (Support) and T9 (Support) from the open load.
    report = read(history, "agents", **WEEK, agent=ben, team=history.billing)
    assert report["agents"] == [
        {"agent_id": ben, "name": "Ben Agent", "tickets_solved": 0, "replies": 2,
         "first_reply_median_minutes": 855.0, "resolution_median_minutes": None,
         "open_load": 2}]
    # "none" names no member.
    assert read(history, "agents", **WEEK, agent="none")["agents"] == []
    # The week after: Ben solved T6 (240) and replied once (30).
    report = read(history, "agents", from_="2026-11-09", to="2026-11-15", agent=ben)
    assert report["agents"][0] | {"open_load": None} == {
        "agent_id": ben, "name": "Ben Agent", "tickets_solved": 1, "replies": 1,
        "first_reply_median_minutes": 30.0, "resolution_median_minutes": 240.0,
        "open_load": None}


def test_csat_is_an_empty_state_in_the_same_envelope(history, read):
    report = read(history, "csat", **WEEK, tag="vip")
    assert report == {
        "report": "csat", "from": "2026-11-02", "to": "2026-11-08", "interval": "day",
        "timezone": "Europe/Berlin",
        "filters": {"team": None, "agent": None, "tag": "vip", "channel": None},
        "available": False,
        "message": "Satisfaction surveys arrive with the customer portal; this report fills "
                   "in then."}
