"""Stock: reservations for open checkouts, sales, restocks and adjustments.

Every change is one conditional UPDATE (`... WHERE on_hand - reserved >= :quantity`) or works
on rows locked first, never a read followed by a write, so two checkouts for the last unit
cannot both win; the CHECK constraints of shop_stock_levels (on_hand >= 0, 0 <= reserved <=
on_hand) are the last wall. Stock rows are always locked in ascending variant id order (callers
reserve their lines sorted), and expired reservations are claimed with SKIP LOCKED, so the
expiry job and checkouts never wait on each other in a cycle.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from flask import current_app
from sqlalchemy import case, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from helpdesk.core import tenancy
from helpdesk.core.exceptions import Conflict, NotFound, ValidationFailed
from helpdesk.core.models import utcnow
from helpdesk.extensions import db
from storefront.models import (
    MovementKind,
    OrderLine,
    Product,
    Reservation,
    StockLevel,
    StockMovement,
    Variant,
)

DEFAULT_TTL = timedelta(minutes=15)
MAX_QUANTITY = 100_000


class OutOfStock(ValidationFailed):
    """Fewer units are available than asked for (a 409: retrying later may work)."""

    status = 409

    def __init__(self, message: str, fields: dict[str, str] | None = None, *,
                 variant_id: int, requested: int, available: int):
        super().__init__(message, fields)
        self.variant_id, self.requested, self.available = variant_id, requested, available


class ReservationExpired(Conflict):
    """The checkout's hold on the stock ran out (or was released) before it was paid."""


def default_ttl() -> timedelta:
    seconds = current_app.config.get("SHOP_RESERVATION_TTL")
    return timedelta(seconds=int(seconds)) if seconds else DEFAULT_TTL


def _check_quantity(quantity: object) -> int:
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise ValidationFailed("The quantity must be a whole number.",
                               {"quantity": "a whole number"})
    if quantity <= 0:
        raise ValidationFailed("The quantity must be at least 1.", {"quantity": "at least 1"})
    if quantity > MAX_QUANTITY:
        raise ValidationFailed(f"The quantity may be at most {MAX_QUANTITY}.",
                               {"quantity": f"at most {MAX_QUANTITY}"})
    return quantity


def _change_stock(variant_id: int, values: dict, *conditions) -> tuple | None:
    """One conditional UPDATE of the variant's stock row; its new (on_hand, reserved), or None
    when the conditions did not hold (or there is no such row in this org)."""
    statement = (update(StockLevel)
                 .where(StockLevel.variant_id == variant_id, *conditions)
                 .values(**values)
                 .returning(StockLevel.on_hand, StockLevel.reserved)
                 .execution_options(synchronize_session=False))
    row = db.session.execute(statement).first()
    _expire_loaded_stock(variant_id)
    return None if row is None else tuple(row)


def _expire_loaded_stock(variant_id: int) -> None:
    for obj in db.session.identity_map.values():
        if isinstance(obj, StockLevel) and obj.variant_id == variant_id:
            db.session.expire(obj)


def _rising(delta) -> dict:
    """Values that add `delta` to on_hand and re-arm the low-stock alert once stock is above
    its threshold again."""
    return {
        "on_hand": StockLevel.on_hand + delta,
        "low_stock_alerted_at": case(
            (StockLevel.on_hand + delta > StockLevel.low_stock_threshold, None),
            else_=StockLevel.low_stock_alerted_at),
    }


def available(variant_id: int) -> int:
    """Units that can be sold now: on hand minus those held by open checkouts (0 without a
    stock row)."""
    value = db.session.scalar(select(StockLevel.on_hand - StockLevel.reserved)
                              .where(StockLevel.variant_id == variant_id))
    return max(int(value or 0), 0)


