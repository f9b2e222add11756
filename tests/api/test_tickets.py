"""Tickets through the API: create, read, change; validation, conflicts, the workflow."""

from sqlalchemy import select

from helpdesk.tickets.models import Team, Ticket, TicketEvent


def test_create_returns_201_with_the_number_and_location(client, api_org, make_member):
    tenant = api_org()
    agent = make_member(tenant.org)
    response = client.post("/api/v1/tickets", headers=tenant.headers, json={
        "subject": "  Broken   zipper ", "body": "The zipper broke on day two.",
        "customer_email": "Ann@Example.com", "customer_name": "Ann", "priority": "high",
        "tags": ["Returns", "zipper"], "assignee": agent.id,
    })
    assert response.status_code == 201
    ticket = response.json
    assert ticket["number"] == 1 and ticket["subject"] == "Broken zipper"
    assert ticket["status"] == "new" and ticket["priority"] == "high"
    assert ticket["channel"] == "api" and ticket["tags"] == ["returns", "zipper"]
    assert ticket["customer"]["email"] == "ann@example.com"
    assert ticket["customer"]["name"] == "Ann"
    assert ticket["assignee"] == {"id": agent.id, "name": ticket["assignee"]["name"],
                                  "email": agent.email}
    assert ticket["order_id"] is None
    assert response.headers["Location"] == "/api/v1/tickets/1"
    again = client.get("/api/v1/tickets/1", headers=tenant.headers)
    assert again.status_code == 200
    assert ticket == again.json


def test_detail_has_every_documented_key(client, api_org, new_ticket):
    tenant = api_org()
    new_ticket(tenant)
    ticket = client.get("/api/v1/tickets/1", headers=tenant.headers).json
    for key in ("number", "subject", "customer", "assignee", "tags", "status", "priority",
                "channel", "custom_fields", "created_at", "updated_at", "first_response_at",
                "solved_at", "merged_into", "sla"):
        assert key in ticket, key
    assert set(ticket["customer"]) == {"id", "email", "name"}
    assert ticket["assignee"] is None and ticket["merged_into"] is None
    assert set(ticket["sla"]) == {"policy", "first_reply_due_at", "next_reply_due_at",
                                  "resolution_due_at", "due_at", "paused", "breached"}


def test_order_id_must_name_an_order_of_the_customer(client, api_org):
    # Linking to real orders: tests/store/test_ticket_links.py.
    tenant = api_org()
    for bad in (True, 1.5, {"id": 1}, "", "SO-77", 1042, 0):
        response = client.post("/api/v1/tickets", headers=tenant.headers, json={
            "subject": "s", "body": "b", "customer_email": "a@example.com", "order_id": bad})
        assert response.status_code == 422 and "order_id" in response.json["error"]["fields"]


def test_create_validates_every_field_at_once(client, api_org):
    tenant = api_org()
    response = client.post("/api/v1/tickets", headers=tenant.headers, json={
        "subject": "", "customer_email": "not-an-email", "priority": "asap",
        "tags": "one", "assignee": "7", "surprise": 1,
    })
    assert response.status_code == 422
    fields = response.json["error"]["fields"]
    assert set(fields) == {"subject", "customer_email", "priority", "tags", "assignee",
                           "surprise"}
    assert fields["surprise"] == "Unknown field."
    assert "low, normal, high, urgent" in fields["priority"]


def test_create_needs_a_body_and_a_known_assignee(client, api_org, make_org):
    tenant, other = api_org(), make_org()
    base = {"subject": "s", "customer_email": "a@example.com"}
    response = client.post("/api/v1/tickets", headers=tenant.headers, json=base)
    assert response.status_code == 422 and "body" in response.json["error"]["fields"]
    response = client.post("/api/v1/tickets", headers=tenant.headers,
                           json={**base, "body": "b", "assignee": other.owner_id})
    assert response.status_code == 422 and "assignee" in response.json["error"]["fields"]
    response = client.post("/api/v1/tickets", headers=tenant.headers,
                           json={**base, "body": "b", "tags": ["<script>"]})
    assert response.status_code == 422 and "tags" in response.json["error"]["fields"]


def test_malformed_json_is_400_and_missing_token_401(client, api_org):
    tenant = api_org()
    response = client.post("/api/v1/tickets", headers=tenant.headers, data="{oops",
                           content_type="application/json")
    assert response.status_code == 400 and response.json["error"]["code"] == "bad_request"
    response = client.patch("/api/v1/tickets/1", headers=tenant.headers, json=[1, 2])
    assert response.status_code == 400
    for method in ("get", "post"):
        response = getattr(client, method)("/api/v1/tickets", json={})
        assert response.status_code == 401 and response.json["error"]["code"] == "unauthorized"


