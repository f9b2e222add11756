"""Customers of the current org."""

from __future__ import annotations

from sqlalchemy import select

from helpdesk.core.exceptions import Conflict
from helpdesk.customers.models import Customer
from helpdesk.extensions import db


def get_customer(customer_id: int) -> Customer | None:
    """Tenant-scoped: another org's customer id gives None."""
    return db.session.get(Customer, customer_id)


def find_customer(email: str) -> Customer | None:
    return db.session.scalar(select(Customer).where(Customer.email == email.strip().lower()))


def create_customer(*, email: str, name: str = "", company: str = "", phone: str = "") -> Customer:
    """Raises Conflict when the org already has a customer with this email."""
    email = email.strip().lower()
    if find_customer(email):
        raise Conflict("Customer exists.", {"email": f"A customer with {email} already exists."})
    customer = Customer(email=email, name=name, company=company, phone=phone)
    db.session.add(customer)
    db.session.flush()
    return customer
