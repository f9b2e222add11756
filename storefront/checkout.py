"""Placing an order: prices from the database, stock reserved, the order written, and then
either cash on delivery (stock committed, order confirmed, mail queued at once) or a card
payment started with Stripe (the stock stays reserved until the webhook says paid).

The same idempotency key always gives the same order: the key is locked for the transaction
(an advisory lock), so a double click waits for the first request and then finds its order
instead of reserving the stock a second time.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from sqlalchemy import select, text, update

from helpdesk.core.exceptions import NotFound, ValidationFailed
from helpdesk.core.models import utcnow
from helpdesk.customers.models import Customer
from helpdesk.extensions import db
from helpdesk.orgs.models import Organization
from helpdesk.tickets.services import find_or_create_customer
from storefront import delivery, inventory, order_events, orders
from storefront import order_input as check
from storefront.models import (
    Order,
    OrderLine,
    OrderStatus,
    Payment,
    PaymentMethod,
    Product,
    Reservation,
    Variant,
)


@dataclass
class Placement:
    order: Order
    created: bool  # False: the idempotency key named an earlier order, returned as it is
    client_secret: str | None = None  # card payments: for Stripe.js on the payment page


@dataclass
class PricedLine:
    item: check.ItemRequest
    variant: Variant
    product: Product
    unit_price: int
    personalization: dict[str, Any] = field(default_factory=dict)


def stripe_enabled() -> bool:
    """Card payments are possible (storefront.payments decides once it exists)."""
    payments = payments_module()
    if payments is not None and hasattr(payments, "stripe_enabled"):
        return bool(payments.stripe_enabled())
    return bool(current_app.config.get("STRIPE_SECRET_KEY"))


def payments_module():
    try:
        from storefront import payments
    except ImportError:
        return None
    return payments


def unit_price(variant: Variant, product: Product) -> int:
    """The variant's own price, else the product's (the data model's rule)."""
    return product.price if variant.price is None else variant.price


def new_key() -> str:
    return secrets.token_urlsafe(24)


def _lock_key(org_id: int, key: str) -> None:
    db.session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
                       {"k": f"shop-checkout:{org_id}:{key}"})


def price_lines(org_id: int, requests: list[check.ItemRequest],
                errors: check.Errors) -> list[PricedLine]:
    """Each request with its variant, product and today's price from the database (a price in
    the request is never used). Unknown, other orgs' and inactive variants are field errors."""
    ids = {r.variant_id for r in requests}
    rows = {v.id: (v, p) for v, p in db.session.execute(
        select(Variant, Product).join(Product, Product.id == Variant.product_id)
        .where(Variant.id.in_(ids)))} if ids else {}
    priced = []
    for request in requests:
        prefix = f"items.{request.index}"
        found = rows.get(request.variant_id)
        if found is None:
            errors.say(f"{prefix}.variant_id", f"No such product variant ({request.variant_id}).")
            continue
        variant, product = found
        if not (variant.is_active and product.is_active):
            errors.say(f"{prefix}.variant_id", f"“{product.name}” is no longer sold.")
            continue
        clean = check.personalization(product.personalization, request.personalization, org_id,
                                      errors, f"{prefix}.personalization")
        priced.append(PricedLine(request, variant, product, unit_price(variant, product), clean))
    return priced


def place_order(org: Organization, **kwargs: Any) -> Order:
    """submit_order(...).order: the order placed, or the earlier one with the same key."""
    return submit_order(org, **kwargs).order


