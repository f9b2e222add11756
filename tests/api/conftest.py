"""API test helpers: an org with a token, and tickets made through the API itself."""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def api_org(make_org, make_token):
    """`api_org()`: a new org, its owner's token and ready request headers."""

    def _api_org(**kwargs):
        org = make_org(**kwargs)
        token = make_token(org, org.owner_id)
        return SimpleNamespace(org=org, id=org.id, owner_id=org.owner_id, token=token,
                               headers=auth(token))

    return _api_org


@pytest.fixture
def new_ticket(client):
    """`new_ticket(tenant, **fields)`: POST /api/v1/tickets, asserting 201; returns the JSON."""

    def _new_ticket(tenant, **fields):
        body = {"subject": "Where is my order?", "body": "It has not arrived yet.",
                "customer_email": "buyer@example.com", **fields}
        response = client.post("/api/v1/tickets", headers=tenant.headers, json=body)
        assert response.status_code == 201, response.json
        return response.json

    return _new_ticket


@pytest.fixture
def attach(in_org):
    """`attach(tenant, number, filename, data, content_type)`: a note carrying one file;
    returns the attachment id."""
    from helpdesk.extensions import db
    from helpdesk.tickets import services
    from helpdesk.tickets.models import Message

    def _attach(tenant, number, filename, data: bytes, content_type=None):
        with in_org(tenant.id):
            ticket = services.get_ticket(number)
            message = services.add_note(tenant.owner_id, ticket, body_text="file attached",
                                        attachments=[(filename, io.BytesIO(data), content_type)])
            db.session.flush()
            return db.session.get(Message, message.id).attachments[0].id

    return _attach
