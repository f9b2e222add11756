"""Fixtures for ticket tests: a ticket made through the real services."""

from types import SimpleNamespace

import pytest


@pytest.fixture
def make_ticket(in_org):
    from helpdesk.tickets import services
    from helpdesk.tickets.models import Channel

    def _make_ticket(org, *, subject="Where is my order?", body="It has not arrived yet.",
                     customer_email="buyer@example.com", channel=Channel.EMAIL, **kwargs):
        with in_org(org.id):
            customer = services.find_or_create_customer(customer_email, "Buyer")
            ticket = services.create_ticket(None, subject=subject, body_text=body,
                                            customer=customer, channel=channel, **kwargs)
            return SimpleNamespace(id=ticket.id, number=ticket.number, org_id=org.id,
                                   customer_id=customer.id)

    return _make_ticket
