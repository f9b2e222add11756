"""Another org's tickets, messages, customers and attachments are 404 through every operation,
even when the same ticket number exists in both orgs (then the caller's own one is used)."""

from sqlalchemy import select

from helpdesk.tickets.models import Message, Ticket


def test_every_operation_sees_only_the_tokens_org(client, api_org, new_ticket, attach, in_org,
                                                  make_customer):
    a, b = api_org(), api_org()
    new_ticket(a, subject="A's ticket", customer_email="shared@example.com", tags=["a-only"])
    new_ticket(b, subject="B's ticket", customer_email="shared@example.com", tags=["b-only"])
    new_ticket(b, subject="B's second", customer_email="b-only@example.com")
    b_attachment = attach(b, 1, "secret.txt", b"B's secret", "text/plain")
    b_customer = make_customer(b.org, "b-customer@example.com")

    # Ticket #1 exists in both orgs: A's token always means A's #1.
    ticket = client.get("/api/v1/tickets/1", headers=a.headers).json
    assert ticket["subject"] == "A's ticket"
    thread = client.get("/api/v1/tickets/1/messages", headers=a.headers).json["data"]
    assert [m["body_text"] for m in thread] == ["It has not arrived yet."]
    response = client.patch("/api/v1/tickets/1", headers=a.headers, json={"priority": "low"})
    assert response.json["subject"] == "A's ticket"
    response = client.post("/api/v1/tickets/1/messages", headers=a.headers,
                           json={"body": "A's note", "internal": True})
    assert response.status_code == 201

    # B's ticket #2, B's attachment and B's customers do not exist for A.
    for method, path, body in [
        ("get", "/api/v1/tickets/2", None),
        ("patch", "/api/v1/tickets/2", {"status": "solved"}),
        ("get", "/api/v1/tickets/2/messages", None),
        ("post", "/api/v1/tickets/2/messages", {"body": "hi", "internal": True}),
        ("get", f"/api/v1/attachments/{b_attachment}", None),
        ("get", f"/api/v1/customers/{b_customer.id}", None),
        ("get", "/api/v1/customers?email=b-customer@example.com", None),
    ]:
        response = getattr(client, method)(path, headers=a.headers, json=body)
        assert response.status_code == 404, (method, path)
        assert response.json["error"]["code"] == "not_found"

    listed = client.get("/api/v1/tickets", headers=a.headers).json["data"]
    assert [t["subject"] for t in listed] == ["A's ticket"]
    assert client.get(f"/api/v1/tickets?customer={b_customer.id}",
                      headers=a.headers).json["data"] == []
    assert client.get("/api/v1/tickets?customer=b-only@example.com",
                      headers=a.headers).json["data"] == []
    assert [t["name"] for t in client.get("/api/v1/tags", headers=a.headers).json["data"]] \
        == ["a-only"]
    shared = client.get("/api/v1/customers?email=shared@example.com", headers=a.headers).json
    assert [t["subject"] for t in shared["tickets"]] == ["A's ticket"]

    # B's data is untouched by everything A did.
    with in_org(b.id) as session:
        b_ticket = session.scalar(select(Ticket).where(Ticket.number == 1))
        assert b_ticket.priority.value == "normal"
        notes = session.scalars(select(Message.body_text).where(
            Message.ticket_id == b_ticket.id)).all()
        assert "A's note" not in notes
        assert session.scalar(select(Ticket).where(Ticket.number == 2)).status.value == "new"


def test_a_ticket_cannot_be_assigned_to_another_orgs_user(client, api_org, new_ticket):
    a, b = api_org(), api_org()
    new_ticket(a)
    response = client.patch("/api/v1/tickets/1", headers=a.headers,
                            json={"assignee": b.owner_id})
    assert response.status_code == 422 and "assignee" in response.json["error"]["fields"]
