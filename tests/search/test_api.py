"""GET /api/v1/search: shape, pages, filters, bad input, and another org's documents."""

from __future__ import annotations

import pytest

HOSTILE = [
    '"unbalanced', 'OR', '-', '!', '&', '|', ':*', 'a & | ! b', '"" OR -""', "x" * 10_000,
    "'; DROP TABLE tickets; --", "title:foo AND bar~2 [a TO b]", "🎉 ☃ 日本語", "nul\x00byte",
    "(((", "<script>alert(1)</script>", "\\", "%", "_", "*", "a" * 3000 + " order",
]


@pytest.fixture
def shop(api_org, new_ticket, client):
    tenant = api_org()
    first = new_ticket(tenant, subject="Blue kettle arrived broken",
                       body="The kettle spout snapped in transit.",
                       customer_email="ada@example.com")
    second = new_ticket(tenant, subject="Refund for the kettle",
                        body="Please refund order 88812 for the broken kettle.",
                        customer_email="bob@example.com")
    return tenant, first, second


def search(client, tenant, **params):
    response = client.get("/api/v1/search", headers=tenant.headers, query_string=params)
    assert response.status_code == 200, response.json
    return response.json


def test_all_types_grouped(client, shop):
    tenant, first, second = shop
    body = search(client, tenant, q="kettle")
    kinds = [hit["type"] for hit in body["data"]]
    assert kinds.count("ticket") == 2 and kinds.count("message") == 2
    assert kinds.index("ticket") < kinds.index("message")  # grouped by type
    assert body["next"] is None and body["more"] == {}
    ticket_hits = [hit for hit in body["data"] if hit["type"] == "ticket"]
    assert [hit["ticket_number"] for hit in ticket_hits] == [second["number"], first["number"]]
    assert "<mark>kettle</mark>" in ticket_hits[0]["snippet"].lower()


def test_one_type_pages_with_cursor(client, api_org, new_ticket):
    tenant = api_org()
    numbers = [new_ticket(tenant, subject=f"Parcel {n} missing")["number"] for n in range(7)]
    seen, cursor = [], None
    while True:
        params = {"q": "parcel", "type": "tickets", "limit": 3}
        if cursor:
            params["cursor"] = cursor
        body = search(client, tenant, **params)
        seen += [hit["ticket_number"] for hit in body["data"]]
        cursor = body["next"]
        if not cursor:
            break
    assert seen == sorted(numbers, reverse=True)


def test_relevance_pages_cover_every_match_once(client, api_org, new_ticket):
    tenant = api_org()
    for n in range(6):
        new_ticket(tenant, subject="invoice " * (n + 1) + f"copy {n}")
    seen, cursor = [], None
    while True:
        params = {"q": "invoice", "type": "tickets", "limit": 2, "sort": "relevance"}
        if cursor:
            params["cursor"] = cursor
        body = search(client, tenant, **params)
        seen += [(hit["score"], hit["ticket_number"]) for hit in body["data"]]
        cursor = body["next"]
        if not cursor:
            break
    assert len({number for _, number in seen}) == 6 == len(seen)
    scores = [score for score, _ in seen]
    assert scores == sorted(scores, reverse=True) and scores[0] > scores[-1]


def test_exact_ticket_number_and_address_come_first(client, shop):
    tenant, first, _ = shop
    body = search(client, tenant, q=f"#{first['number']}", type="tickets")
    assert body["data"][0]["ticket_number"] == first["number"] and body["data"][0]["exact"]
    body = search(client, tenant, q="ada@example.com", type="customers")
    assert body["data"][0]["customer_email"] == "ada@example.com" and body["data"][0]["exact"]
    assert len(body["data"]) == 1  # shown once, not again as a full-text match
    body = search(client, tenant, q="88812", type="messages")
    assert [hit["ticket_number"] for hit in body["data"]] == [shop[2]["number"]]


