"""The desk inbox over HTTP: views and counts, filters, keyset pages, bulk actions."""

import html
import re

from sqlalchemy import select

from helpdesk.tickets import inbox, services
from helpdesk.tickets.models import Channel, Priority, Status, Team, Ticket, TicketEvent


def numbers_on(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'name="tickets" value="(\d+)"', page)]


def count_of(page: str, view: str) -> int:
    return int(re.search(rf'data-testid="count-{view}">(\d+)<', page).group(1))


def link(page: str, rel: str) -> str | None:
    found = re.search(rf'href="([^"]+)" rel="{rel}"', page)
    return html.unescape(found.group(1)) if found else None


def change(in_org, org, number, actor=None, **changes):
    with in_org(org.id):
        services.update_ticket(actor, services.get_ticket(number), **changes)


def seed_views(make_org, make_ticket, in_org):
    """One ticket per view: new unassigned, mine open, pending, solved, spam."""
    org = make_org()
    new = make_ticket(org, subject="New one")
    mine = make_ticket(org, subject="Mine")
    pending = make_ticket(org, subject="Waiting")
    solved = make_ticket(org, subject="Done")
    spam = make_ticket(org, subject="Buy pills")
    change(in_org, org, mine.number, assignee_id=org.owner_id, status=Status.OPEN)
    change(in_org, org, pending.number, status=Status.PENDING)
    change(in_org, org, solved.number, status=Status.SOLVED)
    change(in_org, org, spam.number, is_spam=True)
    return org, new, mine, pending, solved, spam


def test_views_list_their_tickets_with_counts(client, make_org, make_ticket, in_org, login):
    org, new, mine, pending, solved, spam = seed_views(make_org, make_ticket, in_org)
    other = make_org()
    make_ticket(other, subject="Not ours")
    login(org.owner_email)
    expected = {
        "mine": [mine.number],
        "unassigned": [pending.number, new.number],
        "open": [pending.number, mine.number, new.number],
        "pending": [pending.number],
        "solved": [solved.number],
        "spam": [spam.number],
    }
    for view, numbers in expected.items():
        response = client.get(f"/{org.slug}/desk/tickets/?view={view}")
        page = response.get_data(as_text=True)
        assert response.status_code == 200
        assert numbers_on(page) == numbers, view  # newest activity first
        assert count_of(page, view) == len(numbers)
        assert f'aria-current="page" data-testid="view-{view}"' in page
    assert "Not ours" not in page
    # An unknown view falls back to the default one.
    page = client.get(f"/{org.slug}/desk/tickets/?view=nope").get_data(as_text=True)
    assert numbers_on(page) == expected["open"]


def test_rows_show_customer_status_priority_assignee_tags(client, make_org, make_ticket, in_org,
                                                         login):
    org = make_org()
    t = make_ticket(org, subject="Broken zipper", customer_email="ada@example.com",
                    tags=["returns"], priority=Priority.HIGH)
    change(in_org, org, t.number, assignee_id=org.owner_id)
    login(org.owner_email)
    page = client.get(f"/{org.slug}/desk/tickets/").get_data(as_text=True)
    row = page[page.index('data-testid="ticket-row"'):page.index("</tr>", page.index(
        'data-testid="ticket-row"'))]
    for text in (f"#{t.number}", "Broken zipper", "Buyer", "status-new", "priority-high",
                 "Owner", "returns", "just now"):
        assert text in row, text


def test_desk_home_greets_and_shows_my_tickets_first(client, make_org, make_ticket, in_org,
                                                     login):
    org = make_org()
    make_ticket(org, subject="Someone else's")
    login(org.owner_email)
    page = client.get(f"/{org.slug}/desk/").get_data(as_text=True)
    assert "Welcome, Owner" in page and "Someone else&#39;s" in page  # no own tickets: all open
    mine = make_ticket(org, subject="Mine")
    change(in_org, org, mine.number, assignee_id=org.owner_id)
    page = client.get(f"/{org.slug}/desk/").get_data(as_text=True)
    assert numbers_on(page) == [mine.number]


