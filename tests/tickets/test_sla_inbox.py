"""The SLA clock in the desk: time-to-breach badges, the breach sort with its keyset pages,
the "Breaching soon" view, and the SLA box on the ticket page.

Tickets are made through the services (which keep the clock) with time frozen. The seeded
defaults: calendar Mon-Fri 09:00-17:00 UTC; policies by priority (professional plan), Normal
8 h first reply / 16 h next reply / 48 h resolution, Urgent 1 h / 2 h / 8 h, High 4 h / ...,
warnings at 80%. 2026-11-16 is a Monday.
"""

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import event, select, text

from helpdesk.extensions import db
from helpdesk.tickets import inbox, services
from helpdesk.tickets.models import Channel, Priority, Status, Ticket
from tests.sla import conftest as sla_fixtures

# The SLA tests' fixtures: `pro` (an org on the professional plan), `at` (a frozen unit of work).
pro, at = sla_fixtures.pro, sla_fixtures.at


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


MONDAY = utc(2026, 11, 16, 10)


@pytest.fixture
def page_at(client, login):
    """`page_at(moment, org, url)`: the page's HTML as the org's owner sees it then."""

    def _page_at(moment, org, url):
        with time_machine.travel(moment, tick=False):
            login(org.owner_email)
            response = client.get(f"/{org.slug}/desk/tickets/{url}")
        assert response.status_code == 200
        return response.get_data(as_text=True)

    return _page_at


def open_ticket(subject="Help", priority=Priority.NORMAL, email="buyer@example.com") -> Ticket:
    customer = services.find_or_create_customer(email, "Buyer")
    return services.create_ticket(None, subject=subject, body_text="Please help.",
                                  customer=customer, channel=Channel.EMAIL, priority=priority)


def get(number) -> Ticket:
    return db.session.scalar(select(Ticket).where(Ticket.number == number))


def numbers_on(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'name="tickets" value="(\d+)"', page)]


def badges(page: str) -> dict[int, tuple | None]:
    """{ticket number: (state, text, datetime attribute, title) or None} per inbox row."""
    found = {}
    for row in page.split('data-testid="ticket-row"')[1:]:
        row = row[:row.index("</tr>")]
        number = int(re.search(r'name="tickets" value="(\d+)"', row).group(1))
        badge = re.search(r'data-sla-state="(\w+)">(?:<time datetime="([^"]+)" '
                          r'title="([^"]+)">)?([^<]+)<', row)
        found[number] = badge and (badge.group(1), html.unescape(badge.group(4)).strip(),
                                   badge.group(2), badge.group(3))
    return found


def count_of(page: str, view: str) -> int:
    return int(re.search(rf'data-testid="count-{view}">(\d+)<', page).group(1))


def link(page: str, rel: str) -> str | None:
    found = re.search(rf'href="([^"]+)" rel="{rel}"', page)
    return html.unescape(found.group(1)) if found else None


def test_badges_say_breached_at_risk_due_paused_or_nothing(pro, at, page_at):
    from helpdesk.orgs.models import Organization
    from helpdesk.sla import alerts
    from helpdesk.sla import services as sla
    from helpdesk.sla.models import SlaPolicy

    with at(MONDAY, pro) as session:
        # Without the Low policy, a low-priority ticket matches none.
        low = session.scalar(select(SlaPolicy).where(SlaPolicy.name == "Low"))
        sla.delete_policy(session.get(Organization, pro.id), low)
        urgent = open_ticket("Site down", Priority.URGENT).number  # first reply due 11:00
        normal = open_ticket("Question").number  # due Tue 10:00, warning at Mon 16:24
        waiting = open_ticket("Which size?")
        services.update_ticket(None, waiting, status=Status.PENDING)
        waiting = waiting.number
        unruled = open_ticket("No policy", Priority.LOW).number

    page = page_at(MONDAY + timedelta(minutes=30), pro, "?view=open&sort=breach")
    assert numbers_on(page) == [urgent, normal, waiting, unruled]  # no due time: last
    assert "<th scope=\"col\">Time to breach</th>" in page
    shown = badges(page)
    assert shown[urgent] == ("warning", "at risk: due in 30 min", "2026-11-16T11:00:00+00:00",
                             "2026-11-16 11:00 UTC")
    assert shown[normal] == ("ok", "due in 23 h", "2026-11-17T10:00:00+00:00",
                             "2026-11-17 10:00 UTC")
    assert shown[waiting] == ("paused", "paused", None, None)
    assert shown[unruled] is None

    shown = badges(page_at(utc(2026, 11, 16, 13), pro, "?view=open"))
    assert shown[urgent][:2] == ("breached", "breached 2 h ago")
    assert shown[normal][:2] == ("ok", "due in 21 h")
    # 80% of the 8 business hours (Mon 16:24) passed: at risk though 17 h remain.
    shown = badges(page_at(utc(2026, 11, 16, 16, 30), pro, "?view=open"))
    assert shown[normal][:2] == ("warning", "at risk: due in 17 h")
    # Once the scan announced the warning (the next check is the breach), still at risk.
    with at(utc(2026, 11, 16, 16, 30), pro):
        assert alerts.scan() >= 1
        assert "first_reply:warning" in get(normal).sla_alerts
        assert get(normal).sla_check_at == utc(2026, 11, 17, 10)
    shown = badges(page_at(utc(2026, 11, 16, 16, 45), pro, "?view=open"))
    assert shown[normal][:2] == ("warning", "at risk: due in 17 h")
    # A minute after the due time, with the text, not the colour, saying so.
    shown = badges(page_at(utc(2026, 11, 17, 10, 1), pro, "?view=open"))
    assert shown[normal][:2] == ("breached", "breached 1 min ago")


