"""The order timeline: one small function per event kind, each appending an OrderEvent row."""

from __future__ import annotations

from typing import Any

from helpdesk.extensions import db
from storefront.models import Order, OrderEvent


def _record(order: Order, kind: str, actor_id: int | None, **data: Any) -> OrderEvent:
    event = OrderEvent(org_id=order.org_id, order_id=order.id, actor_user_id=actor_id,
                       kind=kind, data=data)
    db.session.add(event)
    return event


def placed(order: Order, actor_id: int | None, channel: str) -> OrderEvent:
    return _record(order, "placed", actor_id, channel=channel, total=order.total,
                   payment_method=order.payment_method.value)


def status_changed(order: Order, actor_id: int | None, old: str, new: str,
                   reason: str = "") -> OrderEvent:
    return _record(order, "status", actor_id, old=old, new=new, reason=reason)


def payment_changed(order: Order, actor_id: int | None, old: str, new: str,
                    reason: str = "", **data: Any) -> OrderEvent:
    return _record(order, "payment", actor_id, old=old, new=new, reason=reason, **data)


def fulfillment_changed(order: Order, actor_id: int | None, old: str, new: str,
                        **data: Any) -> OrderEvent:
    return _record(order, "fulfillment", actor_id, old=old, new=new, **data)


def stock_committed(order: Order, lines: list[dict[str, int]]) -> OrderEvent:
    return _record(order, "stock_committed", None, lines=lines)


def restocked(order: Order, actor_id: int | None, lines: list[dict[str, int]]) -> OrderEvent:
    return _record(order, "restocked", actor_id, lines=lines)


def reservation_expired(order: Order) -> OrderEvent:
    return _record(order, "reservation_expired", None)


def refunded(order: Order, actor_id: int | None, amount: int, provider: str,
             lines: list[dict[str, int]]) -> OrderEvent:
    return _record(order, "refund", actor_id, amount=amount, provider=provider, lines=lines)


def confirmation_queued(order: Order, outbox_id: int) -> OrderEvent:
    return _record(order, "mail", None, template="confirmation", outbox_id=outbox_id)
