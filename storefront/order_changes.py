"""What staff do to an order: fulfil it, cancel it (stock back on the shelf), refund it.

Card refunds go through Stripe (storefront.payments.refund); without it they are refused with
a 409. Cash-on-delivery refunds are recorded here: the shop hands the cash back itself.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from helpdesk.core.exceptions import Conflict, ValidationFailed
from helpdesk.extensions import db
from storefront import inventory, order_events, orders
from storefront.checkout import payments_module
from storefront.models import (
    FulfillmentStatus,
    Order,
    OrderStatus,
    Payment,
    PaymentMethod,
    PaymentStatus,
    Reservation,
)
from storefront.order_input import MAX_ID, plain_text, whole_number
from storefront.orders import InvalidTransition

F, P = FulfillmentStatus, PaymentStatus
COD = PaymentMethod.CASH_ON_DELIVERY


def fulfil(actor_id: int | None, order: Order, status: Any, *, carrier: Any = "",
           tracking_number: Any = "") -> bool:
    """Pack, ship (carrier and tracking number required), deliver or take back the order.
    Delivering a cash order records the cash as paid, and a paid, delivered order is completed.
    Raises ValidationFailed for bad input, InvalidTransition (409) for an impossible move."""
    try:
        status = FulfillmentStatus(status)
    except ValueError as error:
        allowed = ", ".join(s.value for s in F if s is not F.UNFULFILLED)
        raise ValidationFailed(f"Unknown fulfillment status. Use one of: {allowed}.",
                               {"fulfillment_status": f"one of: {allowed}"}) from error
    carrier_text, tracking = plain_text(carrier or "", 64), plain_text(tracking_number or "", 128)
    if carrier_text is None or tracking is None:
        raise ValidationFailed("Carrier and tracking number are short plain text.",
                               {"carrier" if carrier_text is None else "tracking_number":
                                "plain text on one line"})
    if status is F.SHIPPED and not (carrier_text and tracking):
        raise ValidationFailed("A shipped order needs the carrier and the tracking number.",
                               {k: "required when shipping" for k, v in
                                (("carrier", carrier_text), ("tracking_number", tracking))
                                if not v})
    if order.status is OrderStatus.PLACED and status in (F.PACKED, F.SHIPPED, F.DELIVERED):
        raise InvalidTransition(f"Order #{order.number} is not confirmed yet (the payment is "
                                f"{order.payment_status.value}).",
                                {"fulfillment_status": "the order is not confirmed"})
    changed = orders.change_fulfillment_status(actor_id, order, status, carrier=carrier_text,
                                               tracking_number=tracking)
    if changed and status is F.DELIVERED:
        if order.payment_method is COD and order.payment_status is P.PENDING:
            orders.change_payment_status(actor_id, order, P.PAID, reason="cash collected on "
                                         "delivery", amount=order.total)
            for payment in _payments_of(order, "charge"):
                payment.status = "paid"
        if order.payment_status is P.PAID and order.status is OrderStatus.CONFIRMED:
            orders.change_status(actor_id, order, OrderStatus.COMPLETED, reason="delivered")
    return changed


def cancel(actor_id: int | None, order: Order, *, reason: str = "", restock: bool = True) -> bool:
    """Cancel a placed or confirmed order that has not shipped: held stock is released, sold
    stock goes back on hand (unless restock=False), a card payment is refunded in full.
    Raises InvalidTransition (409) for a shipped, completed or cancelled order, Conflict when
    a card refund is needed and Stripe is not there."""
    if order.status is OrderStatus.CANCELLED:
        return False
    if order.fulfillment_status in (F.SHIPPED, F.DELIVERED, F.RETURNED):
        raise InvalidTransition(f"Order #{order.number} has shipped: refund it instead of "
                                "cancelling.", {"status": "already shipped"})
    if OrderStatus.CANCELLED not in orders.ORDER_TRANSITIONS[order.status]:
        orders.change_status(actor_id, order, OrderStatus.CANCELLED)  # raises, saying why
    if order.payment_method is PaymentMethod.STRIPE and order.payment_status in (
            P.PAID, P.PARTIALLY_REFUNDED, P.AUTHORIZED):
        refund(actor_id, order)
    inventory.release(order.idempotency_key)
    back = []
    if restock:
        for line in orders.lines_of(order):
            quantity = line.quantity - line.refunded_quantity
            if quantity > 0 and _was_sold(order) and inventory.restock(
                    line, quantity, actor_id=actor_id, note=f"order #{order.number} cancelled"):
                back.append({"line_id": line.id, "quantity": quantity})
    if back:
        order_events.restocked(order, actor_id, back)
    for payment in _payments_of(order, "charge"):
        if payment.status == "pending":
            payment.status = "cancelled"
    return orders.change_status(actor_id, order, OrderStatus.CANCELLED, reason=reason[:200])


def _was_sold(order: Order) -> bool:
    """Whether the order's stock was committed (not merely reserved)."""
    return db.session.scalar(select(Reservation.id).where(
        Reservation.checkout_key == order.idempotency_key,
        Reservation.committed_at.is_not(None)).limit(1)) is not None


