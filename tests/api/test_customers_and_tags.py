"""Customers with their tickets, found by id or email; the org's tags with counts."""

from sqlalchemy import update

from helpdesk.tickets.models import Ticket


def test_customer_by_email_and_id_lists_their_tickets_newest_first(client, api_org, new_ticket):
    tenant = api_org()
    new_ticket(tenant, subject="First", customer_email="dana@example.com", customer_name="Dana")
    new_ticket(tenant, subject="Someone else's")
    new_ticket(tenant, subject="Second", customer_email="dana@example.com")
    client.patch("/api/v1/tickets/1", headers=tenant.headers, json={"status": "solved"})
    response = client.get("/api/v1/customers?email=DANA@example.com", headers=tenant.headers)
    assert response.status_code == 200
    customer = response.json
    assert customer["email"] == "dana@example.com" and customer["name"] == "Dana"
    assert [(t["number"], t["subject"], t["status"]) for t in customer["tickets"]] == \
        [(3, "Second", "new"), (1, "First", "solved")]
    assert all("updated_at" in t for t in customer["tickets"])
    assert customer["orders"] == []
    by_id = client.get(f"/api/v1/customers/{customer['id']}", headers=tenant.headers)
    assert by_id.status_code == 200 and by_id.json == customer


def test_customer_lookup_errors(client, api_org):
    tenant = api_org()
    response = client.get("/api/v1/customers?email=nobody@example.com", headers=tenant.headers)
    assert response.status_code == 404 and response.json["error"]["code"] == "not_found"
    for query in ("", "?email=", "?email=not-an-email", "?email=a@example.com&name=x"):
        response = client.get(f"/api/v1/customers{query}", headers=tenant.headers)
        assert response.status_code == 422, query
    assert client.get("/api/v1/customers?email=a@example.com").status_code == 401


def test_created_customer_has_no_tickets_yet(client, api_org):
    tenant = api_org()
    response = client.post("/api/v1/customers", headers=tenant.headers,
                           json={"email": "new@example.com", "company": "Acme"})
    assert response.status_code == 201
    assert response.json["tickets"] == [] and response.json["orders"] == []
    assert response.json["company"] == "Acme"
    response = client.post("/api/v1/customers", headers=tenant.headers,
                           json={"email": "new@example.com", "vip": True})
    assert response.status_code == 422 and response.json["error"]["fields"] == {
        "vip": "Unknown field."}


def test_tags_with_counts_most_used_first(client, api_org, new_ticket, in_org):
    tenant = api_org()
    assert client.get("/api/v1/tags", headers=tenant.headers).json == {"data": [], "next": None}
    new_ticket(tenant, tags=["billing", "vip"])
    new_ticket(tenant, tags=["billing"])
    new_ticket(tenant, tags=["shipping", "billing"])
    new_ticket(tenant)
    with in_org(tenant.id) as session:
        session.execute(update(Ticket).where(Ticket.number == 4).values(tags=["vip"]))
    response = client.get("/api/v1/tags", headers=tenant.headers)
    assert response.status_code == 200
    assert response.json["data"] == [
        {"name": "billing", "count": 3}, {"name": "vip", "count": 2},
        {"name": "shipping", "count": 1},
    ]
    assert client.get("/api/v1/tags").status_code == 401
