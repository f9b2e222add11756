"""Shared by the SLA tests: moments in UTC, tickets opened through the real services."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from helpdesk.extensions import db
from helpdesk.tickets.models import Priority, Ticket


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def open_ticket(org_id: int, priority: Priority = Priority.NORMAL,
                email: str = "buyer@example.com", tags=()) -> Ticket:
    from helpdesk.tickets import services
    from helpdesk.tickets.models import Channel

    customer = services.find_or_create_customer(email, "Buyer")
    return services.create_ticket(None, subject="Help", body_text="Please help.",
                                  customer=customer, channel=Channel.EMAIL, priority=priority,
                                  tags=tags)


def get(number: int) -> Ticket:
    return db.session.scalar(select(Ticket).where(Ticket.number == number))