def test_filters_narrow_the_view(client, make_org, make_member, make_ticket, in_org, login):
    org = make_org()
    agent = make_member(org)
    with in_org(org.id) as session:
        team = Team(name="Billing")
        session.add(team)
        session.flush()
        team_id = team.id
    a = make_ticket(org, subject="A", tags=["refund"], priority=Priority.URGENT)
    b = make_ticket(org, subject="B", tags=["shipping"])
    c = make_ticket(org, subject="C")
    change(in_org, org, b.number, assignee_id=agent.id, team_id=team_id)
    change(in_org, org, c.number, status=Status.PENDING)
    login(org.owner_email)
    base = f"/{org.slug}/desk/tickets/?view=open"
    cases = {
        "&priority=urgent": [a.number],
        "&tag=refund": [a.number],
        "&tag=REFUND": [a.number],
        f"&assignee={agent.id}": [b.number],
        "&assignee=none": [c.number, a.number],
        "&assignee=me": [],
        f"&team={team_id}": [b.number],
        "&team=none": [c.number, a.number],
        "&status=pending": [c.number],
        "&status=pending&priority=urgent": [],
        # Values that cannot be right are ignored rather than refused.
        "&status=bogus&priority=&assignee=-1&team=x": [c.number, b.number, a.number],
    }
    for query, expected in cases.items():
        response = client.get(base + query)
        assert response.status_code == 200
        assert numbers_on(response.get_data(as_text=True)) == expected, query


def test_sorts(client, make_org, make_ticket, in_org, login):
    org = make_org()
    low = make_ticket(org, subject="low", priority=Priority.LOW)
    urgent = make_ticket(org, subject="urgent", priority=Priority.URGENT)
    normal = make_ticket(org, subject="normal")
    change(in_org, org, low.number, tags=["touched"])  # not activity: only messages count
    login(org.owner_email)
    base = f"/{org.slug}/desk/tickets/?view=open&sort="
    page = client.get(base + "priority").get_data(as_text=True)
    assert numbers_on(page) == [urgent.number, normal.number, low.number]
    page = client.get(base + "created").get_data(as_text=True)
    assert numbers_on(page) == [normal.number, urgent.number, low.number]


def test_keyset_pages_walk_forward_and_back_without_gaps(client, make_org, in_org, login):
    org = make_org()
    with in_org(org.id):
        customer = services.find_or_create_customer("many@example.com")
        for i in range(57):
            ticket = services.create_ticket(None, subject=f"Ticket {i}", body_text="hello",
                                            customer=customer, channel=Channel.EMAIL,
                                            priority=list(Priority)[i % 4])
            # Three statuses interleaved: the page is cut from one index range per status.
            services.update_ticket(None, ticket, status=list(inbox.OPEN_STATUSES)[i % 3])
    login(org.owner_email)
    first_pages = {}
    for sort in ("activity", "created", "priority"):
        url = f"/{org.slug}/desk/tickets/?view=open&sort={sort}"
        pages, seen = [], []
        while url:
            page = client.get(url).get_data(as_text=True)
            pages.append((url, numbers_on(page)))
            seen += numbers_on(page)
            url = link(page, "next")
        assert [len(p) for _, p in pages] == [25, 25, 7], sort
        assert sorted(seen) == list(range(1, 58)) and len(set(seen)) == 57
        # Back from the last page gives the middle page again, then the first.
        page = client.get(pages[2][0]).get_data(as_text=True)
        previous = client.get(link(page, "prev")).get_data(as_text=True)
        assert numbers_on(previous) == pages[1][1]
        first = client.get(link(previous, "prev")).get_data(as_text=True)
        assert numbers_on(first) == pages[0][1] and link(first, "prev") is None
        first_pages[sort] = first
    # A cursor made for another sort, or garbage, shows the first page.
    cursor = re.search(r"cursor=([\w-]+)", link(first_pages["activity"], "next")).group(1)
    for bad in (cursor, "garbage", "x" * 500, "WyJhIiwib3BlbjphY3Rpdml0eSIsIjIwMjYiLDFd"):
        response = client.get(f"/{org.slug}/desk/tickets/?view=open&sort=created&cursor={bad}")
        assert response.status_code == 200 and len(numbers_on(response.get_data(as_text=True))) \
            == 25


def test_bulk_assign_status_and_tag(client, make_org, make_member, make_ticket, in_org, login):
    org = make_org()
    agent = make_member(org)
    a, b, c = (make_ticket(org, subject=s) for s in "abc")
    login(org.owner_email)
    url = f"/{org.slug}/desk/tickets/?view=open"
    response = client.post(url, data={"tickets": [a.number, b.number], "action": "assign",
                                       "assignee": str(agent.id)})
    assert response.status_code == 303 and response.headers["Location"] == url
    response = client.post(url, data={"tickets": [a.number, c.number], "action": "status",
                                       "status": "pending"})
    assert response.status_code == 303
    response = client.post(url, data={"tickets": [b.number, c.number], "action": "tag",
                                       "tag": " VIP "})
    assert response.status_code == 303
    with in_org(org.id) as session:
        tickets = {t.number: t for t in session.scalars(select(Ticket))}
        assert tickets[a.number].assignee_id == agent.id == tickets[b.number].assignee_id
        assert tickets[c.number].assignee_id is None
        assert tickets[a.number].status is Status.PENDING is tickets[c.number].status
        assert tickets[b.number].tags == ["vip"] == tickets[c.number].tags
        kinds = session.scalars(select(TicketEvent.kind).where(
            TicketEvent.ticket_id == tickets[a.number].id)).all()
        assert "assignee" in kinds and "status" in kinds


