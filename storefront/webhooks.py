"""POST /webhooks/stripe: Stripe tells us how payments ended.

Global (not under an org) and CSRF-exempt: Stripe signs each event with STRIPE_WEBHOOK_SECRET
and `stripe.Webhook.construct_event` checks it. Each event is processed once: its StripeEvent
row is inserted (ON CONFLICT DO NOTHING) in the same transaction as its effects, so a replay, or
a retry racing the first delivery, finds the row and does nothing, and a delivery that fails
leaves no row behind and is processed again on Stripe's retry.

The org is the one whose connected account the event names (`account`), or the one our
metadata names (org_id) for payments on the platform account; the order is looked up inside
that org only. An event whose account is not the account of the org (and order) our metadata
names is refused with 400 and changes nothing. Events about payments we did not make (a
tenant's own Stripe integration) are acknowledged and ignored.

    payment_intent.succeeded       stock sold, payment paid, order confirmed, confirmation mail
                                   (paid after the hold ran out and the stock is gone, or for
                                   a cancelled order: refunded in full and cancelled)
    payment_intent.payment_failed  stock released, payment failed (the customer may retry)
    charge.refunded                refunds made at Stripe (dashboard) booked on the order
    account.application.deauthorized  the org's connected account is forgotten
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import stripe
from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from helpdesk.core import tenancy
from helpdesk.core.exceptions import ServiceError
from helpdesk.extensions import db
from helpdesk.orgs.models import Organization
from storefront import inventory, order_events, orders, payments
from storefront.models import (
    Order,
    OrderStatus,
    Payment,
    PaymentStatus,
    StripeEvent,
)

bp = Blueprint("stripe_webhooks", __name__)
log = logging.getLogger(__name__)
SETTLED = {PaymentStatus.PAID, PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED}


class WebhookRefused(Exception):
    """An event we will not apply (400): it contradicts what we know. Nothing is changed."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _answer(status: int, message: str, **data):
    return jsonify(received=status < 400, message=message, **data), status


@bp.post("/webhooks/stripe")
def stripe_webhook():
    secret = current_app.config.get("STRIPE_WEBHOOK_SECRET")
    if not secret:
        return _answer(503, "Stripe webhooks are not set up here (no STRIPE_WEBHOOK_SECRET).")
    payload = request.get_data()
    signature = request.headers.get("Stripe-Signature")
    if not signature:
        return _answer(400, "The Stripe-Signature header is missing.")
    try:
        stripe.Webhook.construct_event(payload, signature, secret)
        event = json.loads(payload)
    except stripe.SignatureVerificationError:
        return _answer(400, "The Stripe-Signature header does not match this payload.")
    except Exception:  # signed, but not an event the library can read (not JSON, a list...)
        return _answer(400, "The payload is not a JSON event.")
    try:
        outcome = handle_event(event)
    except WebhookRefused as error:
        log.warning("stripe event %s refused: %s", event.get("id"), error.message)
        return _answer(400, error.message)
    except ServiceError as error:  # e.g. an event out of order: Stripe retries it later
        log.warning("stripe event %s not applied: %s", event.get("id"), error.message)
        return _answer(error.status, error.message)
    return _answer(200, outcome)


def handle_event(event: dict) -> str:
    """Apply one verified event (once); returns what became of it. Raises WebhookRefused."""
    event = event if isinstance(event, dict) else {}
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    obj = data.get("object")
    event_id, kind, account = event.get("id"), event.get("type"), event.get("account")
    if not (isinstance(event_id, str) and isinstance(kind, str) and isinstance(obj, dict)
            and (account is None or isinstance(account, str))):
        raise WebhookRefused("This is not a Stripe event (id, type and data.object expected).")
    if not _first_delivery(event_id, account, kind):
        return "duplicate: already processed"
    if kind == "account.application.deauthorized":
        return _deauthorized(account)
    handler = HANDLERS.get(kind)
    if handler is None:
        return f"ignored: {kind}"
    intent_id = obj.get("payment_intent") if kind.startswith("charge.") else obj.get("id")
    found = _find_order(account, obj.get("metadata") or {}, intent_id)
    if found is None:
        return "ignored: not a payment of this shop"
    return handler(*found, obj)


def _first_delivery(event_id: str, account: str | None, kind: str) -> bool:
    inserted = db.session.execute(
        pg_insert(StripeEvent).values(id=event_id[:255], account=account, type=kind[:100])
        .on_conflict_do_nothing(index_elements=["id"]).returning(StripeEvent.id)).scalar()
    return inserted is not None


def _find_order(account: str | None, metadata: dict, intent_id: object
                ) -> tuple[Organization, Order] | None:
    """The org and order of a payment event, after checking that the account, our metadata and
    the order agree. None for payments that are not ours."""
    ours = "org_id" in metadata
    org = None
    if account:
        org = db.session.scalar(select(Organization)
                                .where(Organization.stripe_account_id == account))
        if org is None:
            if ours:
                raise WebhookRefused(f"Account {account} is not connected to the organization "
                                     "that made this payment.")
            return None
    if ours:
        org_id = str(metadata.get("org_id"))
        if org is not None and str(org.id) != org_id:
            raise WebhookRefused(f"Account {account} belongs to another organization than the "
                                 "one that made this payment.")
        if org is None and org_id.isdigit() and len(org_id) < 19:
            org = db.session.get(Organization, int(org_id))
    if org is None or not isinstance(intent_id, str):
        return None
    tenancy.set_current_org(org.id)
    order = db.session.scalar(select(Order).where(Order.stripe_payment_intent_id == intent_id)
                              .with_for_update(of=Order)
                              .execution_options(populate_existing=True))
    if ours and "order_id" in metadata and (order is None
                                            or str(order.id) != str(metadata["order_id"])):
        raise WebhookRefused("This payment is not the payment of that order in this "
                             "organization.")
    return None if order is None else (org, order)


