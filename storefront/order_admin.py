"""What the desk's order pages need beyond storefront.order_changes: the order list with its
filters (keyset pages, newest first), confirming an order by hand, resending its confirmation,
and reading the refund form's lines."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select

from helpdesk.core.exceptions import Conflict, ValidationFailed
from helpdesk.core.keyset import Page, paginate
from storefront import orders
from storefront.models import (
    FulfillmentStatus,
    Order,
    OrderStatus,
    PaymentMethod,
    PaymentStatus,
)
from storefront.money import format_money

PAGE_SIZE = 30
FILTERS = {"status": OrderStatus, "payment": PaymentStatus, "fulfillment": FulfillmentStatus}


@dataclass
class OrderFilters:
    """The list's query string, read leniently: a bad value is named and left out."""

    values: dict[str, str] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)
    status: OrderStatus | None = None
    payment: PaymentStatus | None = None
    fulfillment: FulfillmentStatus | None = None
    email: str = ""
    number: int | None = None
    since: datetime | None = None
    until: datetime | None = None  # exclusive: the day after `to`


def _day(text: str) -> date:
    return date.fromisoformat(text)


def read_filters(args: Any) -> OrderFilters:
    names = ("status", "payment", "fulfillment", "email", "number", "from", "to")
    values = {n: " ".join(str(args.get(n) or "").replace("\x00", "").split())[:254]
              for n in names}
    found = OrderFilters(values=values)
    for name, kind in FILTERS.items():
        if values[name]:
            try:
                setattr(found, name, kind(values[name]))
            except ValueError:
                found.problems[name] = "Unknown value: showing all."
    found.email = values["email"].lower()
    number = values["number"].lstrip("#").strip()
    if number:
        if number.isdigit() and len(number) < 18:
            found.number = int(number)
        else:
            found.problems["number"] = "An order number is a whole number, like 1042."
    for name, attribute, shift in (("from", "since", 0), ("to", "until", 1)):
        if values[name]:
            try:
                day = _day(values[name]) + timedelta(days=shift)
            except (ValueError, OverflowError):
                found.problems[name] = "A date like 2026-11-21."
            else:
                setattr(found, attribute, datetime.combine(day, time(), tzinfo=UTC))
    return found


def list_orders(filters: OrderFilters, cursor: str | None, limit: int = PAGE_SIZE) -> Page:
    """One page of the current org's orders, newest first (ix_shop_orders_list with a status,
    ix_shop_orders_customer for one buyer's)."""
    query = select(Order)
    if filters.status is not None:
        query = query.where(Order.status == filters.status)
    if filters.payment is not None:
        query = query.where(Order.payment_status == filters.payment)
    if filters.fulfillment is not None:
        query = query.where(Order.fulfillment_status == filters.fulfillment)
    if filters.email:
        if "@" in filters.email:
            query = query.where(Order.email == filters.email)
        else:
            like = filters.email.replace("\\", "").replace("%", "").replace("_", "")
            query = query.where(Order.email.ilike(f"%{like}%"))
    if filters.number is not None:
        query = query.where(Order.number == filters.number)
    if filters.since is not None:
        query = query.where(Order.created_at >= filters.since)
    if filters.until is not None:
        query = query.where(Order.created_at < filters.until)
    return paginate(query, [Order.created_at, Order.id], lambda o: [o.created_at, o.id],
                    cursor=cursor, tag="orders", limit=limit)


def confirm_order(actor_id: int | None, order: Order) -> bool:
    """Confirm a placed order by hand. A card order is confirmed by its payment (the webhook):
    until it is paid this raises Conflict (409). False when it is confirmed already; raises
    InvalidTransition for a cancelled or completed order."""
    if order.status is OrderStatus.CONFIRMED:
        return False
    if order.payment_method is PaymentMethod.STRIPE and order.payment_status not in (
            PaymentStatus.PAID, PaymentStatus.AUTHORIZED):
        raise Conflict(f"Order #{order.number} waits for its card payment "
                       f"({order.payment_status.value}); it is confirmed when it is paid.",
                       {"status": "awaiting payment"})
    return orders.change_status(actor_id, order, OrderStatus.CONFIRMED,
                                reason="confirmed by staff")