def submit_order(org: Organization, *, email: Any, name: Any = "", items: Any,
                 delivery_option: Any = None, shipping_address: Any = None, payment: Any,
                 coupon: Any = None, idempotency_key: Any = None, customer_id: int | None = None,
                 actor_id: int | None = None, channel: str = "shop",
                 expected_subtotal: int | None = None) -> Placement:
    """Place an order for the current org (`org`). Raises ValidationFailed (422) naming every
    bad field (unknown or inactive variant, quantity, personalization, address, coupon, a
    payment method the shop does not take, prices that changed since the customer saw them),
    OutOfStock (409) when a line cannot be reserved. Nothing is changed when it raises."""
    errors = check.Errors()
    key = new_key() if idempotency_key in (None, "") else check.idempotency_key(idempotency_key,
                                                                               errors)
    errors.raise_if_any()
    _lock_key(org.id, key)
    existing = orders.find_by_idempotency_key(key)
    if existing is not None:
        return Placement(existing, created=False)

    email_address = check.email(email, errors)
    buyer_name = check.plain_text(name or "", 200)
    if buyer_name is None:
        errors.add("name", "Text of at most 200 characters.")
    method = _payment_method(payment, errors)
    check.coupon(coupon, errors)
    lines = price_lines(org.id, check.items(items, errors), errors)
    subtotal = sum(line.unit_price * line.item.quantity for line in lines)
    try:
        option = delivery.choose(org, delivery_option, subtotal)
    except ValidationFailed as error:
        errors.add("delivery_option", error.fields["delivery_option"], error.message)
        option = None
    address = check.address(shipping_address, errors, required=False) if (
        option is None or option.needs_address) else {}
    errors.raise_if_any()
    if expected_subtotal is not None and expected_subtotal != subtotal:
        raise ValidationFailed("Prices changed since you looked: please check the new total.",
                               {"subtotal": f"now {subtotal}"})
    total = subtotal + option.price

    customer = _customer(customer_id, email_address, buyer_name or "")
    _reserve(lines, key)
    order = Order(
        number=orders.next_order_number(org.id), customer_id=customer.id, email=email_address,
        status=OrderStatus.PLACED, payment_method=method,
        currency=(org.settings or {}).get("currency", "EUR"), subtotal=subtotal,
        shipping=option.price, discount=0, total=total,
        # The platform's share of a card payment (cash never passes through Stripe).
        application_fee=payments_module().application_fee(org, total)
        if method is PaymentMethod.STRIPE else 0,
        delivery_option=option.code, shipping_address=address, idempotency_key=key)
    db.session.add(order)
    db.session.flush()
    for line in lines:
        db.session.add(OrderLine(
            order_id=order.id, variant_id=line.variant.id, product_name=line.product.name,
            sku=line.variant.sku, options=line.variant.options or {}, unit_price=line.unit_price,
            quantity=line.item.quantity, personalization=line.personalization))
    db.session.execute(update(Reservation).where(Reservation.checkout_key == key)
                       .values(order_id=order.id).execution_options(synchronize_session=False))
    order_events.placed(order, actor_id, channel)
    if method is PaymentMethod.CASH_ON_DELIVERY:
        confirm_cash_order(order)
        return Placement(order, created=True)
    return Placement(order, created=True, client_secret=payments_module().start_payment(order))


def _payment_method(value: Any, errors: check.Errors) -> PaymentMethod | None:
    try:
        method = PaymentMethod(value)
    except ValueError:
        errors.say("payment", "Choose stripe or cash_on_delivery.")
        return None
    if method is PaymentMethod.STRIPE and not (stripe_enabled() and payments_module() is not None):
        errors.say("payment", "Card payments are not available in this shop: only cash on "
                              "delivery.")
    return method


def _customer(customer_id: int | None, email: str, name: str) -> Customer:
    if customer_id is not None:
        customer = db.session.get(Customer, customer_id)
        if customer is None:
            raise NotFound("No such customer.")
        return customer
    return find_or_create_customer(email, name)


def _reserve(lines: list[PricedLine], key: str) -> None:
    """Reserve every line, in variant id order (stock rows are always locked in one order)."""
    for line in sorted(lines, key=lambda x: (x.variant.id, x.item.index)):
        try:
            inventory.reserve(line.variant.id, line.item.quantity, key)
        except inventory.OutOfStock as error:
            left = error.available
            raise inventory.OutOfStock(
                f"Only {left} of “{line.product.name}” left." if left else
                f"“{line.product.name}” is sold out.",
                {f"items.{line.item.index}.quantity":
                 f"only {left} available" if left else "sold out"},
                variant_id=error.variant_id, requested=error.requested, available=left,
            ) from error


def confirm_cash_order(order: Order) -> None:
    """Cash on delivery: the stock is sold now, the order confirmed, the cash expected."""
    committed = inventory.commit(order.idempotency_key, order.id)
    order_events.stock_committed(order, [{"variant_id": r.variant_id, "quantity": r.quantity}
                                         for r in committed])
    orders.change_status(None, order, OrderStatus.CONFIRMED, reason="cash on delivery")
    db.session.add(Payment(order_id=order.id, kind="charge",
                           provider=PaymentMethod.CASH_ON_DELIVERY.value, amount=order.total,
                           status="pending"))
    send_confirmation(order)


def send_confirmation(order: Order) -> None:
    """Queue "Order #n confirmed" to the buyer (cash orders at once, card orders when paid)."""
    from storefront.order_mail import queue_confirmation

    queue_confirmation(order)


def ensure_payable(order: Order) -> None:
    """Before a card payment is confirmed: raises ReservationExpired (409) when the order's
    stock is no longer held for it, so the customer is not charged for items they cannot get."""
    held = db.session.scalars(select(Reservation).where(
        Reservation.checkout_key == order.idempotency_key)).all()
    if not held or any(r.committed_at is None and (r.released_at is not None
                                                   or r.expires_at <= utcnow()) for r in held):
        raise inventory.ReservationExpired(
            f"The items of order #{order.number} are no longer held for you (the reservation "
            "expired). Please check out again.", {"reservation": "expired"})
