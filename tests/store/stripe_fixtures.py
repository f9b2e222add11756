"""Fixtures of the Stripe tests (tests/store/conftest.py imports them): a shop with stock and a
connected account on localstripe, card orders placed through the checkout, signed webhooks, and
a snapshot of what an order and its stock look like afterwards."""

from __future__ import annotations

import itertools
import json
import secrets
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from helpdesk.mail.models import Outbox, OutboxKind
from helpdesk.orgs.models import Organization
from storefront.models import (
    MovementKind,
    Order,
    OrderEvent,
    OrderLine,
    Payment,
    Product,
    StockLevel,
    StripeEvent,
    Variant,
)
from tests.stripe_server import WEBHOOK_SECRET, localstripe, sign, stripe_keys  # noqa: F401

_numbers = itertools.count(1)


@pytest.fixture
def card_shop(make_org, in_org, stripe_keys):  # noqa: F811 - the fixture imported above
    """`card_shop(plan=..., account=True, stock=5, price=2500)`: an org selling a mug in two
    colours, with its Stripe account connected (and known to localstripe) unless account=False."""
    from storefront import inventory

    def _card_shop(*, plan: str = "starter", account: bool = True, stock: int = 5,
                   price: int = 2500):
        org = make_org(plan=plan)
        account_id = f"acct_{secrets.token_hex(8)}" if account else None
        if account_id:
            stripe_keys.server.register_account(account_id)
        with in_org(org.id) as session:
            session.get(Organization, org.id).stripe_account_id = account_id
            product = Product(name="Enamel mug", slug="enamel-mug", price=price)
            session.add(product)
            session.flush()
            variant_ids = []
            for position, colour in enumerate(("red", "blue")):
                variant = Variant(product_id=product.id, sku=f"MUG-{colour.upper()}",
                                  options={"colour": colour}, position=position)
                session.add(variant)
                session.flush()
                inventory.adjust(variant.id, stock, MovementKind.RECEIPT, "first delivery")
                variant_ids.append(variant.id)
        return SimpleNamespace(org=org, account=account_id, variant_ids=variant_ids, price=price,
                               server=stripe_keys.server)

    return _card_shop


@pytest.fixture
def place_card_order(in_org):
    """`place_card_order(shop, quantities=(2, 1))`: a card order through the checkout; returns
    its id, number, PaymentIntent id, client secret, total and idempotency key."""
    from storefront import checkout

    def _place(shop, quantities=(2, 1), *, email: str | None = None, key: str | None = None):
        items = [{"variant_id": variant_id, "quantity": quantity}
                 for variant_id, quantity in zip(shop.variant_ids, quantities, strict=False)
                 if quantity]
        with in_org(shop.org.id) as session:
            org = session.get(Organization, shop.org.id)
            placement = checkout.submit_order(
                org, email=email or f"buyer{next(_numbers)}@example.com", name="Bea Buyer",
                items=items, payment="stripe", idempotency_key=key or secrets.token_hex(12))
            order = placement.order
            return SimpleNamespace(id=order.id, number=order.number,
                                   intent_id=order.stripe_payment_intent_id,
                                   client_secret=placement.client_secret, total=order.total,
                                   key=order.idempotency_key, customer_id=order.customer_id,
                                   application_fee=order.application_fee)

    return _place


@pytest.fixture
def send_event(client):
    """POST an event to /webhooks/stripe, signed with the webhook secret (or `signature`)."""

    def _send(event: dict | str | bytes, *, secret: str = WEBHOOK_SECRET,
              signature: str | None = None):
        payload = event if isinstance(event, str | bytes) else json.dumps(event)
        header = sign(payload, secret) if signature is None else signature
        return client.post("/webhooks/stripe", data=payload,
                           headers={"Stripe-Signature": header,
                                    "Content-Type": "application/json"})

    return _send


@pytest.fixture
def stripe_event(localstripe):  # noqa: F811 - the fixture imported above
    """`stripe_event(type, object_id, account)`: the event localstripe made for that object, as
    Stripe sends it for a connected account (with `account`, which localstripe leaves out)."""

    def _event(event_type: str, object_id: str, account: str | None) -> dict:
        event = localstripe.event_for(event_type, object_id)
        if account:
            event["account"] = account
        return event

    return _event


@pytest.fixture
def order_state(in_org, as_system):
    """`order_state(shop, order_id)`: the order, its lines, payments, timeline, mail and the
    mug's stock, as plain values."""

    def _state(shop, order_id: int) -> SimpleNamespace:
        with in_org(shop.org.id) as session:
            order = session.get(Order, order_id)
            stock = {variant_id: tuple(session.execute(
                select(StockLevel.on_hand, StockLevel.reserved)
                .where(StockLevel.variant_id == variant_id)).one())
                for variant_id in shop.variant_ids}
            state = SimpleNamespace(
                status=order.status.value, payment_status=order.payment_status.value,
                refunded=order.refunded, total=order.total,
                application_fee=order.application_fee, intent_id=order.stripe_payment_intent_id,
                stock=stock,
                lines={line.variant_id: (line.quantity, line.refunded_quantity, line.id)
                       for line in session.scalars(select(OrderLine)
                                                   .where(OrderLine.order_id == order_id))},
                payments=[(p.kind, p.amount, p.status, p.provider_id) for p in session.scalars(
                    select(Payment).where(Payment.order_id == order_id).order_by(Payment.id))],
                events=[e.kind for e in session.scalars(
                    select(OrderEvent).where(OrderEvent.order_id == order_id)
                    .order_by(OrderEvent.id))],
                mails=session.scalar(select(func.count()).select_from(Outbox).where(
                    Outbox.kind == OutboxKind.ORDER)),
            )
        with as_system() as session:
            state.stripe_events = session.scalar(select(func.count()).select_from(StripeEvent))
        return state

    return _state
