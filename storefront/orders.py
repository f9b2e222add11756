"""Orders: per-org numbers, the three state machines (order, payment, fulfillment) as explicit
transition tables, each move writing an OrderEvent, and the API's view of an order.

    order:        placed -> confirmed -> completed; placed / confirmed -> cancelled
    payment:      pending -> authorized -> paid -> partially_refunded -> refunded
                  (pending / authorized -> failed -> pending: a new attempt)
    fulfillment:  unfulfilled -> packed -> shipped -> delivered; shipped / delivered -> returned
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from helpdesk.core.exceptions import ServiceError
from helpdesk.core.models import utcnow
from helpdesk.extensions import db
from storefront import order_events as events
from storefront.models import (
    Fulfillment,
    FulfillmentStatus,
    Order,
    OrderCounter,
    OrderEvent,
    OrderLine,
    OrderStatus,
    Payment,
    PaymentStatus,
)

FIRST_NUMBER = 1001  # "Order #1" looks like a shop nobody buys from

S, P, F = OrderStatus, PaymentStatus, FulfillmentStatus
ORDER_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.PLACED: frozenset({S.CONFIRMED, S.CANCELLED}),
    S.CONFIRMED: frozenset({S.COMPLETED, S.CANCELLED}),
    S.CANCELLED: frozenset(),
    S.COMPLETED: frozenset(),
}
PAYMENT_TRANSITIONS: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    P.PENDING: frozenset({P.AUTHORIZED, P.PAID, P.FAILED}),
    P.AUTHORIZED: frozenset({P.PAID, P.FAILED}),
    P.FAILED: frozenset({P.PENDING, P.AUTHORIZED, P.PAID}),
    P.PAID: frozenset({P.PARTIALLY_REFUNDED, P.REFUNDED}),
    P.PARTIALLY_REFUNDED: frozenset({P.REFUNDED}),
    P.REFUNDED: frozenset(),
}
FULFILLMENT_TRANSITIONS: dict[FulfillmentStatus, frozenset[FulfillmentStatus]] = {
    F.UNFULFILLED: frozenset({F.PACKED, F.SHIPPED}),
    F.PACKED: frozenset({F.UNFULFILLED, F.SHIPPED}),
    F.SHIPPED: frozenset({F.DELIVERED, F.RETURNED}),
    F.DELIVERED: frozenset({F.RETURNED}),
    F.RETURNED: frozenset(),
}


class InvalidTransition(ServiceError):
    status = 409


def next_order_number(org_id: int) -> int:
    """The org's next order number. The counter row stays locked until commit, so concurrent
    checkouts queue up here; a rolled-back checkout gives its number back (no gaps)."""
    db.session.execute(pg_insert(OrderCounter)
                       .values(org_id=org_id, last_number=FIRST_NUMBER - 1)
                       .on_conflict_do_nothing(index_elements=["org_id"]))
    return db.session.execute(
        update(OrderCounter).where(OrderCounter.org_id == org_id)
        .values(last_number=OrderCounter.last_number + 1)
        .returning(OrderCounter.last_number)).scalar_one()


def get_order(order_id: int, *, for_update: bool = False) -> Order | None:
    """The current org's order by id; None for another org's or a missing one. With
    for_update the row stays locked until commit, so concurrent changes queue up."""
    query = select(Order).where(Order.id == order_id)
    if for_update:
        query = query.with_for_update(of=Order)
    return db.session.scalar(query)


def get_order_by_number(number: int) -> Order | None:
    return db.session.scalar(select(Order).where(Order.number == number))


def find_by_idempotency_key(key: str) -> Order | None:
    return db.session.scalar(select(Order).where(Order.idempotency_key == key))


def lines_of(order: Order) -> list[OrderLine]:
    return list(db.session.scalars(select(OrderLine).where(OrderLine.order_id == order.id)
                                   .order_by(OrderLine.id)))


def _move(table: dict, old, new, what: str, number: int) -> bool:
    if new == old:
        return False
    if new not in table[old]:
        allowed = ", ".join(sorted(s.value for s in table[old])) or "none (final)"
        raise InvalidTransition(
            f"The {what} of order #{number} cannot go from {old.value} to {new.value}. "
            f"Allowed: {allowed}.",
            {what.replace(" ", "_"): f"cannot go from {old.value} to {new.value}"})
    return True


def change_status(actor_id: int | None, order: Order, new: OrderStatus, *,
                  reason: str = "") -> bool:
    """Move the order along ORDER_TRANSITIONS and write the event. False when it is there
    already; raises InvalidTransition (409, with the allowed moves) otherwise."""
    new = OrderStatus(new)
    old = order.status
    if not _move(ORDER_TRANSITIONS, old, new, "status", order.number):
        return False
    order.status = new
    events.status_changed(order, actor_id, old.value, new.value, reason)
    return True


def change_payment_status(actor_id: int | None, order: Order, new: PaymentStatus, *,
                          reason: str = "", **data: Any) -> bool:
    """Move the payment along PAYMENT_TRANSITIONS and write the event (`data`: amounts,
    provider ids). Raises InvalidTransition."""
    new = PaymentStatus(new)
    old = order.payment_status
    if not _move(PAYMENT_TRANSITIONS, old, new, "payment status", order.number):
        return False
    order.payment_status = new
    events.payment_changed(order, actor_id, old.value, new.value, reason, **data)
    return True


def change_fulfillment_status(actor_id: int | None, order: Order, new: FulfillmentStatus, *,
                              carrier: str = "", tracking_number: str = "") -> bool:
    """Move the fulfillment along FULFILLMENT_TRANSITIONS, keep its Fulfillment row (carrier,
    tracking number, shipped and delivered times) and write the event. Raises
    InvalidTransition; a cancelled order is not fulfilled."""
    new = FulfillmentStatus(new)
    old = order.fulfillment_status
    if new == old:
        return False
    if order.status is S.CANCELLED and new is not F.RETURNED:
        raise InvalidTransition(f"Order #{order.number} is cancelled: it is not fulfilled.",
                                {"fulfillment_status": "the order is cancelled"})
    _move(FULFILLMENT_TRANSITIONS, old, new, "fulfillment status", order.number)
    fulfillment = current_fulfillment(order)
    if fulfillment is None:
        fulfillment = Fulfillment(order_id=order.id, status=new)
        db.session.add(fulfillment)
    fulfillment.status = new
    fulfillment.carrier = carrier or fulfillment.carrier or ""
    fulfillment.tracking_number = tracking_number or fulfillment.tracking_number or ""
    now = utcnow()
    if new is F.SHIPPED:
        fulfillment.shipped_at = now
    elif new is F.DELIVERED:
        fulfillment.delivered_at = now
    order.fulfillment_status = new
    events.fulfillment_changed(order, actor_id, old.value, new.value,
                               carrier=fulfillment.carrier,
                               tracking_number=fulfillment.tracking_number)
    return True


def current_fulfillment(order: Order) -> Fulfillment | None:
    return db.session.scalar(select(Fulfillment).where(Fulfillment.order_id == order.id)
                             .order_by(Fulfillment.id.desc()).limit(1))


def timeline(order: Order) -> list[OrderEvent]:
    return list(db.session.scalars(select(OrderEvent).where(OrderEvent.order_id == order.id)
                                   .order_by(OrderEvent.created_at, OrderEvent.id)))


def serialize(order: Order) -> dict[str, Any]:
    """The order as the API shows it: totals in minor units, lines, payments, fulfillment."""
    fulfillment = current_fulfillment(order)
    payments = db.session.scalars(select(Payment).where(Payment.order_id == order.id)
                                  .order_by(Payment.id)).all()
    return {
        "id": order.id, "number": order.number, "email": order.email,
        "customer_id": order.customer_id, "status": order.status.value,
        "payment_status": order.payment_status.value,
        "fulfillment_status": order.fulfillment_status.value,
        "payment_method": order.payment_method.value, "currency": order.currency,
        "subtotal": order.subtotal, "shipping": order.shipping, "discount": order.discount,
        "total": order.total, "refunded": order.refunded,
        "application_fee": order.application_fee, "delivery_option": order.delivery_option,
        "shipping_address": order.shipping_address or {},
        "created_at": order.created_at,
        "lines": [
            {"id": line.id, "variant_id": line.variant_id, "product_name": line.product_name,
             "sku": line.sku, "options": line.options or {}, "unit_price": line.unit_price,
             "quantity": line.quantity, "refunded_quantity": line.refunded_quantity,
             "personalization": line.personalization or {}}
            for line in lines_of(order)
        ],
        "payments": [
            {"kind": p.kind, "provider": p.provider, "amount": p.amount, "status": p.status,
             "created_at": p.created_at}
            for p in payments
        ],
        "fulfillment": None if fulfillment is None else {
            "status": fulfillment.status.value, "carrier": fulfillment.carrier,
            "tracking_number": fulfillment.tracking_number,
            "shipped_at": fulfillment.shipped_at, "delivered_at": fulfillment.delivered_at,
        },
    }
