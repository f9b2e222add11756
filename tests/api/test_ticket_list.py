"""GET /api/v1/tickets: filters, cursor pagination, and the keyset plan on the inbox indexes."""

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text, update

from helpdesk.api.ticket_list import ticket_page_query
from helpdesk.tickets.models import Status, Ticket


def numbers(response) -> list[int]:
    assert response.status_code == 200, response.json
    return [t["number"] for t in response.json["data"]]


def test_pages_through_every_ticket_newest_first_with_a_cursor(client, api_org, new_ticket,
                                                                in_org):
    tenant = api_org()
    for _ in range(8):
        new_ticket(tenant)
    with in_org(tenant.id) as session:
        # Ties on the timestamp are broken by id, so no ticket repeats or vanishes.
        session.execute(update(Ticket).where(Ticket.number.in_([3, 4, 5, 6]))
                        .values(last_activity_at=datetime(2030, 1, 1, tzinfo=UTC)))
        session.execute(update(Ticket).where(Ticket.number == 2)
                        .values(status=Status.SOLVED))
    seen, cursor, pages = [], None, 0
    while True:
        url = "/api/v1/tickets?limit=3" + (f"&cursor={cursor}" if cursor else "")
        response = client.get(url, headers=tenant.headers)
        seen += numbers(response)
        pages += 1
        cursor = response.json["next"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == [6, 5, 4, 3, 8, 7, 2, 1]
    everything = client.get("/api/v1/tickets", headers=tenant.headers).json
    assert numbers_of(everything) == seen and everything["next"] is None


def numbers_of(page: dict) -> list[int]:
    return [t["number"] for t in page["data"]]


def test_a_new_message_moves_the_ticket_to_the_top(client, api_org, new_ticket):
    tenant = api_org()
    for _ in range(3):
        new_ticket(tenant)
    client.post("/api/v1/tickets/1/messages", headers=tenant.headers,
                json={"body": "bump", "internal": True})
    assert numbers(client.get("/api/v1/tickets", headers=tenant.headers)) == [1, 3, 2]


def test_filters(client, api_org, new_ticket, make_member, make_customer):
    tenant = api_org()
    agent = make_member(tenant.org)
    carol = make_customer(tenant.org, "carol@example.com")
    new_ticket(tenant, subject="Refund 100% please", tags=["billing"], priority="high")
    new_ticket(tenant, subject="Shipping question", assignee=agent.id)
    new_ticket(tenant, subject="refund again", customer_email="carol@example.com",
               assignee=tenant.owner_id, tags=["billing", "vip"])
    client.patch("/api/v1/tickets/2", headers=tenant.headers, json={"status": "pending"})

    def listed(query: str) -> list[int]:
        return numbers(client.get(f"/api/v1/tickets?{query}", headers=tenant.headers))

    assert listed("status=pending") == [2]
    assert listed("status=new,pending") == [3, 2, 1]
    assert listed("status=new") == [3, 1]
    assert listed("priority=high") == [1]
    assert listed("priority=normal,high") == [3, 2, 1]
    assert listed(f"assignee={agent.id}") == [2]
    assert listed("assignee=me") == [3]
    assert listed("assignee=none") == [1]
    assert listed("assignee=none&status=pending") == []
    assert listed("tag=billing") == [3, 1]
    assert listed("tag=VIP") == [3]
    assert listed(f"customer={carol.id}") == [3]
    assert listed("customer=Carol@Example.com") == [3]
    assert listed("customer=nobody@example.com") == []
    assert listed("customer=999999") == []
    assert listed("q=refund") == [3, 1]
    assert listed("q=100%25") == [1]  # % is a literal character, not a wildcard
    assert listed("q=_") == []
    assert listed("q=refund&tag=vip&assignee=me&status=new") == [3]


@pytest.mark.parametrize("query, field", [
    ("status=bogus", "status"),
    ("priority=new", "priority"),
    ("assignee=someone", "assignee"),
    ("customer=abc", "customer"),
    ("limit=0", "limit"),
    ("limit=101", "limit"),
    ("limit=ten", "limit"),
    ("cursor=garbage", "cursor"),
    ("cursor=WyJ4IiwgMV0", "cursor"),  # base64 of ["x", 1]
    ("sort=asc", "sort"),
])
def test_bad_filters_are_422_naming_the_parameter(client, api_org, query, field):
    tenant = api_org()
    response = client.get(f"/api/v1/tickets?{query}", headers=tenant.headers)
    assert response.status_code == 422
    assert field in response.json["error"]["fields"]


def plan_of(session, query) -> str:
    compiled = query.compile(dialect=session.connection().dialect,
                             compile_kwargs={"literal_binds": True})
    rows = session.execute(text(f"EXPLAIN {compiled}")).scalars().all()
    return "\n".join(rows)


def test_the_list_is_a_keyset_range_scan_of_the_inbox_indexes(api_org, make_customer, in_org,
                                                              as_system):
    """With a realistic table (20,000 tickets, analyzed) PostgreSQL's own choice is the index
    range scans, one per status, starting at the cursor, merged in order: no OFFSET, no sort."""
    tenant = api_org()
    customer = make_customer(tenant.org)
    with as_system() as session:
        session.execute(text(
            "INSERT INTO tickets (org_id, number, subject, status, priority, channel, "
            "customer_id, assignee_id, last_activity_at) "
            "SELECT :org, n, 'Subject ' || n, "
            "(ARRAY['new','open','pending','solved','closed'])[1 + n % 5], 'normal', 'api', "
            ":customer, CASE WHEN n % 3 = 0 THEN :owner END, "
            "now() - n * interval '1 minute' FROM generate_series(1, 20000) AS n"
        ), {"org": tenant.id, "customer": customer.id, "owner": tenant.owner_id})
        session.execute(text("ANALYZE tickets"))
    with in_org(tenant.id) as session:
        last = session.scalars(select(Ticket).where(Ticket.number == 500)).one()
        cursor = (last.last_activity_at, last.id)
        inbox, by_assignee = "ix_tickets_inbox", "ix_tickets_assignee"
        cases = [  # filters, the indexes the planner may pick, branches
            ({}, {inbox}, 5),
            ({"status": [Status.OPEN, Status.PENDING], "cursor": cursor}, {inbox}, 2),
            ({"assignee": "me"}, {by_assignee}, 5),
            # Most tickets are unassigned: reading the inbox index and skipping is as good.
            ({"assignee": "none", "status": [Status.NEW], "cursor": cursor},
             {inbox, by_assignee}, 1),
        ]
        for filters, indexes, branches in cases:
            plan = plan_of(session, ticket_page_query({"limit": 25, **filters}, tenant.id,
                                                      tenant.owner_id))
            scans = re.findall(r"Scan Backward using (\w+) on tickets", plan)
            assert len(scans) == branches and set(scans) <= indexes, plan
            assert "Seq Scan" not in plan and "Offset" not in plan, plan
            assert "Sort  (" not in plan, plan  # the branches merge in index order
            if "cursor" in filters:
                assert "ROW(last_activity_at, id) <" in plan.replace("tickets.", ""), plan