def _deauthorized(account: str | None) -> str:
    org = account and db.session.scalar(select(Organization)
                                        .where(Organization.stripe_account_id == account))
    if not org:
        return "ignored: unknown account"
    tenancy.set_current_org(org.id)
    payments.forget_account(org)
    return f"account {account} disconnected"


def _paid_amount(order: Order, intent: dict) -> int:
    amount = intent.get("amount_received") or intent.get("amount")
    if amount != order.total or str(intent.get("currency", "")).upper() != order.currency:
        raise WebhookRefused(f"The payment ({amount} {intent.get('currency')}) does not match "
                             f"order #{order.number} ({order.total} {order.currency}).")
    return amount


def _intent_succeeded(org: Organization, order: Order, intent: dict) -> str:
    if order.payment_status in SETTLED:
        return f"order #{order.number} was paid already"
    amount = _paid_amount(order, intent)
    db.session.add(Payment(order_id=order.id, kind="charge", provider="stripe",
                           provider_id=intent["id"], amount=amount, status="succeeded"))
    if order.status is OrderStatus.CANCELLED or not _sell_stock(order):
        return _refund_unfulfillable(org, order, amount)
    orders.change_payment_status(None, order, PaymentStatus.PAID, reason="card payment received",
                                 intent=intent["id"], amount=amount)
    orders.change_status(None, order, OrderStatus.CONFIRMED, reason="paid by card")
    send_confirmation(order)
    db.session.flush()
    return f"order #{order.number} paid and confirmed"


def _sell_stock(order: Order) -> bool:
    """Turn the checkout's hold into a sale. When the hold ran out before the payment came
    (or a failed attempt released it), take the stock again if it is still there."""
    try:
        with db.session.begin_nested():
            sold = inventory.commit(order.idempotency_key, order.id)
    except ServiceError:  # ReservationExpired, or the checkout holds nothing any more
        try:
            with db.session.begin_nested():
                late_key = f"order-{order.id}-paid-late"
                for line in sorted(orders.lines_of(order), key=lambda line: line.id):
                    if line.variant_id is not None:
                        inventory.reserve(line.variant_id, line.quantity, late_key)
                sold = inventory.commit(late_key, order.id)
        except ServiceError as error:  # OutOfStock
            log.warning("order %s paid but its stock is gone: %s", order.id, error.message)
            return False
    order_events.stock_committed(order, [{"variant_id": r.variant_id, "quantity": r.quantity}
                                         for r in sold])
    return True


def _refund_unfulfillable(org: Organization, order: Order, amount: int) -> str:
    """Paid, but the order cannot be delivered: give the money back and cancel the order."""
    reason = ("paid after the order was cancelled" if order.status is OrderStatus.CANCELLED
              else "paid after the reserved stock ran out, and it is sold out")
    inventory.release(order.idempotency_key)
    orders.change_payment_status(None, order, PaymentStatus.PAID, reason="card payment received",
                                 intent=order.stripe_payment_intent_id, amount=amount)
    made = payments.create_refund(org, order, amount - order.refunded,
                                  f"refund-unfulfillable-{org.id}-{order.id}")
    payments.record_refund(None, order, amount - order.refunded, made.id, made.status, [],
                           reason=f"refunded in full: {reason}")
    orders.change_status(None, order, OrderStatus.CANCELLED, reason=reason)
    return f"order #{order.number} {reason}: refunded in full and cancelled"


def _intent_failed(org: Organization, order: Order, intent: dict) -> str:
    if order.payment_status in SETTLED:
        return f"order #{order.number} was paid already"
    error = intent.get("last_payment_error") or {}
    inventory.release(order.idempotency_key)
    db.session.add(Payment(order_id=order.id, kind="charge", provider="stripe",
                           provider_id=intent["id"], amount=intent.get("amount") or 0,
                           status="failed"))
    orders.change_payment_status(None, order, PaymentStatus.FAILED,
                                 reason=error.get("message") or "the card payment failed",
                                 intent=intent["id"], code=error.get("code"))
    db.session.flush()
    return f"order #{order.number} payment failed; its stock was released"


def _charge_refunded(org: Organization, order: Order, charge: dict) -> str:
    """Refunds made at Stripe: book what the order does not know yet (refunds made here are
    booked already; they raised the order's refunded total before this event came)."""
    refunded = charge.get("amount_refunded")
    if not isinstance(refunded, int) or refunded <= order.refunded:
        return f"order #{order.number} refunds up to date"
    known = set(db.session.scalars(select(Payment.provider_id).where(
        Payment.order_id == order.id, Payment.kind == "refund")))
    refunds = (charge.get("refunds") or {}).get("data") or []
    new_ids = [r.get("id") for r in refunds if isinstance(r, dict) and r.get("id") not in known]
    amount = min(refunded, order.total) - order.refunded
    payments.record_refund(None, order, amount, new_ids[0] if new_ids else charge.get("id"),
                           "succeeded", [], reason="refunded at Stripe")
    return f"order #{order.number} refund of {amount} booked"


def send_confirmation(order: Order) -> None:
    """The order confirmation mail (the checkout's, queued in the Outbox)."""
    from storefront import checkout

    checkout.send_confirmation(order)


HANDLERS: dict[str, Callable[[Organization, Order, dict], str]] = {
    "payment_intent.succeeded": _intent_succeeded,
    "payment_intent.payment_failed": _intent_failed,
    "charge.refunded": _charge_refunded,
}