def reserve(variant_id: int, quantity: int, checkout_key: str,
            ttl: timedelta | None = None) -> Reservation:
    """Hold `quantity` units for the checkout `checkout_key` until `ttl` (default 15 minutes)
    runs out. Raises ValidationFailed for a quantity below 1, OutOfStock (409) when fewer units
    are available; expired holds on the variant are released first if that helps."""
    quantity = _check_quantity(quantity)
    take = {"reserved": StockLevel.reserved + quantity}
    enough = StockLevel.on_hand - StockLevel.reserved >= quantity
    changed = _change_stock(variant_id, take, enough)
    if changed is None and release_expired(variant_id=variant_id):
        changed = _change_stock(variant_id, take, enough)
    if changed is None:
        left = available(variant_id)
        raise OutOfStock(
            f"Only {left} left." if left else "Sold out.",
            {"quantity": f"only {left} available" if left else "sold out"},
            variant_id=variant_id, requested=quantity, available=left)
    reservation = Reservation(variant_id=variant_id, checkout_key=checkout_key,
                              quantity=quantity, expires_at=utcnow() + (ttl or default_ttl()))
    db.session.add(reservation)
    db.session.flush()
    return reservation


def _release_stock(claimed) -> None:
    """Give back the units of claimed reservations, one UPDATE per variant in id order."""
    per_variant: dict[int, int] = defaultdict(int)
    for variant_id, quantity in claimed:
        per_variant[variant_id] += quantity
    for variant_id in sorted(per_variant):
        quantity = per_variant[variant_id]
        if _change_stock(variant_id, {"reserved": StockLevel.reserved - quantity},
                         StockLevel.reserved >= quantity) is None:
            raise Conflict("The stock of a released reservation is inconsistent.")


def _open(query):
    return query.where(Reservation.released_at.is_(None), Reservation.committed_at.is_(None))


def release(checkout_key: str) -> int:
    """Give back what the checkout holds (a failed or abandoned payment); how many units.
    Safe to call twice: released or committed reservations are left alone."""
    claimed = db.session.execute(
        _open(update(Reservation).where(Reservation.checkout_key == checkout_key))
        .values(released_at=utcnow())
        .returning(Reservation.variant_id, Reservation.quantity)
        .execution_options(synchronize_session=False)).all()
    _release_stock(claimed)
    return sum(quantity for _, quantity in claimed)


def release_expired(*, variant_id: int | None = None) -> list[Reservation]:
    """Release every open reservation past its expiry (of one variant, or all of the current
    org); returns them. Rows another transaction holds are skipped (it is committing or
    releasing them itself)."""
    query = _open(select(Reservation.id).where(Reservation.expires_at <= utcnow()))
    if variant_id is not None:
        query = query.where(Reservation.variant_id == variant_id)
    ids = db.session.scalars(query.order_by(Reservation.id)
                             .with_for_update(skip_locked=True)).all()
    if not ids:
        return []
    db.session.execute(update(Reservation).where(Reservation.id.in_(ids))
                       .values(released_at=utcnow())
                       .execution_options(synchronize_session="fetch"))
    expired = db.session.scalars(select(Reservation).where(Reservation.id.in_(ids))).all()
    _release_stock((r.variant_id, r.quantity) for r in expired)
    return list(expired)


def commit(checkout_key: str, order_id: int) -> list[Reservation]:
    """Turn the checkout's reservations into a sale: on_hand and reserved both drop, a "sale"
    movement per reservation. Safe to call twice (already committed: nothing happens).

    Raises ReservationExpired when a reservation ran out or was released before payment
    (nothing is changed), and Conflict when the checkout holds nothing.
    """
    reservations = db.session.scalars(
        select(Reservation).where(Reservation.checkout_key == checkout_key)
        .order_by(Reservation.id).with_for_update()).all()
    if not reservations:
        raise Conflict("This checkout holds no stock.")
    if all(r.committed_at is not None for r in reservations):
        return []
    now = utcnow()
    if any(r.released_at is not None or r.expires_at <= now for r in reservations
           if r.committed_at is None):
        raise ReservationExpired(
            "Your reservation expired before the payment arrived: the items are no longer held "
            "for you. Please check out again.", {"reservation": "expired"})
    pending = sorted((r for r in reservations if r.committed_at is None),
                     key=lambda r: (r.variant_id, r.id))
    for reservation in pending:
        quantity = reservation.quantity
        if _change_stock(reservation.variant_id,
                         {"on_hand": StockLevel.on_hand - quantity,
                          "reserved": StockLevel.reserved - quantity},
                         StockLevel.reserved >= quantity) is None:
            raise Conflict("The stock of a committed reservation is inconsistent.")
        reservation.committed_at, reservation.order_id = now, order_id
        db.session.add(StockMovement(variant_id=reservation.variant_id, kind=MovementKind.SALE,
                                     quantity=-quantity, order_id=order_id))
    db.session.flush()
    for variant_id in sorted({r.variant_id for r in pending}):
        _alert_if_low(variant_id)
    return pending


