"""Card payments against localstripe (real HTTP): the PaymentIntent of a card order (on the
connected account, with the plan's fee, the buyer's Stripe Customer and our metadata), paying
it with test cards, refunds in full and in part, and the shop without Stripe keys."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from helpdesk.core.exceptions import Conflict, NotFound, ValidationFailed
from helpdesk.customers.models import Customer
from helpdesk.orgs.models import Organization
from storefront import checkout, payments
from storefront.models import Order, StockMovement
from tests.stripe_server import LocalStripeError


def _pay(shop, order, card="4242424242424242"):
    return shop.server.pay(order.intent_id, card)


def _paid(shop, order, stripe_event, send_event):
    """Pay the order with the test card and deliver Stripe's webhook about it."""
    _pay(shop, order)
    response = send_event(stripe_event("payment_intent.succeeded", order.intent_id, shop.account))
    assert response.status_code == 200, response.get_json()


# Without keys: cash on delivery only --------------------------------------------------------------

def test_without_a_stripe_key_the_shop_takes_cash_on_delivery_only(app, make_org, in_org):
    assert app.config["STRIPE_SECRET_KEY"] == ""
    org = make_org()
    with app.app_context():
        assert payments.stripe_enabled() is False
        assert checkout.stripe_enabled() is False
    with in_org(org.id) as session:
        organization = session.get(Organization, org.id)
        with pytest.raises(ValidationFailed) as refused:
            checkout.place_order(organization, email="a@example.com", items=[],
                                 payment="stripe")
        assert "only cash on delivery" in refused.value.fields["payment"]
        with pytest.raises(payments.PaymentUnavailable) as unavailable:
            payments.client()
        assert unavailable.value.status == 503
        assert session.scalar(select(Order.id)) is None


def test_with_keys_stripe_is_enabled(app, stripe_keys):
    with app.app_context():
        assert payments.stripe_enabled() is True


# The PaymentIntent --------------------------------------------------------------------------------

def test_a_card_order_gets_a_payment_intent_on_the_connected_account(
        card_shop, place_card_order, order_state, in_org):
    shop = card_shop(plan="starter")
    order = place_card_order(shop, (2, 1))
    assert order.total >= 3 * shop.price
    assert order.client_secret.startswith(order.intent_id + "_secret_")
    fee = order.total * 200 // 10_000  # starter: 2 %
    assert order.application_fee == fee

    intent = shop.server.intent(order.intent_id)
    assert (intent["amount"], intent["currency"]) == (order.total, "eur")
    assert intent["status"] == "requires_payment_method"
    assert intent["application_fee_amount"] == fee
    assert intent["metadata"] == {"org_id": str(shop.org.id), "order_id": str(order.id),
                                  "order_number": str(order.number)}
    [created] = [r for r in shop.server.requests_log("/v1/payment_intents")
                 if r["fields"].get("metadata[order_id]") == str(order.id)]
    assert created["stripe_account"] == shop.account
    assert created["idempotency_key"] == f"order-{shop.org.id}-{order.key}"

    # The buyer's Stripe Customer, made on the same account, is kept for saved cards.
    with in_org(shop.org.id) as session:
        customer_id = session.get(Customer, order.customer_id).stripe_customer_id
    assert customer_id and intent["customer"] == customer_id
    [made] = [r for r in shop.server.requests_log("/v1/customers")
              if r["fields"].get("metadata[customer_id]") == str(order.customer_id)]
    assert made["stripe_account"] == shop.account
    # Stock is held for the checkout, not sold yet; the timeline says what was sent.
    state = order_state(shop, order.id)
    assert state.stock == {shop.variant_ids[0]: (5, 2), shop.variant_ids[1]: (5, 1)}
    assert (state.status, state.payment_status) == ("placed", "pending")
    assert "payment_started" in state.events


def test_the_fee_follows_the_plan(card_shop, place_card_order):
    for plan, basis_points in (("growing", 100), ("professional", 50), ("enterprise", 0)):
        shop = card_shop(plan=plan)
        order = place_card_order(shop, (1, 0))
        assert order.application_fee == order.total * basis_points // 10_000
        intent = shop.server.intent(order.intent_id)
        assert intent["application_fee_amount"] == (order.application_fee or None)


