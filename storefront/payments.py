"""Card payments through Stripe PaymentIntents, and refunds.

The shop's checkout makes the order, then `start_payment` makes its PaymentIntent and hands the
client secret to Stripe.js, which collects the card. Stripe tells us the outcome by webhook
(storefront.webhooks): only then is the stock sold and the order confirmed.

With a connected account (Organization.stripe_account_id) the charge is made on it (direct
charge, `Stripe-Account` header) and the platform takes the plan's application fee. Without
one the platform account takes the payment; the fee is still recorded on the order. Without
STRIPE_SECRET_KEY the shop takes cash on delivery only.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import stripe
from flask import current_app
from sqlalchemy import select, update

from helpdesk.core.exceptions import Conflict, NotFound, ServiceError, ValidationFailed
from helpdesk.customers.models import Customer
from helpdesk.extensions import db
from helpdesk.orgs.models import Organization
from storefront import inventory, order_events, orders
from storefront.models import Order, OrderEvent, OrderLine, Payment, PaymentMethod, PaymentStatus

log = logging.getLogger(__name__)
BASIS_POINTS = 10_000
OPEN_INTENT_STATES = {"requires_payment_method", "requires_confirmation", "requires_action"}
REFUNDABLE = {PaymentStatus.PAID, PaymentStatus.PARTIALLY_REFUNDED}
ACCOUNT_ID = re.compile(r"acct_[A-Za-z0-9]{6,100}")


class PaymentUnavailable(ServiceError):
    """Stripe cannot be used right now (not configured, unreachable): nothing was charged."""

    status = 503


def stripe_enabled() -> bool:
    """Card payments are offered (STRIPE_SECRET_KEY is set); otherwise cash on delivery only."""
    return bool(current_app.config.get("STRIPE_SECRET_KEY"))


def client() -> stripe.StripeClient:
    """The Stripe client of this app (STRIPE_API_BASE points it at localstripe in tests).
    Raises PaymentUnavailable when no key is set."""
    config = current_app.config
    key = config.get("STRIPE_SECRET_KEY")
    if not key:
        raise PaymentUnavailable("Card payments are not set up: this shop takes cash on delivery "
                                 "only.", {"payment": "card payments are not available"})
    base = config.get("STRIPE_API_BASE") or stripe.DEFAULT_API_BASE
    clients = current_app.extensions.setdefault("stripe_clients", {})
    if (key, base) not in clients:
        clients[(key, base)] = stripe.StripeClient(key, base_addresses={"api": base},
                                                   max_network_retries=2)
    return clients[(key, base)]


@contextmanager
def stripe_errors(what: str) -> Iterator[None]:
    """Turn Stripe's errors into service errors a customer or agent can act on."""
    try:
        yield
    except stripe.CardError as error:
        raise ValidationFailed(error.user_message or "The card was declined.",
                               {"payment": error.code or "declined"}) from error
    except stripe.InvalidRequestError as error:
        log.warning("stripe refused %s: %s", what, error)
        raise ValidationFailed(f"Stripe refused {what}: {error.user_message or error}",
                               {"payment": error.code or "refused"}) from error
    except (stripe.AuthenticationError, stripe.PermissionError) as error:
        log.error("stripe credentials refused for %s: %s", what, error)
        raise PaymentUnavailable("Card payments are misconfigured (Stripe refused our keys); "
                                 "nothing was charged.") from error
    except stripe.StripeError as error:  # connection, rate limit, Stripe's own errors
        log.warning("stripe unavailable for %s: %s", what, error)
        raise PaymentUnavailable(f"Stripe could not be reached for {what}; nothing was changed. "
                                 "Please try again in a minute.") from error


def request_options(org: Organization, idempotency_key: str | None = None) -> dict[str, str]:
    options = {}
    if org.stripe_account_id:
        options["stripe_account"] = org.stripe_account_id
    if idempotency_key:
        options["idempotency_key"] = idempotency_key
    return options


def application_fee(org: Organization, amount: int) -> int:
    """The platform's cut of `amount` on the org's plan, rounded down (in the shop's favour)."""
    return amount * org.plan_info.application_fee_bps // BASIS_POINTS