def resend_confirmation(order: Order) -> int:
    """Queue the "Order #n confirmed" mail again; returns the Outbox id. Raises Conflict for
    an order that is not confirmed (nothing to confirm) or a buyer we do not mail (blocked,
    bouncing)."""
    if order.status not in (OrderStatus.CONFIRMED, OrderStatus.COMPLETED):
        raise Conflict(f"Order #{order.number} is {order.status.value}: there is no "
                       "confirmation to send.", {"status": order.status.value})
    from storefront.order_mail import queue_confirmation

    row = queue_confirmation(order)
    if row is None:
        raise Conflict(f"Mail to {order.email} is not sent: the customer is blocked or their "
                       "address bounces.", {"email": "not mailed"})
    return row.id


def refund_lines_from_form(order: Order, form: Any) -> list[dict[str, int]]:
    """The refund form's `qty_<line id>` fields as [{line_id, quantity}] (empty and 0 are
    left out). Raises ValidationFailed for anything but a whole number."""
    chosen, errors = [], {}
    for line in orders.lines_of(order):
        raw = (form.get(f"qty_{line.id}") or "").strip()
        if not raw or raw == "0":
            continue
        if not raw.isdigit() or len(raw) > 6:
            errors[f"qty_{line.id}"] = f"{line.product_name}: a whole number of units"
            continue
        chosen.append({"line_id": line.id, "quantity": int(raw)})
    if errors:
        raise ValidationFailed(" ".join(errors.values()), errors)
    return chosen


def tell(event: Any, names: dict[int, str], currency: str) -> str:
    """An OrderEvent as a sentence for the order page's timeline."""
    data = event.data or {}
    who = names.get(event.actor_user_id) or "The system"
    reason = f" ({data['reason']})" if data.get("reason") else ""
    kind = event.kind
    if kind == "placed":
        return f"Order placed via {data.get('channel', 'the shop')}"
    if kind in ("status", "payment", "fulfillment"):
        what = {"status": "status", "payment": "payment", "fulfillment": "fulfillment"}[kind]
        extra = ""
        if kind == "fulfillment" and data.get("tracking_number"):
            extra = f": {data.get('carrier')} {data.get('tracking_number')}"
        return f"{who} changed {what} from {data.get('old')} to {data.get('new')}{reason}{extra}"
    if kind == "refund":
        amount = format_money(data.get("amount") or 0, currency)
        return f"{who} refunded {amount} ({str(data.get('provider', '')).replace('_', ' ')})"
    if kind == "restocked":
        units = sum(int(line.get("quantity", 0)) for line in data.get("lines") or [])
        return f"{who} put {units} unit{'s' if units != 1 else ''} back in stock"
    if kind == "stock_committed":
        return "Stock sold"
    if kind == "mail":
        return "Confirmation mail queued"
    if kind == "ticket_linked":
        return f"{who} linked ticket #{data.get('number')}"
    if kind == "payment_started":
        return "Card payment started"
    if kind == "reservation_expired":
        return "The stock hold ran out"
    return f"{who}: {kind.replace('_', ' ')}"


def actions_for(order: Order) -> set[str]:
    """The staff actions that make sense for the order now (the services still decide)."""
    actions = set()
    if order.status is OrderStatus.PLACED:
        actions.add("confirm")
    if order.status in (OrderStatus.PLACED, OrderStatus.CONFIRMED) and \
            order.fulfillment_status in (FulfillmentStatus.UNFULFILLED, FulfillmentStatus.PACKED):
        actions.add("cancel")
    if order.payment_status in (PaymentStatus.PAID, PaymentStatus.PARTIALLY_REFUNDED) and \
            order.total > order.refunded:
        actions.add("refund")
    if order.status in (OrderStatus.CONFIRMED, OrderStatus.COMPLETED):
        actions.add("resend")
    return actions