def test_no_column_when_no_ticket_on_the_page_has_a_policy(pro, at, page_at):
    with at(MONDAY, pro):
        ticket = open_ticket()
        services.update_ticket(None, ticket, status=Status.SOLVED)
    page = page_at(MONDAY, pro, "?view=solved")
    assert numbers_on(page) == [1]
    # Solved: the policy is kept but nothing runs, so no badge; the column shows anyway.
    assert badges(page)[1] is None
    with at(MONDAY, pro) as session:
        session.execute(text("UPDATE tickets SET sla_policy_id = NULL"))
    assert ">Time to breach</th>" not in page_at(MONDAY, pro, "?view=solved")


def test_breach_sort_pages_forward_and_back_with_undated_tickets_last(make_org, at, page_at):
    """57 tickets, a third of them pending (paused: no due time), due times with ties: the
    pages are 25, 25 and 7 rows in due order, then by id; the second page holds the end of
    the dated tickets and the start of the undated ones."""
    org = make_org(plan="starter")  # the default policy for every ticket
    for i in range(57):
        with at(MONDAY + timedelta(minutes=(i * 7) % 20), org):
            ticket = open_ticket(f"Ticket {i}", email=f"c{i % 5}@example.com")
            services.update_ticket(None, ticket, status=list(inbox.OPEN_STATUSES)[i % 3])
    with at(MONDAY, org) as session:
        tickets = session.scalars(select(Ticket)).unique().all()
        expected = [t.number for t in sorted(tickets, key=lambda t: (
            t.sla_due_at is None, t.sla_due_at or MONDAY, t.id))]
        undated = {t.number for t in tickets if t.sla_due_at is None}
        due_times = {t.sla_due_at for t in tickets if t.sla_due_at is not None}
    assert len(undated) == 19 and len(set(expected[:38]) & undated) == 0
    assert len(due_times) < 38  # ties, broken by id

    url, pages = "?view=open&sort=breach", []
    while url:
        page = page_at(MONDAY, org, url)
        pages.append((url, numbers_on(page)))
        url = link(page, "next")
        url = url and url[url.index("?"):]
    assert [len(numbers) for _, numbers in pages] == [25, 25, 7]
    assert [n for _, numbers in pages for n in numbers] == expected
    assert set(pages[1][1]) & undated and set(pages[1][1]) - undated
    # Back from the last page (its first row is undated), then from the middle one (dated).
    page = page_at(MONDAY, org, pages[2][0])
    previous = page_at(MONDAY, org, link(page, "prev")[link(page, "prev").index("?"):])
    assert numbers_on(previous) == pages[1][1]
    back = link(previous, "prev")
    first = page_at(MONDAY, org, back[back.index("?"):])
    assert numbers_on(first) == pages[0][1] and link(first, "prev") is None
    # A cursor of another sort, or a forged one, gives the first page.
    activity = page_at(MONDAY, org, "?view=open&sort=activity")
    cursor = re.search(r"cursor=([\w-]+)", link(activity, "next")).group(1)
    for bad in (cursor, "garbage", "WyJhIiwib3BlbjpicmVhY2g6bm9uZSIsIngiXQ"):
        assert numbers_on(page_at(MONDAY, org, f"?view=open&sort=breach&cursor={bad}")) \
            == pages[0][1]