def stripe_customer(org: Organization, customer: Customer) -> str:
    """The customer's Stripe Customer on the org's account, made the first time (saved cards
    are kept on it). Raises like stripe_errors."""
    if customer.stripe_customer_id:
        return customer.stripe_customer_id
    with stripe_errors("the customer record"):
        made = client().v1.customers.create(
            {"email": customer.email, "name": customer.name or customer.email,
             "metadata": {"org_id": str(org.id), "customer_id": str(customer.id)}},
            request_options(org, f"customer-{org.id}-{customer.id}-{org.stripe_account_id}"))
    customer.stripe_customer_id = made.id
    return made.id


def start_payment(order: Order) -> str:
    """Make (or find again) the order's PaymentIntent; returns its client secret for Stripe.js.

    Raises PaymentUnavailable (503) without keys or when Stripe is unreachable, Conflict when
    the order is not awaiting a card payment, ValidationFailed when Stripe refuses it.
    """
    if order.payment_method is not PaymentMethod.STRIPE:
        raise Conflict(f"Order #{order.number} is paid on delivery, not by card.",
                       {"payment": "cash on delivery"})
    if order.payment_status not in (PaymentStatus.PENDING, PaymentStatus.FAILED):
        raise Conflict(f"Order #{order.number} is {order.payment_status.value}: there is "
                       "nothing left to pay.", {"payment": order.payment_status.value})
    if order.total <= 0:
        raise ValidationFailed("There is nothing to pay for this order.", {"payment": "0"})
    org = db.session.get(Organization, order.org_id)
    api = client()
    if order.stripe_payment_intent_id:
        with stripe_errors("the payment"):
            intent = api.v1.payment_intents.retrieve(order.stripe_payment_intent_id, {},
                                                     request_options(org))
        if intent.status in OPEN_INTENT_STATES:
            return intent.client_secret
        if intent.status != "canceled":
            raise Conflict(f"The payment of order #{order.number} is already {intent.status}.",
                           {"payment": intent.status})
    fee = application_fee(org, order.total)
    params: dict[str, Any] = {
        "amount": order.total, "currency": order.currency.lower(),
        "metadata": {"org_id": str(org.id), "order_id": str(order.id),
                     "order_number": str(order.number)},
    }
    customer = db.session.get(Customer, order.customer_id)
    if customer is not None:
        params["customer"] = stripe_customer(org, customer)
    if org.stripe_account_id and fee:
        params["application_fee_amount"] = fee
    # Keys are per Stripe account and the platform account is shared by every org: the order's
    # own key (unique per org) is prefixed with the org. A canceled intent gets a fresh key.
    key = f"order-{org.id}-{order.idempotency_key}"
    if order.stripe_payment_intent_id:
        key = f"{key}-after-{order.stripe_payment_intent_id}"
    with stripe_errors("the payment"):
        intent = api.v1.payment_intents.create(params, request_options(org, key))
    order.stripe_payment_intent_id = intent.id
    order.application_fee = fee
    db.session.add(OrderEvent(org_id=order.org_id, order_id=order.id, kind="payment_started",
                              data={"provider": "stripe", "intent": intent.id,
                                    "account": org.stripe_account_id, "application_fee": fee,
                                    "fee_sent": "application_fee_amount" in params}))
    db.session.flush()
    return intent.client_secret


def cancel_payment(order: Order) -> bool:
    """Cancel the order's open PaymentIntent, so that an order cancelled before it was paid can
    no longer be paid. False when there is none, or it was paid or cancelled meanwhile (a
    payment that still arrives is refunded by the webhook). Raises PaymentUnavailable."""
    if not order.stripe_payment_intent_id or not stripe_enabled():
        return False
    org = db.session.get(Organization, order.org_id)
    api = client()
    with stripe_errors("the payment"):
        intent = api.v1.payment_intents.retrieve(order.stripe_payment_intent_id, {},
                                                 request_options(org))
        if intent.status not in OPEN_INTENT_STATES:
            return False
        api.v1.payment_intents.cancel(intent.id, {}, request_options(org))
    return True