def test_without_a_connected_account_the_platform_takes_the_payment(
        card_shop, place_card_order):
    shop = card_shop(account=False)
    order = place_card_order(shop, (1, 1))
    [created] = [r for r in shop.server.requests_log("/v1/payment_intents")
                 if r["fields"].get("metadata[order_id]") == str(order.id)]
    assert created["stripe_account"] is None
    assert "application_fee_amount" not in created["fields"]  # Stripe refuses it there
    assert order.application_fee == order.total * 200 // 10_000  # still the platform's share


def test_starting_again_finds_the_same_intent_and_customer(
        card_shop, place_card_order, in_org):
    shop = card_shop()
    order = place_card_order(shop, (1, 0), email="same@example.com")
    with in_org(shop.org.id) as session:
        again = payments.start_payment(session.get(Order, order.id))
    assert again == order.client_secret
    second = place_card_order(shop, (0, 1), email="same@example.com")
    assert second.customer_id == order.customer_id
    creates = [r for r in shop.server.requests_log("/v1/payment_intents")
               if r["method"] == "POST" and r["fields"].get("metadata[org_id]") == str(
                   shop.org.id)]
    assert len(creates) == 2  # one per order, none for the second start
    customers = [r for r in shop.server.requests_log("/v1/customers")
                 if r["fields"].get("metadata[org_id]") == str(shop.org.id)]
    assert len(customers) == 1


def test_the_same_checkout_twice_is_one_order_and_one_intent(card_shop, place_card_order):
    shop = card_shop()
    first = place_card_order(shop, (1, 0), key="double-click-key")
    second = place_card_order(shop, (1, 0), key="double-click-key")
    assert second.id == first.id and second.intent_id == first.intent_id
    creates = [r for r in shop.server.requests_log("/v1/payment_intents")
               if r["fields"].get("metadata[order_id]") == str(first.id)]
    assert len(creates) == 1


def test_a_paid_or_cash_order_is_not_started_again(
        card_shop, place_card_order, stripe_event, send_event, in_org):
    shop = card_shop()
    order = place_card_order(shop, (1, 0))
    _paid(shop, order, stripe_event, send_event)
    with in_org(shop.org.id) as session, pytest.raises(Conflict, match="nothing left to pay"):
        payments.start_payment(session.get(Order, order.id))


def test_cancelling_an_unpaid_order_cancels_its_intent(card_shop, place_card_order, in_org,
                                                       stripe_event, send_event):
    shop = card_shop()
    order = place_card_order(shop, (1, 0))
    with in_org(shop.org.id) as session:
        assert payments.cancel_payment(session.get(Order, order.id)) is True
        assert payments.cancel_payment(session.get(Order, order.id)) is False
    assert shop.server.intent(order.intent_id)["status"] == "canceled"
    with pytest.raises(LocalStripeError):  # Stripe.js can no longer pay it
        shop.server.pay(order.intent_id)
    paid = place_card_order(shop, (0, 1))
    _paid(shop, paid, stripe_event, send_event)
    with in_org(shop.org.id) as session:
        assert payments.cancel_payment(session.get(Order, paid.id)) is False
    assert shop.server.intent(paid.intent_id)["status"] == "succeeded"


def test_stripe_unreachable_places_no_order(app, card_shop, in_org):
    shop = card_shop()
    app.config["STRIPE_API_BASE"] = "http://127.0.0.1:9"  # nothing listens on the discard port
    # As in a request: the error leaves the unit of work, which rolls back.
    with (pytest.raises(payments.PaymentUnavailable, match="could not be reached"),
          in_org(shop.org.id) as session):
        checkout.place_order(session.get(Organization, shop.org.id),
                             email="b@example.com", payment="stripe",
                             items=[{"variant_id": shop.variant_ids[0], "quantity": 1}])
    with in_org(shop.org.id) as session:
        assert session.scalar(select(Order.id)) is None


# Paying with test cards ---------------------------------------------------------------------------

def test_the_test_card_pays_and_the_webhook_confirms(
        card_shop, place_card_order, order_state, stripe_event, send_event):
    shop = card_shop()
    order = place_card_order(shop, (2, 1))
    intent = _pay(shop, order)
    assert intent["status"] == "succeeded"
    assert order_state(shop, order.id).payment_status == "pending"  # until Stripe tells us
    response = send_event(stripe_event("payment_intent.succeeded", order.intent_id, shop.account))
    assert response.status_code == 200
    assert "paid and confirmed" in response.get_json()["message"]
    state = order_state(shop, order.id)
    assert (state.status, state.payment_status) == ("confirmed", "paid")
    assert state.stock == {shop.variant_ids[0]: (3, 0), shop.variant_ids[1]: (4, 0)}
    assert state.payments == [("charge", order.total, "succeeded", order.intent_id)]
    assert state.mails == 1  # "Order #n confirmed"
    assert {"stock_committed", "payment", "status", "mail"} <= set(state.events)


