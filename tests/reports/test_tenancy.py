"""Another org's tickets are never counted (two orgs sharing tags, team names and agent names),
and the volume report reconciles with the ticket list API."""

from datetime import UTC, datetime

import time_machine
from sqlalchemy import text

from tests.reports.conftest import NOW
from tests.reports.test_volume import WEEK

# The week's local days (Berlin, UTC+1): Sun 1 Nov 23:00 UTC to Sun 8 Nov 23:00 UTC.
WEEK_START = datetime(2026, 11, 1, 23, 0, tzinfo=UTC)
WEEK_END = datetime(2026, 11, 8, 23, 0, tzinfo=UTC)


def rival_history(make_desk):
    """Org "globex", same tags, team and member names as "acme":
      B1 Mon 2 Nov 10:00 email billing+vip, its Ada; replied 11:00 (60); solved 12:00;
         the customer writes Tue 09:00: reopened, open since.
      B2 Tue 3 Nov 10:00 portal vip, its Ben; never answered.
      B3 Tue 3 Nov 11:00 email billing, marked spam at 11:30.
    """
    b = make_desk("globex")
    desk = b.desk
    desk.create("B1", "2026-11-02T10:00", team=b.support, tags=["billing", "vip"],
                assignee=b.ada.id)
    desk.reply("B1", "2026-11-02T11:00", b.ada.id)
    desk.solve("B1", "2026-11-02T12:00", b.ada.id)
    desk.customer_writes("B1", "2026-11-03T09:00")
    desk.create("B2", "2026-11-03T10:00", channel="portal", team=b.billing, tags=["vip"],
                assignee=b.ben.id)
    desk.create("B3", "2026-11-03T11:00", tags=["billing"])
    desk.update("B3", "2026-11-03T11:30", b.ben.id, is_spam=True)
    return b


def test_another_orgs_tickets_are_never_counted(history, make_desk, read):
    rival = rival_history(make_desk)
    # acme's figures are those of test_volume / test_speed / test_sla_and_agents, unchanged.
    report = read(history, "volume", **WEEK, by="tag")
    assert report["totals"] == {"created": 5, "solved": 2, "reopened": 1, "backlog": 5}
    assert report["breakdown"]["rows"][:2] == [{"value": "vip", "created": 3, "solved": 1},
                                               {"value": "billing", "created": 2, "solved": 2}]
    assert read(history, "volume", **WEEK, team=history.support)["totals"]["created"] == 1
    assert read(history, "first-response", **WEEK)["first_reply"]["count"] == 5
    assert read(history, "resolution", **WEEK)["resolution"]["count"] == 2
    sla = read(history, "sla", **WEEK)
    assert [t["achieved"] + t["breached"] for t in sla["targets"]] == [5, 1, 2]
    assert sla["open_breached"] == 4 and len(sla["breaches"]) == 5
    agents = read(history, "agents", **WEEK)["agents"]
    assert [a["agent_id"] for a in agents] == [history.ada.id, history.ben.id, history.mia.id,
                                               history.org.owner_id]
    assert agents[1]["open_load"] == 3
    # globex sees only its own: created B1 Mon, B2 Tue (B3 is spam); B1 reopened Tue, so
    # nothing is solved by now; backlog 1, 2, 2...
    report = read(rival, "volume", **WEEK, by="tag")
    assert report["totals"] == {"created": 2, "solved": 0, "reopened": 1, "backlog": 2}
    assert [b["backlog"] for b in report["series"]] == [1, 2, 2, 2, 2, 2, 2]
    assert report["breakdown"]["rows"] == [{"value": "vip", "created": 2, "solved": 0},
                                           {"value": "billing", "created": 1, "solved": 0}]
    speed = read(rival, "first-response", **WEEK)["first_reply"]
    assert (speed["count"], speed["median_minutes"]) == (1, 60.0)
    assert read(rival, "resolution", **WEEK)["resolution"]["count"] == 0
    rival_agents = read(rival, "agents", **WEEK)["agents"]
    assert [(a["agent_id"], a["replies"], a["open_load"]) for a in rival_agents[:2]] == [
        (rival.ada.id, 1, 1), (rival.ben.id, 0, 1)]
    assert read(rival, "sla", **WEEK)["breaches"] == []
    # Filters naming the other org's team or member are refused, not silently empty.
    assert read(history, "volume", expect=422, team=rival.billing)["error"]["fields"] == {
        "team": "No team of this organization has that id."}
    assert "agent" in read(rival, "agents", expect=422, agent=history.ben.id)["error"]["fields"]


def listed(client, tenant, **filters) -> list[dict]:
    """Every ticket GET /api/v1/tickets returns for the filters, following `next`."""
    tickets, cursor = [], None
    with time_machine.travel(NOW, tick=False):
        while True:
            args = {**filters, "limit": 100, **({"cursor": cursor} if cursor else {})}
            page = client.get("/api/v1/tickets", query_string=args,
                              headers=tenant.headers["owner"]).json
            tickets += page["data"]
            cursor = page["next"]
            if cursor is None:
                return tickets


def created_in_week(tickets: list[dict]) -> list[dict]:
    return [t for t in tickets
            if WEEK_START <= datetime.fromisoformat(t["created_at"]) < WEEK_END]


def test_volume_reconciles_with_the_ticket_list(history, client, read, in_org):
    ben = history.ben.id
    # Tag vip, assigned to Ben: the list has T8, T2 and T4; T4 was merged into T8 (its
    # `merged_into` says so), which reports leave out. Created in the week and not merged:
    # T8, T2 -- the report's created total.
    tickets = listed(client, history, tag="vip", assignee=ben)
    assert len(tickets) == 3
    kept = [t for t in created_in_week(tickets) if t["merged_into"] is None]
    report = read(history, "volume", **WEEK, tag="vip", agent=ben)
    assert report["totals"]["created"] == len(kept) == 2
    assert sorted(t["number"] for t in kept) == sorted(
        history.desk.numbers[label] for label in ("T8", "T2"))

    # Tag billing: the list also shows T3, which was marked spam. The list has no spam flag
    # in its JSON (and no filter for it), so this set does not match one to one: the list
    # counts 3 created in the week (T1, T3, T6), the report 2. An SQL count of the report's
    # definition settles it, and the difference is exactly the spam ticket.
    tickets = created_in_week(listed(client, history, tag="billing"))
    report = read(history, "volume", **WEEK, tag="billing")
    assert len(tickets) == 3 and report["totals"]["created"] == 2
    with in_org(history.id) as session:
        def count(condition: str) -> int:
            return session.execute(text(
                "SELECT count(*) FROM tickets WHERE tags @> ARRAY['billing']::varchar[] "
                f"AND created_at >= :start AND created_at < :end AND {condition}"),
                {"start": WEEK_START, "end": WEEK_END}).scalar()

        assert count("NOT is_spam AND merged_into_id IS NULL") == report["totals"]["created"]
        assert count("is_spam") == 1
        assert count("true") == len(tickets)
    # Per day too: the SQL count of each local day equals the bucket.
    with in_org(history.id) as session:
        by_day = dict(session.execute(text(
            "SELECT CAST(date_trunc('day', created_at AT TIME ZONE 'Europe/Berlin') AS date), "
            "count(*) FROM tickets WHERE NOT is_spam AND merged_into_id IS NULL "
            "AND created_at >= :start AND created_at < :end GROUP BY 1"),
            {"start": WEEK_START, "end": WEEK_END}).all())
    report = read(history, "volume", **WEEK)
    assert {b["period"]: b["created"] for b in report["series"] if b["created"]} == {
        day.isoformat(): n for day, n in by_day.items()}