def restock(order_line: OrderLine, quantity: int, kind: MovementKind | str = MovementKind.REFUND,
            *, actor_id: int | None = None, note: str = "") -> bool:
    """Put `quantity` units of a sold line back on hand (a refund or a cancellation). False
    when the line's variant was deleted since. Raises ValidationFailed for a bad quantity."""
    quantity = _check_quantity(quantity)
    if quantity > order_line.quantity:
        raise ValidationFailed(f"At most {order_line.quantity} can go back for this line.",
                               {"quantity": f"at most {order_line.quantity}"})
    if order_line.variant_id is None:
        return False
    if _change_stock(order_line.variant_id, _rising(quantity)) is None:
        return False
    db.session.add(StockMovement(variant_id=order_line.variant_id, kind=MovementKind(kind),
                                 quantity=quantity, order_id=order_line.order_id,
                                 actor_user_id=actor_id, note=note[:500]))
    return True


def adjust(variant_id: int, delta: int, kind: MovementKind | str = MovementKind.ADJUSTMENT,
           note: str = "", actor_id: int | None = None) -> int:
    """Add (receipt, count correction) or remove units on hand; returns the new on-hand count.

    Raises NotFound for a variant not in this org, ValidationFailed when the change would take
    stock below what open checkouts hold (or below zero).
    """
    if isinstance(delta, bool) or not isinstance(delta, int) or abs(delta) > MAX_QUANTITY:
        raise ValidationFailed("The change must be a whole number.", {"stock": "a whole number"})
    if db.session.get(Variant, variant_id) is None:
        raise NotFound("No such product variant.")
    db.session.execute(pg_insert(StockLevel)
                       .values(org_id=tenancy.current_org_id(), variant_id=variant_id)
                       .on_conflict_do_nothing(index_elements=["org_id", "variant_id"]))
    if delta == 0:
        return int(db.session.scalar(select(StockLevel.on_hand)
                                     .where(StockLevel.variant_id == variant_id)))
    changed = _change_stock(variant_id, _rising(delta),
                            StockLevel.on_hand + delta >= StockLevel.reserved)
    if changed is None:
        on_hand, reserved = db.session.execute(
            select(StockLevel.on_hand, StockLevel.reserved)
            .where(StockLevel.variant_id == variant_id)).one()
        held = f", {reserved} of them held by open checkouts" if reserved else ""
        raise ValidationFailed(f"Cannot remove {-delta}: {on_hand} on hand{held}.",
                               {"stock": f"at least {reserved}" if reserved else "not below 0"})
    db.session.add(StockMovement(variant_id=variant_id, kind=MovementKind(kind), quantity=delta,
                                 actor_user_id=actor_id, note=(note or "")[:500]))
    if delta < 0:
        _alert_if_low(variant_id)
    return changed[0]


def _alert_if_low(variant_id: int) -> None:
    """Tell the managers once when stock is at or below the variant's threshold; the alert is
    re-armed when stock rises above it (see _rising)."""
    row = db.session.execute(
        update(StockLevel)
        .where(StockLevel.variant_id == variant_id, StockLevel.low_stock_alerted_at.is_(None),
               StockLevel.on_hand <= StockLevel.low_stock_threshold)
        .values(low_stock_alerted_at=utcnow())
        .returning(StockLevel.on_hand, StockLevel.low_stock_threshold)
        .execution_options(synchronize_session=False)).first()
    if row is None:
        return
    on_hand, threshold = row
    name, sku = db.session.execute(
        select(Product.name, Variant.sku).join(Product, Product.id == Variant.product_id)
        .where(Variant.id == variant_id)).one()
    state = "is sold out" if on_hand <= 0 else f"is down to {on_hand}"
    from storefront.alerts import notify_staff

    notify_staff("low_stock", f"Low stock: {name} ({sku}) {state} (alert at {threshold}).")
