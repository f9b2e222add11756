"""Jobs of the store: reservations that ran out go back on the shelf.

The scheduler (worker.tasks) finds the orgs with an expired reservation and enqueues one job
per org; the job releases them and cancels the card orders that were never paid for.
"""

from __future__ import annotations

from sqlalchemy import select

from helpdesk.core import tenancy
from helpdesk.core.jobs import get_queue, org_job
from helpdesk.core.models import utcnow
from helpdesk.extensions import db, redis_store
from storefront import order_events, orders
from storefront.models import OrderStatus, PaymentStatus, Reservation

QUEUED_TTL = 300  # a lost job frees its org for a later sweep after this many seconds


def _queued_key(org_id: int) -> str:
    return f"shop:expiry-queued:{org_id}"


def enqueue_expired_releases() -> int:
    """Scheduler: one release job per org with an open reservation past its expiry (none while
    one is already waiting)."""
    queued = 0
    for org_id in _orgs_with_expired():
        if redis_store.client.set(_queued_key(org_id), 1, nx=True, ex=QUEUED_TTL):
            get_queue("default").enqueue(release_expired_reservations, org_id)
            queued += 1
    return queued


@org_job
def release_expired_reservations(org_id: int) -> int:
    """Release the org's expired reservations; a card order still waiting for its payment is
    cancelled (its items are no longer held). Safe to run twice. Returns units released."""
    from storefront import inventory

    redis_store.client.delete(_queued_key(org_id))
    expired = inventory.release_expired()
    for order_id in sorted({r.order_id for r in expired if r.order_id is not None}):
        order = orders.get_order(order_id, for_update=True)
        if order is None:
            continue
        order_events.reservation_expired(order)
        if order.status is OrderStatus.PLACED and order.payment_status in (
                PaymentStatus.PENDING, PaymentStatus.FAILED):
            orders.change_status(None, order, OrderStatus.CANCELLED,
                                 reason="the payment did not arrive before the reservation "
                                        "expired")
    return sum(r.quantity for r in expired)


def _orgs_with_expired() -> list[int]:
    with tenancy.system_scope():
        org_ids = db.session.scalars(
            select(Reservation.org_id)
            .where(Reservation.expires_at <= utcnow(), Reservation.released_at.is_(None),
                   Reservation.committed_at.is_(None))
            .group_by(Reservation.org_id)).all()
        db.session.rollback()
    return list(org_ids)