def test_a_declined_card_releases_the_stock_and_a_second_card_pays(
        card_shop, place_card_order, order_state, stripe_event, send_event):
    shop = card_shop()
    order = place_card_order(shop, (2, 0))
    # localstripe declines charges of 4000000000000341 (Stripe's "charge fails" card).
    with pytest.raises(LocalStripeError) as declined:
        _pay(shop, order, "4000000000000341")
    assert declined.value.status == 402
    assert declined.value.body["error"]["code"] == "card_declined"
    failed = stripe_event("payment_intent.payment_failed", order.intent_id, shop.account)
    assert send_event(failed).status_code == 200
    state = order_state(shop, order.id)
    assert (state.status, state.payment_status) == ("placed", "failed")
    assert state.stock[shop.variant_ids[0]] == (5, 0)  # released for other buyers
    assert state.payments == [("charge", order.total, "failed", order.intent_id)]
    assert state.mails == 0

    # The customer tries another card on the same intent; the stock is still there.
    _pay(shop, order)
    assert send_event(stripe_event("payment_intent.succeeded", order.intent_id,
                                   shop.account)).status_code == 200
    state = order_state(shop, order.id)
    assert (state.status, state.payment_status) == ("confirmed", "paid")
    assert state.stock[shop.variant_ids[0]] == (3, 0)


def test_the_decline_card_is_refused_when_saved_and_nothing_changes(
        card_shop, place_card_order, order_state, in_org):
    """4000000000000002: localstripe declines it when it is attached to a customer (saving the
    card), before any charge; Stripe declines its charges. Either way no money moves."""
    shop = card_shop()
    order = place_card_order(shop, (1, 0))
    with in_org(shop.org.id) as session:
        customer_id = session.get(Customer, order.customer_id).stripe_customer_id
    card = shop.server.card("4000000000000002")
    with pytest.raises(LocalStripeError) as declined:
        shop.server._request("POST", f"/v1/payment_methods/{card}/attach",
                             {"customer": customer_id})
    assert (declined.value.status, declined.value.body["error"]["code"]) == (402,
                                                                             "card_declined")
    assert shop.server.intent(order.intent_id)["status"] == "requires_payment_method"
    state = order_state(shop, order.id)
    assert (state.status, state.payment_status, state.payments) == ("placed", "pending", [])


# Refunds ------------------------------------------------------------------------------------------

def test_a_full_refund(card_shop, place_card_order, order_state, stripe_event, send_event,
                       in_org, make_member):
    shop = card_shop()
    order = place_card_order(shop, (2, 1))
    _paid(shop, order, stripe_event, send_event)
    admin = make_member(shop.org, "admin")
    with in_org(shop.org.id, admin.id) as session:
        payment = payments.refund(session.get(Order, order.id), actor_id=admin.id)
        refund_id = payment.provider_id
    [refund] = shop.server.refunds(order.intent_id)
    assert (refund["id"], refund["amount"], refund["status"]) == (refund_id, order.total,
                                                                  "succeeded")
    [sent] = [r for r in shop.server.requests_log("/v1/refunds") if r["method"] == "POST"
              and r["fields"]["payment_intent"] == order.intent_id]
    assert sent["stripe_account"] == shop.account
    assert sent["idempotency_key"] == f"refund-{shop.org.id}-{order.id}-0-{order.total}"
    state = order_state(shop, order.id)
    assert (state.payment_status, state.refunded) == ("refunded", order.total)
    assert state.payments[-1] == ("refund", order.total, "succeeded", refund_id)
    assert state.stock[shop.variant_ids[0]] == (3, 0)  # no lines named: nothing came back
    assert "refund" in state.events
    with in_org(shop.org.id) as session, pytest.raises(Conflict, match="no payment to refund"):
        payments.refund(session.get(Order, order.id))