def test_filters(client, shop):
    tenant, first, second = shop
    client.patch(f"/api/v1/tickets/{first['number']}", headers=tenant.headers,
                 json={"status": "pending", "priority": "high", "tags": ["damaged"]})
    only = {"status": "pending"}, {"priority": "high"}, {"tag": "damaged"}
    for filters in only:
        body = search(client, tenant, q="kettle", type="tickets", **filters)
        assert [hit["ticket_number"] for hit in body["data"]] == [first["number"]], filters
        body = search(client, tenant, q="kettle", type="messages", **filters)
        assert {hit["ticket_number"] for hit in body["data"]} == {first["number"]}, filters
    body = search(client, tenant, q="kettle", type="tickets", customer=second["customer"]["id"])
    assert [hit["ticket_number"] for hit in body["data"]] == [second["number"]]
    body = search(client, tenant, q="kettle", type="tickets", to="2000-01-01")
    assert body["data"] == []
    body = search(client, tenant, q="kettle", type="tickets", **{"from": "2000-01-01"})
    assert len(body["data"]) == 2
    # Ticket filters leave customers out of "all".
    body = search(client, tenant, q="ada", status="pending")
    assert all(hit["type"] != "customer" for hit in body["data"])


def test_web_search_syntax(client, shop):
    tenant, first, second = shop
    numbers = lambda body: sorted(hit["ticket_number"] for hit in body["data"])  # noqa: E731
    assert numbers(search(client, tenant, q="kettle -refund", type="tickets")) == [first["number"]]
    assert numbers(search(client, tenant, q='"blue kettle"', type="tickets")) == [first["number"]]
    assert numbers(search(client, tenant, q='"kettle blue"', type="tickets")) == []
    assert numbers(search(client, tenant, q="blue OR refund", type="tickets")) == sorted(
        [first["number"], second["number"]])


@pytest.mark.parametrize("text", HOSTILE)
def test_any_text_is_a_search(client, shop, text):
    tenant = shop[0]
    for doc_type in ("all", "tickets", "messages", "customers", "orders"):
        for sort in ("newest", "relevance"):
            body = search(client, tenant, q=text, type=doc_type, sort=sort)
            assert isinstance(body["data"], list)


def test_bad_parameters_are_400s_not_500s(client, shop):
    tenant = shop[0]
    for params in ({"type": "orders!"}, {"status": "lost"}, {"limit": 0}, {"limit": "x"},
                   {"from": "yesterday"}, {"sort": "oldest"}, {"customer": "-1"},
                   {"cursor": "not-a-cursor", "type": "tickets"}, {"cursor": "x" * 400},
                   {"tag": "a\x00b"}, {"cursor": "\x00", "type": "tickets"}):
        response = client.get("/api/v1/search", headers=tenant.headers,
                              query_string={"q": "kettle", **params})
        assert response.status_code in (400, 422), (params, response.status_code)
        assert "error" in response.json
    response = client.get("/api/v1/search?q=kettle")
    assert response.status_code == 401


def test_another_orgs_documents_never_match(client, api_org, new_ticket):
    """Same words, ticket numbers and addresses in two orgs: each sees only its own."""
    a, b = api_org(), api_org()
    for tenant in (a, b):
        new_ticket(tenant, subject="Shared words kettle", body="shared body kettle",
                   customer_email="same@example.com")
    a_ids = {(hit["type"], hit["id"]) for hit in search(client, a, q="kettle")["data"]}
    for q in ("kettle", "#1", "1", "same@example.com", "shared words"):
        for doc_type in ("all", "tickets", "messages", "customers"):
            hits = search(client, b, q=q, type=doc_type)["data"]
            assert not a_ids & {(hit["type"], hit["id"]) for hit in hits}, (q, doc_type)
    # A cursor taken from org A's results pages org B's documents only.
    for n in range(3):
        new_ticket(a, subject=f"kettle extra {n}")
    cursor = search(client, a, q="kettle", type="tickets", limit=1)["next"]
    hits = search(client, b, q="kettle", type="tickets", cursor=cursor)["data"]
    assert not a_ids & {(hit["type"], hit["id"]) for hit in hits}


def test_documented_in_openapi(client):
    spec = client.get("/api/v1/openapi.json").json
    operation = spec["paths"]["/api/v1/search"]["get"]
    names = {parameter["name"] for parameter in operation["parameters"]}
    assert {"q", "type", "status", "priority", "assignee", "tag", "customer", "from", "to",
            "sort", "cursor", "limit"} <= names