def test_breaching_view_lists_due_within_two_hours_or_overdue(pro, make_org, at, page_at):
    other = make_org(plan="professional")
    with at(utc(2026, 11, 16, 9), other):
        open_ticket("Other org, overdue", Priority.URGENT)
    with at(utc(2026, 11, 16, 9), pro):
        overdue = open_ticket("Overdue", Priority.URGENT).number  # due 10:00
    with at(MONDAY, pro):
        urgent = open_ticket("Due 11:00", Priority.URGENT)
        services.update_ticket(None, urgent, status=Status.OPEN)
        urgent = urgent.number
        high = open_ticket("Due 14:00", Priority.HIGH).number
        open_ticket("Due tomorrow")
        paused = open_ticket("Pending", Priority.URGENT)
        services.update_ticket(None, paused, status=Status.PENDING)
        spam = open_ticket("Spam", Priority.URGENT)
        services.update_ticket(None, spam, is_spam=True)
        solved = open_ticket("Solved", Priority.URGENT)
        services.update_ticket(None, solved, status=Status.SOLVED)

    page = page_at(MONDAY + timedelta(minutes=30), pro, "?view=breaching")
    assert 'aria-current="page" data-testid="view-breaching"' in page
    assert "<span>Breaching soon</span>" in page
    assert numbers_on(page) == [overdue, urgent]  # soonest first, without asking
    assert count_of(page, "breaching") == 2
    assert re.search(r'<option value="breach" selected>Time to breach</option>', page)
    assert "Other org" not in page
    # Two hours before 14:00 the high-priority ticket joins.
    page = page_at(utc(2026, 11, 16, 12), pro, "?view=breaching")
    assert numbers_on(page) == [overdue, urgent, high] and count_of(page, "breaching") == 3
    # Another sort on request; the sidebar opens each view in its own sort.
    page = page_at(utc(2026, 11, 16, 12), pro, "?view=breaching&sort=created")
    assert numbers_on(page) == [high, urgent, overdue]
    page = page_at(utc(2026, 11, 16, 12), pro, "?view=open")
    sidebar = re.search(r'href="([^"]+)" +data-testid="view-breaching"', page).group(1)
    assert "sort=" not in sidebar and count_of(page, "breaching") == 3


def test_breach_sort_reads_the_sla_index_per_status(make_org, make_customer, at, as_system):
    """With 20,000 analyzed tickets, every branch of a breach page (due times from the cursor,
    then the undated ones) is a range scan of ix_tickets_sla_due: no sequential scan."""
    org = make_org()
    customer = make_customer(org)
    with as_system() as session:
        session.execute(text(
            "INSERT INTO tickets (org_id, number, subject, status, priority, channel, "
            "customer_id, last_activity_at, sla_due_at) "
            "SELECT :org, n, 'Subject ' || n, "
            "(ARRAY['new','open','pending','solved','closed'])[1 + n % 5], 'normal', 'api', "
            ":customer, now(), CASE WHEN n % 5 < 2 AND n % 7 > 0 "
            "THEN now() + n * interval '1 minute' END FROM generate_series(1, 20000) AS n"
        ), {"org": org.id, "customer": customer.id})
        session.execute(text("ANALYZE tickets"))
    statements = []

    def keep(conn, cursor, statement, parameters, context, executemany):
        if "sla_due_at" in statement and "ORDER BY" in statement:
            statements.append((statement, parameters))

    with at(MONDAY, org) as session:
        event.listen(db.engine, "before_cursor_execute", keep)
        try:
            first = inbox.list_tickets("open", org.owner_id, inbox.Filters(), sort="breach")
            inbox.list_tickets("open", org.owner_id, inbox.Filters(), sort="breach",
                               cursor=first.next_cursor)
        finally:
            event.remove(db.engine, "before_cursor_execute", keep)
        assert len(first.rows) == 25
        assert len(statements) == 2
        for statement, parameters in statements:
            plan = "\n".join(session.connection().exec_driver_sql(
                f"EXPLAIN {statement}", parameters).scalars())
            scans = re.findall(r"Index Scan(?: Backward)? using (\w+) on tickets", plan)
            # new, open, pending: a dated and an undated branch each.
            assert scans.count("ix_tickets_sla_due") == 6, plan
            assert "Seq Scan on tickets" not in plan and "Offset" not in plan, plan
        # The second page starts just after the cursor, inside the index range.
        assert "ROW(sla_due_at, id) >" in plan.replace("tickets.", ""), plan