def test_partial_refunds_of_lines_restock_them(card_shop, place_card_order, order_state,
                                               stripe_event, send_event, in_org):
    shop = card_shop()
    order = place_card_order(shop, (2, 1))
    _paid(shop, order, stripe_event, send_event)
    red_line = order_state(shop, order.id).lines[shop.variant_ids[0]][2]
    with in_org(shop.org.id) as session:
        first = payments.refund(session.get(Order, order.id),
                                lines=[{"line_id": red_line, "quantity": 1}])
        assert first.amount == shop.price
    state = order_state(shop, order.id)
    assert (state.payment_status, state.refunded) == ("partially_refunded", shop.price)
    assert state.lines[shop.variant_ids[0]][:2] == (2, 1)
    assert state.stock[shop.variant_ids[0]] == (4, 0)  # one mug back on the shelf
    with in_org(shop.org.id) as session:
        movement = session.scalar(select(StockMovement).where(
            StockMovement.order_id == order.id, StockMovement.kind == "refund"))
        assert (movement.variant_id, movement.quantity) == (shop.variant_ids[0], 1)

    with in_org(shop.org.id) as session:  # an amount of its own, without restocking
        payments.refund(session.get(Order, order.id), amount=100)
    with in_org(shop.org.id) as session:  # the rest
        rest = payments.refund(session.get(Order, order.id))
        assert rest.amount == order.total - shop.price - 100
    state = order_state(shop, order.id)
    assert (state.payment_status, state.refunded) == ("refunded", order.total)
    assert sorted(r["amount"] for r in shop.server.refunds(order.intent_id)) == sorted(
        [shop.price, 100, order.total - shop.price - 100])


@pytest.mark.parametrize(("amount", "lines", "field"), [
    (0, None, "amount"), (-5, None, "amount"), ("12", None, "amount"), (True, None, "amount"),
    (10 ** 9, None, "amount"), (None, "all", "lines"), (None, [{"line_id": 999_999}],
                                                         "lines.0.line_id"),
    (None, [{"line_id": "x"}], "lines.0.line_id"), (None, ["junk"], "lines.0.line_id"),
])
def test_bad_refunds_are_refused_and_change_nothing(
        card_shop, place_card_order, order_state, stripe_event, send_event, in_org,
        amount, lines, field):
    shop = card_shop()
    order = place_card_order(shop, (1, 0))
    _paid(shop, order, stripe_event, send_event)
    with in_org(shop.org.id) as session, pytest.raises(ValidationFailed) as refused:
        payments.refund(session.get(Order, order.id), amount=amount, lines=lines)
    assert field in refused.value.fields
    assert shop.server.refunds(order.intent_id) == []
    state = order_state(shop, order.id)
    assert (state.payment_status, state.refunded) == ("paid", 0)


def test_more_of_a_line_than_was_bought_is_refused(card_shop, place_card_order, order_state,
                                                   stripe_event, send_event, in_org):
    shop = card_shop()
    order = place_card_order(shop, (2, 0))
    _paid(shop, order, stripe_event, send_event)
    line_id = order_state(shop, order.id).lines[shop.variant_ids[0]][2]
    with in_org(shop.org.id) as session, pytest.raises(ValidationFailed) as refused:
        payments.refund(session.get(Order, order.id),
                        lines=[{"line_id": line_id, "quantity": 3}])
    assert refused.value.fields == {"lines.0.quantity": "1 to 2"}
    assert shop.server.refunds(order.intent_id) == []


def test_unpaid_and_cash_orders_are_not_refunded_through_stripe(
        card_shop, place_card_order, in_org):
    shop = card_shop()
    order = place_card_order(shop, (1, 0))
    with in_org(shop.org.id) as session:
        with pytest.raises(Conflict, match="no payment to refund"):
            payments.refund(session.get(Order, order.id))
        cash = checkout.place_order(session.get(Organization, shop.org.id),
                                    email="cash@example.com", payment="cash_on_delivery",
                                    items=[{"variant_id": shop.variant_ids[1], "quantity": 1}])
        with pytest.raises(Conflict, match="not paid by card"):
            payments.refund(cash)
    assert shop.server.refunds(order.intent_id) == []


def test_another_orgs_order_is_not_found(card_shop, place_card_order, stripe_event,
                                         send_event, in_org):
    shop, other = card_shop(), card_shop()
    order = place_card_order(shop, (1, 0))
    _paid(shop, order, stripe_event, send_event)
    with in_org(shop.org.id) as session:
        foreign = session.get(Order, order.id)
        session.expunge(foreign)
    with in_org(other.org.id), pytest.raises(NotFound):
        payments.refund(foreign)
    assert shop.server.refunds(order.intent_id) == []