def _payments_of(order: Order, kind: str) -> list[Payment]:
    return list(db.session.scalars(select(Payment).where(Payment.order_id == order.id,
                                                         Payment.kind == kind)))


def refund(actor_id: int | None, order: Order, *, amount: Any = None, lines: Any = None) -> int:
    """Refund `amount` (minor units; default: the lines' value, or everything not refunded
    yet); `lines` ([{"line_id", "quantity"}]) come back: marked refunded and put back in stock
    (as Stripe refunds do). Returns the amount. Raises Conflict (409) for a card order without
    Stripe ("refunds need Stripe") or a cash order not paid yet, ValidationFailed for bad
    amounts or lines."""
    if order.payment_method is PaymentMethod.STRIPE:
        payments = payments_module()
        if payments is None or not hasattr(payments, "refund"):
            raise Conflict("Refunds need Stripe: card refunds are not available here.",
                           {"refund": "refunds need Stripe"})
        return payments.refund(order, amount=amount, lines=lines, actor_id=actor_id).amount
    if order.payment_status not in (P.PAID, P.PARTIALLY_REFUNDED):
        raise Conflict(f"Nothing was paid for order #{order.number} yet (cash on delivery): "
                       "cancel it instead.", {"refund": "nothing paid yet"})
    chosen = _refund_lines(order, lines)
    remaining = order.total - order.refunded
    if amount is None:
        amount = sum(line.unit_price * q for line, q in chosen) if chosen else remaining
    if whole_number(amount, 1, MAX_ID) is None or amount > remaining:
        raise ValidationFailed(f"The refund must be between 1 and {remaining}.",
                               {"amount": f"1 to {remaining}"})
    back = []
    for line, quantity in chosen:
        line.refunded_quantity += quantity
        if inventory.restock(line, quantity, actor_id=actor_id,
                             note=f"refund of order #{order.number}"):
            back.append({"line_id": line.id, "quantity": quantity})
    order.refunded += amount
    db.session.add(Payment(order_id=order.id, kind="refund", provider=COD.value, amount=amount,
                           status="refunded"))
    new = P.REFUNDED if order.refunded >= order.total else P.PARTIALLY_REFUNDED
    orders.change_payment_status(actor_id, order, new, reason="cash refunded", amount=amount)
    order_events.refunded(order, actor_id, amount, COD.value,
                          [{"line_id": line.id, "quantity": q} for line, q in chosen])
    if back:
        order_events.restocked(order, actor_id, back)
    return amount


def _refund_lines(order: Order, lines: Any) -> list:
    if not lines:
        return []
    if not isinstance(lines, list):
        raise ValidationFailed("Refund lines are a list.", {"lines": "a list"})
    by_id = {line.id: line for line in orders.lines_of(order)}
    chosen, errors = [], {}
    for index, raw in enumerate(lines):
        raw = raw if isinstance(raw, dict) else {}
        line = by_id.get(raw.get("line_id")) if isinstance(raw.get("line_id"), int) else None
        if line is None:
            errors[f"lines.{index}.line_id"] = "not a line of this order"
            continue
        left = line.quantity - line.refunded_quantity
        quantity = whole_number(raw.get("quantity", left), 1, max(left, 1))
        if quantity is None or left == 0:
            errors[f"lines.{index}.quantity"] = f"1 to {left}" if left else "already refunded"
            continue
        chosen.append((line, quantity))
    if errors:
        raise ValidationFailed("Some refund lines are invalid.", errors)
    return chosen