def test_filters_alone_list_tickets(client, shop):
    """A saved view may be filters only ("urgent, unassigned"): tickets, newest first."""
    tenant, first, second = shop
    client.patch(f"/api/v1/tickets/{first['number']}", headers=tenant.headers,
                 json={"priority": "urgent"})
    body = search(client, tenant, priority="urgent")
    assert [(hit["type"], hit["ticket_number"]) for hit in body["data"]] == [
        ("ticket", first["number"])]
    body = search(client, tenant, type="tickets", sort="relevance", limit=1,
                  **{"from": "2000-01-01"})
    assert [hit["ticket_number"] for hit in body["data"]] == [second["number"]]
    body = search(client, tenant, type="tickets", limit=1, cursor=body["next"],
                  **{"from": "2000-01-01"})
    assert [hit["ticket_number"] for hit in body["data"]] == [first["number"]]
    assert search(client, tenant)["data"] == []  # nothing asked, nothing listed
    assert search(client, tenant, type="messages", priority="urgent")["data"] == []


# --- orders ----------------------------------------------------------------------------------

def test_orders_by_words_number_and_customer(client, api_org, make_shop_order):
    tenant = api_org()
    older = make_shop_order(tenant, "ada@example.com", "Ada King", [("Blue kettle", 2)])
    newer = make_shop_order(tenant, "bob@example.com", "Bob Stone",
                            [("Red kettle", 1), ("Mug", 1)], price=999)
    body = search(client, tenant, q="kettle", type="orders")
    assert [hit["order_number"] for hit in body["data"]] == [newer.number, older.number]
    hit = body["data"][0]
    assert hit | {"created_at": None, "snippet": None} == {
        "type": "order", "id": newer.id, "title": f"Order #{newer.number}",
        "order_number": newer.number, "order_status": "confirmed", "order_total": newer.total,
        "currency": "EUR", "customer_id": newer.customer_id, "customer_email": "bob@example.com",
        "ticket_number": None, "ticket_status": None, "message_kind": None, "exact": False,
        "score": None, "created_at": None, "snippet": None}
    assert "<mark>kettle</mark>" in hit["snippet"].lower()
    body = search(client, tenant, q=f"#{older.number}", type="orders")
    assert [(h["id"], h["exact"]) for h in body["data"]] == [(older.id, True)]
    body = search(client, tenant, q="kettle", type="orders", customer=older.customer_id)
    assert [h["id"] for h in body["data"]] == [older.id]
    body = search(client, tenant, q="kettle", type="orders", to="2000-01-01")
    assert body["data"] == []
    # Searching everything: the orders come after the other types, in their own group.
    body = search(client, tenant, q="kettle")
    assert [h["type"] for h in body["data"]] == ["order", "order"]
    # Ticket filters have no order field: they leave orders out of "all".
    assert search(client, tenant, q="kettle", status="open")["data"] == []
    assert len(search(client, tenant, q="kettle", type="orders", status="open")["data"]) == 2


def test_orders_of_another_org_never_match(client, api_org, make_shop_order):
    """Two orgs with the same order numbers, addresses, names and products."""
    a, b = api_org(), api_org()
    mine = {tenant.id: [make_shop_order(tenant, "same@example.com", "Same Name",
                                        [("Shared kettle", 1)]) for _ in range(2)]
            for tenant in (a, b)}
    assert [o.number for o in mine[a.id]] == [o.number for o in mine[b.id]]
    for tenant in (a, b):
        own = {o.id for o in mine[tenant.id]}
        for q in ("kettle", "shared kettle", "same@example.com", "same", f"#{mine[a.id][0].number}",
                  str(mine[a.id][1].number)):
            for doc_type in ("all", "orders"):
                hits = [h for h in search(client, tenant, q=q, type=doc_type)["data"]
                        if h["type"] == "order"]
                assert hits and {h["id"] for h in hits} <= own, (q, doc_type)
    # Another org's customer id filters to nothing, never to their orders.
    body = search(client, b, q="kettle", type="orders", customer=mine[a.id][0].customer_id)
    assert body["data"] == []
    # A cursor from org A's orders pages through org B's own only.
    cursor = search(client, a, q="kettle", type="orders", limit=1)["next"]
    hits = search(client, b, q="kettle", type="orders", cursor=cursor)["data"]
    assert {h["id"] for h in hits} <= {o.id for o in mine[b.id]}


def test_orders_documented_in_openapi(client):
    spec = client.get("/api/v1/openapi.json").json
    operation = spec["paths"]["/api/v1/search"]["get"]
    (kind,) = [p for p in operation["parameters"] if p["name"] == "type"]
    assert "orders" in kind["schema"]["enum"]
    assert "orders" in operation["summary"]
    hit = spec["components"]["schemas"]["Hit"]["properties"]
    assert {"order_number", "order_status", "order_total", "currency"} <= set(hit)