def sla_states(page: str) -> dict[str, str]:
    return dict(re.findall(r'data-testid="sla-(first_reply|next_reply|resolution)" '
                           r'data-sla-state="([\w ]+)"', page))


def test_ticket_page_shows_the_policy_and_each_target(pro, make_member, at, page_at):
    agent = make_member(pro)
    with at(MONDAY, pro):
        number = open_ticket("Broken zipper").number
        quick = open_ticket("Quick one").number
    page = page_at(utc(2026, 11, 16, 11), pro, f"{number}")
    assert re.search(r'data-testid="sla-policy">Normal<', page)
    assert sla_states(page) == {"first_reply": "running", "next_reply": "not running",
                                "resolution": "running"}
    assert 'datetime="2026-11-17T10:00:00+00:00"' in page  # the first reply's due time
    assert 'datetime="2026-11-24T10:00:00+00:00"' in page  # resolution, 48 business hours
    assert sla_states(page_at(utc(2026, 11, 17, 9, 30), pro, f"{number}"))["first_reply"] \
        == "at risk"
    assert sla_states(page_at(utc(2026, 11, 17, 11), pro, f"{number}"))["first_reply"] \
        == "breached"

    with at(utc(2026, 11, 17, 11), pro, agent.id):
        services.add_reply(agent.id, get(number), body_text="On it.", send=False)
    with at(utc(2026, 11, 16, 12), pro, agent.id):
        services.add_reply(agent.id, get(quick), body_text="Done.", send=False)
    with at(utc(2026, 11, 17, 12), pro):
        ticket = get(number)
        services.add_customer_message(ticket, ticket.customer, body_text="Any news?")
    page = page_at(utc(2026, 11, 17, 12, 5), pro, f"{number}")
    assert sla_states(page) == {"first_reply": "breached", "next_reply": "running",
                                "resolution": "running"}
    assert "replied" in page
    # 16 business hours from Tue 12:00: Tue 5 h, Wed 8 h, Thu 09:00 + 3 h.
    assert 'datetime="2026-11-19T12:00:00+00:00"' in page
    assert sla_states(page_at(utc(2026, 11, 17, 12, 5), pro, f"{quick}"))["first_reply"] \
        == "met"

    with at(utc(2026, 11, 17, 13), pro):
        services.update_ticket(None, get(number), status=Status.PENDING)
    page = page_at(utc(2026, 11, 17, 14), pro, f"{number}")
    assert sla_states(page) == {"first_reply": "breached", "next_reply": "paused",
                                "resolution": "paused"}
    assert 'data-sla-state="paused">paused</span>' in page  # the badge beside the policy
    with at(utc(2026, 11, 18, 10), pro):
        services.update_ticket(None, get(number), status=Status.SOLVED)
    page = page_at(utc(2026, 11, 18, 11), pro, f"{number}")
    assert sla_states(page) == {"first_reply": "breached", "next_reply": "not running",
                                "resolution": "met"}
    assert "solved" in page


def test_ticket_page_without_a_policy_says_so(pro, at, page_at):
    with at(MONDAY, pro) as session:
        number = open_ticket().number
        session.execute(text("UPDATE tickets SET sla_policy_id = NULL"))
    page = page_at(MONDAY, pro, f"{number}")
    assert 'data-testid="sla-none"' in page and "No SLA policy applies" in page


def test_another_orgs_ticket_never_shows_in_the_breaching_view(pro, make_org, at, page_at,
                                                               client):
    other = make_org(plan="professional")
    with at(utc(2026, 11, 16, 9), other):
        for _ in range(3):
            open_ticket("Theirs", Priority.URGENT)
    with at(utc(2026, 11, 16, 9), pro):
        mine = open_ticket("Mine", Priority.URGENT).number
    page = page_at(MONDAY, pro, "?view=breaching")
    assert numbers_on(page) == [mine] and count_of(page, "breaching") == 1
    assert "Theirs" not in page
    # Their ticket #3 is no ticket of ours: its page (and SLA box) is a 404.
    with time_machine.travel(MONDAY, tick=False):
        assert client.get(f"/{pro.slug}/desk/tickets/3").status_code == 404
