"""Fixtures of the desk's order pages and the ticket links (test_staff_orders.py and
test_ticket_links.py import them): a shop with a manager and an agent, cash orders placed
through the checkout, and plain snapshots of an order."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from helpdesk.orgs.models import Organization
from storefront import checkout
from storefront.models import Order, OrderEvent, OrderLine, StockLevel

ADDRESS = {"name": "Bea Buyer", "line1": "1 Main St", "postal_code": "1000", "city": "Ghent",
           "country": "BE"}
_keys = itertools.count(1)


@pytest.fixture
def staff_shop(make_org, make_member, make_product):
    """An org selling a personalised mug (12.50, 10 in stock) and a plain cap (8.00), with a
    manager and an agent."""

    def _staff_shop():
        org = make_org()
        mug = make_product(org, price=1250, stock=10, name="Engraved mug", personalization=[
            {"key": "engraving", "label": "Engraving", "type": "text", "required": False,
             "max_length": 40}])
        cap = make_product(org, price=800, stock=10, name="Cap")
        return SimpleNamespace(org=org, id=org.id, slug=org.slug, mug=mug, cap=cap,
                               manager=make_member(org, "manager"),
                               agent=make_member(org, "agent"))

    return _staff_shop


@pytest.fixture
def cash_order(in_org):
    """`cash_order(shop, email=..., mugs=2, caps=1)`: a confirmed cash order (through the
    checkout); returns its id, number, total, customer id and line ids (mug, cap)."""

    def _cash_order(shop, *, email: str = "bea@example.com", mugs: int = 2, caps: int = 1,
                    engraving: str = "For Bea"):
        items = []
        if mugs:
            items.append({"variant_id": shop.mug.variant_id, "quantity": mugs,
                          "personalization": {"engraving": engraving} if engraving else {}})
        if caps:
            items.append({"variant_id": shop.cap.variant_id, "quantity": caps})
        with in_org(shop.id) as session:
            order = checkout.submit_order(
                session.get(Organization, shop.id), email=email, name="Bea Buyer", items=items,
                payment="cash_on_delivery", shipping_address=ADDRESS,
                idempotency_key=f"staff-{next(_keys)}").order
            lines = session.scalars(select(OrderLine).where(OrderLine.order_id == order.id)
                                    .order_by(OrderLine.id)).all()
            return SimpleNamespace(id=order.id, number=order.number, total=order.total,
                                   customer_id=order.customer_id, email=email,
                                   line_ids=[line.id for line in lines])

    return _cash_order


@pytest.fixture
def order_snapshot(in_org):
    """`order_snapshot(shop, order_id)`: states, money, lines, stock and event kinds."""

    def _snapshot(shop, order_id: int) -> SimpleNamespace:
        with in_org(shop.id) as session:
            order = session.get(Order, order_id)
            stock = {variant_id: session.scalar(select(StockLevel.on_hand).where(
                StockLevel.variant_id == variant_id))
                for variant_id in (shop.mug.variant_id, shop.cap.variant_id)}
            return SimpleNamespace(
                status=order.status.value, payment=order.payment_status.value,
                fulfillment=order.fulfillment_status.value, refunded=order.refunded,
                total=order.total, stock=stock,
                refunded_lines=[line.refunded_quantity for line in session.scalars(
                    select(OrderLine).where(OrderLine.order_id == order_id)
                    .order_by(OrderLine.id))],
                events=[(e.kind, e.actor_user_id) for e in session.scalars(
                    select(OrderEvent).where(OrderEvent.order_id == order_id)
                    .order_by(OrderEvent.id))])

    return _snapshot