def _refund_lines(order: Order, lines: list[dict] | None) -> list[tuple[OrderLine, int]]:
    """The (line, quantity) pairs to restock ([{line_id, quantity}], quantity defaulting to
    what is left of the line), checked against what the order still holds."""
    if not lines:
        return []
    if not isinstance(lines, list):
        raise ValidationFailed("Refund lines are a list of {line_id, quantity}.",
                               {"lines": "a list"})
    by_id = {line.id: line for line in orders.lines_of(order)}
    wanted: dict[int, int] = {}
    errors = {}
    for index, item in enumerate(lines):
        item = item if isinstance(item, dict) else {}
        line_id = item.get("line_id")
        line = by_id.get(line_id) if type(line_id) is int else None
        if line is None:
            errors[f"lines.{index}.line_id"] = "not a line of this order"
            continue
        left = line.quantity - line.refunded_quantity - wanted.get(line.id, 0)
        quantity = item.get("quantity", left)
        if type(quantity) is not int or not 1 <= quantity <= left:
            errors[f"lines.{index}.quantity"] = f"1 to {left}" if left > 0 else \
                "already refunded"
            continue
        wanted[line.id] = wanted.get(line.id, 0) + quantity
    if errors:
        raise ValidationFailed("Some refund lines are invalid.", errors)
    return [(by_id[line_id], quantity) for line_id, quantity in wanted.items()]


def refund_amount(order: Order, amount: int | None, picked: list[tuple[OrderLine, int]]) -> int:
    left = order.total - order.refunded
    if amount is None:
        amount = sum(line.unit_price * quantity for line, quantity in picked) if picked else left
        amount = min(amount, left)
    elif type(amount) is not int:
        raise ValidationFailed("The amount must be a whole number of cents.",
                               {"amount": "a whole number (minor units)"})
    if amount < 1 or amount > left:
        raise ValidationFailed(f"The refund must be between 1 and {left} (what is left of "
                               f"the {order.total} paid).", {"amount": f"1 to {left}"})
    return amount


def create_refund(org: Organization, order: Order, amount: int, key: str) -> Any:
    with stripe_errors("the refund"):
        return client().v1.refunds.create(
            {"payment_intent": order.stripe_payment_intent_id, "amount": amount,
             "metadata": {"org_id": str(org.id), "order_id": str(order.id)}},
            request_options(org, key))


def record_refund(actor_id: int | None, order: Order, amount: int, provider_id: str | None,
                  status: str, picked: list[tuple[OrderLine, int]], reason: str) -> Payment:
    """Book a refund made at Stripe: the order's refunded total and payment status, a Payment
    row, the refunded lines back in stock, the timeline."""
    order.refunded += amount
    payment = Payment(org_id=order.org_id, order_id=order.id, kind="refund", provider="stripe",
                      provider_id=provider_id, amount=amount, status=status)
    db.session.add(payment)
    restocked = []
    for line, quantity in picked:
        line.refunded_quantity += quantity
        if inventory.restock(line, quantity, actor_id=actor_id, note=f"refund {provider_id}"):
            restocked.append({"line_id": line.id, "quantity": quantity})
    new = (PaymentStatus.REFUNDED if order.refunded >= order.total
           else PaymentStatus.PARTIALLY_REFUNDED)
    orders.change_payment_status(actor_id, order, new, reason=reason, amount=amount,
                                 refund=provider_id)
    order_events.refunded(order, actor_id, amount, "stripe",
                          [{"line_id": line.id, "quantity": q} for line, q in picked])
    if restocked:
        order_events.restocked(order, actor_id, restocked)
    db.session.flush()
    return payment


