"""The `sla` object of a ticket in the API: policy, due times, pause and breaches, as the clock
stored them, with time frozen and moved. 2026-11-16 is a Monday; the seeded calendar is
Mon-Fri 09:00-17:00 UTC; Urgent: 1 h first reply, 2 h next reply, 8 h resolution; Normal (the
default policy, the only one on the starter plan): 8 h / 16 h / 48 h.
"""

from datetime import UTC, datetime

import time_machine


def at(*args):
    return time_machine.travel(datetime(*args, tzinfo=UTC), tick=False)


def sla_of(client, tenant, number=1) -> dict:
    response = client.get(f"/api/v1/tickets/{number}", headers=tenant.headers)
    assert response.status_code == 200, response.json
    return response.json["sla"]


def test_sla_object_follows_the_clock(client, api_org, new_ticket):
    tenant = api_org(plan="professional")
    with at(2026, 11, 16, 10):
        created = new_ticket(tenant, priority="urgent")
    assert created["sla"]["policy"]["name"] == "Urgent"
    with at(2026, 11, 16, 10, 30):
        sla = sla_of(client, tenant)
    assert sla == {
        "policy": {"id": sla["policy"]["id"], "name": "Urgent"},
        "first_reply_due_at": "2026-11-16T11:00:00+00:00",
        "next_reply_due_at": None,
        "resolution_due_at": "2026-11-17T10:00:00+00:00",  # 7 h on Monday, 1 h on Tuesday
        "due_at": "2026-11-16T11:00:00+00:00",  # the soonest
        "paused": False,
        "breached": [],
    }
    with at(2026, 11, 16, 11, 30):  # the first reply is overdue
        assert sla_of(client, tenant)["breached"] == ["first_reply"]
        listed = client.get("/api/v1/tickets", headers=tenant.headers).json["data"][0]
        assert listed["sla"]["breached"] == ["first_reply"]

    with at(2026, 11, 16, 12):  # answered late: the breach stays on record
        response = client.post("/api/v1/tickets/1/messages", headers=tenant.headers,
                               json={"body": "Looking into it.", "internal": False})
        assert response.status_code == 201, response.json
        sla = sla_of(client, tenant)
    assert sla["first_reply_due_at"] is None and sla["breached"] == ["first_reply"]
    assert sla["due_at"] == sla["resolution_due_at"] == "2026-11-17T10:00:00+00:00"

    with at(2026, 11, 16, 13):  # pending: the clock stops
        response = client.patch("/api/v1/tickets/1", headers=tenant.headers,
                                json={"status": "pending"})
        assert response.status_code == 200
    assert response.json["sla"]["paused"] is True
    assert response.json["sla"]["due_at"] is None
    assert response.json["sla"]["resolution_due_at"] is None

    with at(2026, 11, 16, 14):  # solved in time: only the first reply was missed
        response = client.patch("/api/v1/tickets/1", headers=tenant.headers,
                                json={"status": "solved"})
    sla = response.json["sla"]
    assert sla["paused"] is False and sla["due_at"] is None
    assert sla["breached"] == ["first_reply"] and sla["policy"]["name"] == "Urgent"


def test_next_reply_and_resolution_breaches(client, api_org, new_ticket, in_org):
    from helpdesk.tickets import services

    tenant = api_org(plan="professional")
    with at(2026, 11, 16, 10):
        new_ticket(tenant, priority="urgent")
    with at(2026, 11, 16, 10, 30):
        client.post("/api/v1/tickets/1/messages", headers=tenant.headers,
                    json={"body": "Which order?", "internal": False})
    with at(2026, 11, 16, 11), in_org(tenant.id):
        ticket = services.get_ticket(1)
        services.add_customer_message(ticket, ticket.customer, body_text="Order 12.")
    with at(2026, 11, 16, 11, 5):
        sla = sla_of(client, tenant)
    assert sla["next_reply_due_at"] == "2026-11-16T13:00:00+00:00"
    assert sla["due_at"] == "2026-11-16T13:00:00+00:00" and sla["breached"] == []
    with at(2026, 11, 17, 11):  # both the next reply (13:00) and resolution (Tue 10:00)
        assert sla_of(client, tenant)["breached"] == ["next_reply", "resolution"]


def test_starter_plan_gets_the_default_policy(client, api_org, new_ticket):
    tenant = api_org()  # starter: no "sla" feature
    with at(2026, 11, 16, 10):
        sla = new_ticket(tenant, priority="urgent")["sla"]
    assert sla["policy"]["name"] == "Normal"
    assert sla["first_reply_due_at"] == "2026-11-17T10:00:00+00:00"  # 8 business hours


def test_another_orgs_ticket_is_a_404_with_no_sla_leak(client, api_org, new_ticket):
    ours, theirs = api_org(plan="professional"), api_org(plan="professional")
    with at(2026, 11, 16, 10):
        new_ticket(ours)
        for _ in range(2):
            new_ticket(theirs, priority="urgent", subject="Their secret")
    with at(2026, 11, 16, 12):
        response = client.get("/api/v1/tickets/2", headers=ours.headers)
        assert response.status_code == 404
        assert "sla" not in response.json and "Their secret" not in response.get_data(
            as_text=True)
        assert sla_of(client, ours)["policy"]["name"] == "Normal"
        assert sla_of(client, theirs, 2)["breached"] == ["first_reply"]


def test_openapi_documents_the_sla_object(client):
    spec = client.get("/api/v1/openapi.json").json
    schema = spec["components"]["schemas"]["Sla"]
    assert set(schema["properties"]) == {"policy", "first_reply_due_at", "next_reply_due_at",
                                         "resolution_due_at", "due_at", "paused", "breached"}
    assert schema["properties"]["breached"]["items"]["enum"] == [
        "first_reply", "next_reply", "resolution"]