def test_bulk_is_all_or_nothing_with_the_services_status(client, make_org, make_ticket, in_org,
                                                         login):
    org = make_org()
    a, b = make_ticket(org), make_ticket(org)
    change(in_org, org, b.number, status=Status.CLOSED)
    login(org.owner_email)
    response = client.post(f"/{org.slug}/desk/tickets/", data={
        "tickets": [a.number, b.number], "action": "status", "status": "solved"})
    assert response.status_code == 409
    assert f"#{b.number}: cannot go from closed to solved" in response.get_data(as_text=True)
    with in_org(org.id):
        assert services.get_ticket(a.number).status is Status.NEW  # rolled back
    response = client.post(f"/{org.slug}/desk/tickets/", data={"action": "status",
                                                               "status": "solved"})
    assert response.status_code == 422
    assert "Select at least one ticket." in response.get_data(as_text=True)
    response = client.post(f"/{org.slug}/desk/tickets/", data={
        "tickets": [a.number], "action": "tag", "tag": "<bad>"})
    assert response.status_code == 422


def test_bulk_merge_into_first_checked_or_chosen_target(client, make_org, make_ticket, in_org,
                                                        login):
    org = make_org()
    a, b, c, d = (make_ticket(org, subject=s) for s in "abcd")
    login(org.owner_email)
    url = f"/{org.slug}/desk/tickets/"
    response = client.post(url, data={"tickets": [c.number, a.number], "action": "merge"})
    assert response.status_code == 303
    response = client.post(url, data={"tickets": [b.number, d.number], "action": "merge",
                                       "merge_target": str(c.number)})
    assert response.status_code == 303
    with in_org(org.id) as session:
        by_number = {t.number: t for t in session.scalars(select(Ticket))}
        target = by_number[c.number]
        assert target.merged_into_id is None
        for n in (a.number, b.number, d.number):
            assert by_number[n].merged_into_id == target.id
            assert by_number[n].status is Status.CLOSED
    response = client.post(url, data={"tickets": [a.number], "action": "merge",
                                       "merge_target": "999"})
    assert response.status_code == 422 and "There is no ticket #999." in \
        response.get_data(as_text=True)


def test_bulk_on_another_orgs_ticket_number_is_404(client, make_org, make_ticket, in_org, login):
    org, other = make_org(), make_org()
    own = make_ticket(org)
    theirs = make_ticket(other)
    make_ticket(other)
    login(org.owner_email)
    response = client.post(f"/{org.slug}/desk/tickets/", data={
        "tickets": [own.number, theirs.number + 1], "action": "status", "status": "pending"})
    assert response.status_code == 404
    with in_org(org.id):
        assert services.get_ticket(own.number).status is Status.NEW
    with in_org(other.id):
        assert services.get_ticket(theirs.number + 1).status is Status.NEW
    assert client.get(f"/{other.slug}/desk/tickets/").status_code == 404


def test_counts_stop_at_the_cap_and_filters_can_empty_a_view(client, make_org, make_ticket,
                                                             in_org, login, monkeypatch):
    org = make_org()
    for _ in range(4):
        make_ticket(org)
    spam = make_ticket(org, subject="Spam")
    change(in_org, org, spam.number, is_spam=True)
    monkeypatch.setattr(inbox, "COUNT_CAP", 3)
    login(org.owner_email)
    page = client.get(f"/{org.slug}/desk/tickets/?view=spam").get_data(as_text=True)
    assert 'data-testid="count-open">2+<' in page and 'data-testid="count-spam">1<' in page
    assert numbers_on(page) == [spam.number]
    page = client.get(f"/{org.slug}/desk/tickets/?view=pending&status=open").get_data(
        as_text=True)
    assert numbers_on(page) == [] and 'data-testid="inbox-empty"' in page
    page = client.get(f"/{org.slug}/desk/tickets/?view=spam&status=new&sort=priority") \
        .get_data(as_text=True)
    assert numbers_on(page) == [spam.number]