def refund(order: Order, amount: int | None = None, lines: list[dict] | None = None,
           actor_id: int | None = None) -> Payment:
    """Refund a card order at Stripe, all of what is left or `amount` (minor units), and put
    `lines` ([{line_id, quantity}]) back in stock. Without an amount, the lines' price (or
    everything left when no lines are given) is refunded.

    Raises Conflict when the order is not a paid card order, ValidationFailed for a bad amount
    or line, PaymentUnavailable when Stripe cannot be reached (nothing changes).
    """
    # One refund of an order at a time; read again once locked (another may just have ended).
    order = db.session.scalar(select(Order).where(Order.id == order.id)
                              .with_for_update(of=Order)
                              .execution_options(populate_existing=True))
    if order is None:
        raise NotFound("No such order.")
    if order.payment_method is not PaymentMethod.STRIPE:
        raise Conflict(f"Order #{order.number} was not paid by card: refund it by hand.",
                       {"payment": order.payment_method.value})
    if not stripe_enabled():
        raise Conflict("Refunds need Stripe: card refunds are not available here.",
                       {"refund": "refunds need Stripe"})
    if not order.stripe_payment_intent_id:
        raise Conflict(f"Order #{order.number} has no Stripe payment to refund.",
                       {"refund": "no Stripe payment"})
    if order.payment_status not in REFUNDABLE:
        raise Conflict(f"Order #{order.number} is {order.payment_status.value}: there is no "
                       "payment to refund.", {"payment": order.payment_status.value})
    picked = _refund_lines(order, lines)
    amount = refund_amount(order, amount, picked)
    org = db.session.get(Organization, order.org_id)
    # The order's refunded total is part of the key: a retried request (same state) finds the
    # same refund at Stripe; the next refund of the same amount is a new one.
    made = create_refund(org, order, amount,
                         f"refund-{org.id}-{order.id}-{order.refunded}-{amount}")
    return record_refund(actor_id, order, amount, made.id, made.status, picked,
                         reason="refunded by staff" if actor_id else "refunded")


# The org's connected account ----------------------------------------------------------------

def connect_account(org: Organization, account_id: str) -> bool:
    """Connect the org's shop to its Stripe account (acct_...); False when it already was.
    With a key set, Stripe is asked whether it knows the account.

    Raises ValidationFailed for a malformed id or one Stripe does not know (or that is not
    connected to this platform), Conflict when another org has it, PaymentUnavailable when
    Stripe cannot be asked (nothing changes).
    """
    account_id = (account_id or "").strip()
    if not ACCOUNT_ID.fullmatch(account_id):
        message = "A Stripe account id is acct_ followed by letters and digits."
        raise ValidationFailed(message, {"account_id": message})
    if account_id == org.stripe_account_id:
        return False
    taken = db.session.scalar(select(Organization.id).where(
        Organization.stripe_account_id == account_id, Organization.id != org.id))
    if taken is not None:
        message = "That Stripe account is connected to another organization."
        raise Conflict(message, {"account_id": message})
    if stripe_enabled():
        try:
            client().v1.accounts.retrieve(account_id)
        except (stripe.InvalidRequestError, stripe.PermissionError) as error:
            log.info("stripe does not know account %s: %s", account_id, error)
            message = (f"Stripe does not know {account_id}, or it is not connected to this "
                       "platform.")
            raise ValidationFailed(message, {"account_id": message}) from error
        except stripe.StripeError as error:
            log.warning("stripe unavailable checking %s: %s", account_id, error)
            raise PaymentUnavailable("Stripe could not be reached to check the account; "
                                     "nothing was changed. Try again in a minute.") from error
    log.info("org %s connects stripe account %s (was %s)", org.id, account_id,
             org.stripe_account_id)
    org.stripe_account_id = account_id
    _forget_stripe_customers()
    db.session.flush()
    return True


def forget_account(org: Organization) -> bool:
    """Disconnect the org's Stripe account (by the org, or because Stripe says the account
    revoked our access); False when none was connected."""
    if org.stripe_account_id is None:
        return False
    log.info("org %s disconnects stripe account %s", org.id, org.stripe_account_id)
    org.stripe_account_id = None
    _forget_stripe_customers()
    db.session.flush()
    return True


def _forget_stripe_customers() -> None:
    """Stripe Customers live on one account: the next payment makes them anew on the new one."""
    db.session.execute(update(Customer).where(Customer.stripe_customer_id.is_not(None))
                       .values(stripe_customer_id=None)
                       .execution_options(synchronize_session=False))