def test_patch_changes_only_the_fields_given(client, api_org, new_ticket, make_member, in_org):
    tenant = api_org()
    agent = make_member(tenant.org)
    with in_org(tenant.id) as session:
        session.add(Team(name="Billing"))
    new_ticket(tenant, tags=["a", "b"])
    with in_org(tenant.id) as session:
        team_id = session.scalar(select(Team.id))
    response = client.patch("/api/v1/tickets/1", headers=tenant.headers, json={
        "status": "pending", "priority": "urgent", "assignee": agent.id, "team": team_id,
        "add_tags": ["c"], "remove_tags": ["a"], "subject": "New subject",
    })
    assert response.status_code == 200, response.json
    ticket = response.json
    assert (ticket["status"], ticket["priority"], ticket["subject"]) == \
        ("pending", "urgent", "New subject")
    assert ticket["assignee"]["id"] == agent.id and ticket["team"]["name"] == "Billing"
    assert ticket["tags"] == ["b", "c"]
    response = client.patch("/api/v1/tickets/1", headers=tenant.headers,
                            json={"assignee": None, "team": None, "tags": ["x"]})
    ticket = response.json
    assert ticket["assignee"] is None and ticket["team"] is None and ticket["tags"] == ["x"]
    assert ticket["status"] == "pending" and ticket["priority"] == "urgent"
    with in_org(tenant.id) as session:
        kinds = session.scalars(select(TicketEvent.kind)).all()
    assert {"status", "priority", "assignee", "team", "tags", "subject"} <= set(kinds)


def test_patch_custom_fields_are_checked_against_definitions(client, api_org, new_ticket,
                                                             in_org):
    from helpdesk.tickets.models import CustomField, CustomFieldType

    tenant = api_org()
    with in_org(tenant.id) as session:
        session.add(CustomField(key="plan", label="Plan", field_type=CustomFieldType.DROPDOWN,
                                options=["basic", "pro"]))
    new_ticket(tenant, custom_fields={"plan": "basic"})
    response = client.patch("/api/v1/tickets/1", headers=tenant.headers,
                            json={"custom_fields": {"plan": "pro"}})
    assert response.json["custom_fields"] == {"plan": "pro"}
    response = client.patch("/api/v1/tickets/1", headers=tenant.headers,
                            json={"custom_fields": {"plan": "gold", "nope": 1}})
    assert response.status_code == 422
    assert set(response.json["error"]["fields"]) == {"custom_fields.plan", "custom_fields.nope"}


def test_patch_unknown_fields_are_422_naming_them(client, api_org, new_ticket):
    tenant = api_org()
    new_ticket(tenant)
    response = client.patch("/api/v1/tickets/1", headers=tenant.headers,
                            json={"status": "open", "colour": "red", "owner": 1})
    assert response.status_code == 422
    error = response.json["error"]
    assert error["code"] == "invalid" and "colour" in error["message"]
    assert error["fields"] == {"colour": "Unknown field.", "owner": "Unknown field."}
    # Nothing was applied: the valid part of a rejected request is not half-done.
    assert client.get("/api/v1/tickets/1", headers=tenant.headers).json["status"] == "new"


def test_invalid_transition_is_409_with_the_reason(client, api_org, new_ticket):
    tenant = api_org()
    new_ticket(tenant)
    assert client.patch("/api/v1/tickets/1", headers=tenant.headers,
                        json={"status": "closed"}).status_code == 200
    response = client.patch("/api/v1/tickets/1", headers=tenant.headers,
                            json={"status": "open", "priority": "low"})
    assert response.status_code == 409
    error = response.json["error"]
    assert error["code"] == "conflict"
    assert "closed ticket cannot become open" in error["message"]
    assert error["fields"]["status"] == "cannot go from closed to open"
    ticket = client.get("/api/v1/tickets/1", headers=tenant.headers).json
    assert ticket["status"] == "closed" and ticket["priority"] == "normal"  # rolled back


def test_patch_rejects_bad_values(client, api_org, new_ticket):
    tenant = api_org()
    new_ticket(tenant)
    response = client.patch("/api/v1/tickets/1", headers=tenant.headers, json={
        "status": "done", "assignee": True, "tags": None, "subject": "", "team": 0})
    assert response.status_code == 422
    assert set(response.json["error"]["fields"]) == {"status", "assignee", "tags", "team"}
    response = client.patch("/api/v1/tickets/1", headers=tenant.headers, json={"subject": " "})
    assert response.status_code == 422 and "subject" in response.json["error"]["fields"]
    response = client.patch("/api/v1/tickets/1", headers=tenant.headers,
                            json={"assignee": 2**63})
    assert response.status_code == 422


def test_merged_ticket_shows_its_target(client, api_org, new_ticket, in_org):
    from helpdesk.tickets import merge, services

    tenant = api_org()
    new_ticket(tenant)
    new_ticket(tenant)
    with in_org(tenant.id):
        merge.merge_tickets(None, services.get_ticket(2), [services.get_ticket(1)])
    ticket = client.get("/api/v1/tickets/1", headers=tenant.headers).json
    assert ticket["merged_into"] == 2 and ticket["status"] == "closed"
    listed = client.get("/api/v1/tickets?status=closed", headers=tenant.headers).json
    assert [t["merged_into"] for t in listed["data"]] == [2]


def test_missing_ticket_is_404(client, api_org, in_org):
    tenant = api_org()
    for path in ("/api/v1/tickets/1", "/api/v1/tickets/99999999999"):
        response = client.get(path, headers=tenant.headers)
        assert response.status_code == 404 and response.json["error"]["code"] == "not_found"
    assert client.get("/api/v1/tickets/abc", headers=tenant.headers).status_code == 404
    with in_org(tenant.id) as session:
        assert session.scalar(select(Ticket.id)) is None
