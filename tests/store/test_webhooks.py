"""POST /webhooks/stripe with events localstripe made (or Stripe's shape, for those it does not
make), signed as Stripe signs them: processed once, refused when the signature is wrong or the
event's account is another tenant's, and what payments that end late or badly do to an order."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta

import pytest
import stripe
from sqlalchemy import update

from helpdesk.core.models import utcnow
from helpdesk.customers.models import Customer
from helpdesk.extensions import db
from helpdesk.orgs.models import Organization
from storefront import inventory, orders, payments
from storefront.models import MovementKind, Order, OrderStatus, Reservation, StripeEvent
from tests.stripe_server import SECRET_KEY, WEBHOOK_SECRET, sign


def _succeeded(shop, order, stripe_event, card="4242424242424242"):
    shop.server.pay(order.intent_id, card)
    return stripe_event("payment_intent.succeeded", order.intent_id, shop.account)


def _stripe(shop):
    return stripe.StripeClient(SECRET_KEY, base_addresses={"api": shop.server.url})


# Once, and only when signed -----------------------------------------------------------------------

def test_a_replayed_event_is_processed_once(card_shop, place_card_order, order_state,
                                            stripe_event, send_event):
    shop = card_shop()
    order = place_card_order(shop, (2, 1))
    event = _succeeded(shop, order, stripe_event)
    first = send_event(event)
    assert first.status_code == 200 and first.get_json()["received"] is True
    for _ in range(2):
        again = send_event(event)
        assert again.status_code == 200
        assert again.get_json()["message"] == "duplicate: already processed"
    state = order_state(shop, order.id)
    assert (state.status, state.payment_status) == ("confirmed", "paid")
    assert state.stock == {shop.variant_ids[0]: (3, 0), shop.variant_ids[1]: (4, 0)}
    assert len(state.payments) == 1 and state.mails == 1
    assert state.events.count("stock_committed") == 1
    assert state.stripe_events == 1


def test_the_same_payment_in_a_new_event_changes_nothing_more(
        card_shop, place_card_order, order_state, stripe_event, send_event):
    shop = card_shop()
    order = place_card_order(shop, (1, 0))
    event = _succeeded(shop, order, stripe_event)
    assert send_event(event).status_code == 200
    resent = dict(event, id=event["id"] + "b")  # Stripe re-sent it as a new event
    response = send_event(resent)
    assert response.status_code == 200 and "paid already" in response.get_json()["message"]
    state = order_state(shop, order.id)
    assert len(state.payments) == 1 and state.mails == 1 and state.stripe_events == 2


@pytest.fixture
def committing_app(migrated, server_urls, tmp_path, stripe_keys):
    """The app committing for real (each request its own connection), talking to localstripe."""
    from tests.conftest import close_app, make_test_app
    from tests.servers import truncate_all

    app = make_test_app(migrated, server_urls[1], tmp_path, STRIPE_SECRET_KEY=SECRET_KEY,
                        STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
                        STRIPE_API_BASE=stripe_keys.server.url)
    yield app
    close_app(app)
    truncate_all(migrated)


def test_simultaneous_deliveries_are_processed_once(committing_app, card_shop, place_card_order,
                                                    order_state, stripe_event):
    shop = card_shop()
    order = place_card_order(shop, (2, 1))
    payload = json.dumps(_succeeded(shop, order, stripe_event))
    answers: list = []
    start = threading.Barrier(8)

    def deliver():
        client = committing_app.test_client()
        start.wait()
        response = client.post("/webhooks/stripe", data=payload,
                               headers={"Stripe-Signature": sign(payload),
                                        "Content-Type": "application/json"})
        answers.append((response.status_code, response.get_json()["message"]))

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(answers) == sorted(
        [(200, f"order #{order.number} paid and confirmed")]
        + [(200, "duplicate: already processed")] * 7), answers
    state = order_state(shop, order.id)
    assert (state.status, state.payment_status) == ("confirmed", "paid")
    assert state.stock == {shop.variant_ids[0]: (3, 0), shop.variant_ids[1]: (4, 0)}
    assert len(state.payments) == 1 and state.mails == 1 and state.stripe_events == 1


def test_bad_signatures_are_refused_and_change_nothing(
        card_shop, place_card_order, order_state, stripe_event, send_event, client):
    shop = card_shop()
    order = place_card_order(shop, (1, 0))
    event = _succeeded(shop, order, stripe_event)
    payload = json.dumps(event)
    other_payload = json.dumps(dict(event, id="evt_other"))
    stale = int(time.time()) - 3600  # outside Stripe's 5 minutes of tolerance
    for signature in ("", "t=1,v1=00", sign(payload, "whsec_wrong"), sign(other_payload),
                      sign(payload, timestamp=stale), "garbage"):
        response = send_event(payload, signature=signature)
        assert response.status_code == 400, signature
        assert "Stripe-Signature" in response.get_json()["message"]
    unsigned = client.post("/webhooks/stripe", data=payload,
                           headers={"Content-Type": "application/json"})
    assert unsigned.status_code == 400
    state = order_state(shop, order.id)
    assert (state.status, state.payment_status, state.stock[shop.variant_ids[0]]) == (
        "placed", "pending", (5, 1))
    assert state.payments == [] and state.stripe_events == 0


def test_signed_garbage_is_refused(send_event, stripe_keys):
    for payload in ("not json", "[]", json.dumps({"id": 5, "type": "x"}),
                    json.dumps({"id": "evt_1", "type": "payment_intent.succeeded",
                                "data": {"object": "nope"}})):
        response = send_event(payload)
        assert response.status_code == 400, payload
    assert send_event(b"\xff\xfe").status_code == 400


def test_without_a_webhook_secret_nothing_is_accepted(app, send_event):
    assert app.config["STRIPE_WEBHOOK_SECRET"] == ""
    response = send_event({"id": "evt_1", "type": "ping", "data": {"object": {}}})
    assert response.status_code == 503
    assert "STRIPE_WEBHOOK_SECRET" in response.get_json()["message"]


def test_the_webhook_needs_no_csrf_token(app, send_event, stripe_keys):
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        response = send_event({"id": "evt_csrf", "type": "customer.created",
                               "data": {"object": {"id": "cus_1"}}})
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert response.status_code == 200
    assert response.get_json()["message"] == "ignored: customer.created"


# Another tenant's account -------------------------------------------------------------------------

def test_an_event_naming_another_tenants_account_is_refused(
        card_shop, place_card_order, order_state, stripe_event, send_event):
    shop, other = card_shop(), card_shop()
    order = place_card_order(shop, (1, 0))
    event = _succeeded(shop, order, stripe_event)
    for account in (other.account, "acct_unknown12345"):
        response = send_event(dict(event, account=account))
        assert response.status_code == 400, account
        assert response.get_json()["received"] is False
    state = order_state(shop, order.id)
    assert (state.status, state.payment_status, state.payments) == ("placed", "pending", [])
    assert state.stock[shop.variant_ids[0]] == (5, 1) and state.stripe_events == 0
    # Stripe's own retry, with the right account, still goes through.
    assert send_event(event).status_code == 200
    assert order_state(shop, order.id).payment_status == "paid"


def test_metadata_naming_another_order_or_org_is_refused(
        card_shop, place_card_order, order_state, stripe_event, send_event):
    shop, other = card_shop(), card_shop()
    order = place_card_order(shop, (1, 0))
    other_order = place_card_order(other, (1, 0))
    event = _succeeded(shop, order, stripe_event)
    intent = event["data"]["object"]
    for metadata in ({**intent["metadata"], "order_id": str(other_order.id)},
                     {**intent["metadata"], "org_id": str(other.org.id)}):
        forged = dict(event, data={"object": dict(intent, metadata=metadata)})
        assert send_event(forged).status_code == 400
    # Without an account (a platform payment) the metadata's org is searched for the intent.
    platform = dict(event, data={"object": dict(intent, metadata={
        **intent["metadata"], "org_id": str(other.org.id)})})
    platform.pop("account")
    assert send_event(platform).status_code == 400
    for state in (order_state(shop, order.id), order_state(other, other_order.id)):
        assert (state.payment_status, state.payments) == ("pending", [])


def test_payments_that_are_not_ours_are_acknowledged_and_ignored(
        card_shop, send_event, order_state, place_card_order):
    shop = card_shop()
    order = place_card_order(shop, (1, 0))
    # The tenant's own Stripe integration, on the same account: no metadata of ours.
    theirs = _stripe(shop).v1.payment_intents.create({"amount": 999, "currency": "eur"})
    shop.server.pay(theirs.id)
    event = shop.server.event_for("payment_intent.succeeded", theirs.id)
    for account in (shop.account, "acct_notconnected99", None):
        response = send_event(dict(event, id=f"{event['id']}-{account}", account=account))
        assert response.status_code == 200
        assert response.get_json()["message"] == "ignored: not a payment of this shop"
    assert order_state(shop, order.id).payment_status == "pending"


# Payments that end late or badly ------------------------------------------------------------------

def test_a_platform_payment_is_found_by_its_metadata(card_shop, place_card_order, order_state,
                                                     stripe_event, send_event):
    shop = card_shop(account=False)
    order = place_card_order(shop, (1, 1))
    response = send_event(_succeeded(shop, order, stripe_event))
    assert response.status_code == 200
    assert order_state(shop, order.id).status == "confirmed"


def _let_holds_run_out() -> None:
    """The org's checkouts waited too long: their holds expire and go back on the shelf."""
    db.session.execute(update(Reservation).values(expires_at=utcnow() - timedelta(minutes=1)))
    inventory.release_expired()


def test_paid_after_the_hold_ran_out_takes_the_stock_if_it_is_still_there(
        card_shop, place_card_order, order_state, stripe_event, send_event, in_org):
    shop = card_shop(stock=3)
    order = place_card_order(shop, (2, 0))
    with in_org(shop.org.id):
        _let_holds_run_out()
    assert order_state(shop, order.id).stock[shop.variant_ids[0]] == (3, 0)
    assert send_event(_succeeded(shop, order, stripe_event)).status_code == 200
    state = order_state(shop, order.id)
    assert (state.status, state.payment_status) == ("confirmed", "paid")
    assert state.stock[shop.variant_ids[0]] == (1, 0)
    assert shop.server.refunds(order.intent_id) == []


def test_paid_after_the_stock_sold_out_is_refunded_and_cancelled(
        card_shop, place_card_order, order_state, stripe_event, send_event, in_org):
    shop = card_shop(stock=2)
    order = place_card_order(shop, (2, 0))
    with in_org(shop.org.id):
        _let_holds_run_out()
        inventory.adjust(shop.variant_ids[0], -1, MovementKind.ADJUSTMENT, "broken in the shop")
    response = send_event(_succeeded(shop, order, stripe_event))
    assert response.status_code == 200
    assert "refunded in full and cancelled" in response.get_json()["message"]
    state = order_state(shop, order.id)
    assert (state.status, state.payment_status, state.refunded) == ("cancelled", "refunded",
                                                                    order.total)
    assert state.stock[shop.variant_ids[0]] == (1, 0)  # nothing sold, nothing held
    [refund] = shop.server.refunds(order.intent_id)
    assert refund["amount"] == order.total
    assert [p[0] for p in state.payments] == ["charge", "refund"]
    assert state.mails == 0  # no "confirmed" mail for an order we cannot deliver


def test_paid_after_the_order_was_cancelled_is_refunded(
        card_shop, place_card_order, order_state, stripe_event, send_event, in_org):
    shop = card_shop()
    order = place_card_order(shop, (1, 0))
    with in_org(shop.org.id) as session:
        cancelled = session.get(Order, order.id)
        inventory.release(cancelled.idempotency_key)
        orders.change_status(None, cancelled, OrderStatus.CANCELLED, reason="customer asked")
    assert send_event(_succeeded(shop, order, stripe_event)).status_code == 200
    state = order_state(shop, order.id)
    assert (state.status, state.payment_status) == ("cancelled", "refunded")
    assert state.stock[shop.variant_ids[0]] == (5, 0)
    assert shop.server.refunds(order.intent_id)[0]["amount"] == order.total


def test_an_amount_that_does_not_match_the_order_is_refused(
        card_shop, place_card_order, order_state, stripe_event, send_event):
    shop = card_shop()
    order = place_card_order(shop, (1, 0))
    event = _succeeded(shop, order, stripe_event)
    intent = event["data"]["object"]
    for changed in ({"amount": order.total - 1}, {"currency": "usd"}):
        response = send_event(dict(event, data={"object": {**intent, **changed}}))
        assert response.status_code == 400 and "does not match" in response.get_json()["message"]
    assert order_state(shop, order.id).payment_status == "pending"


# Refunds made at Stripe ---------------------------------------------------------------------------

def _charge_refunded(shop, order) -> dict:
    """charge.refunded as Stripe sends it (localstripe makes no such event): the charge now."""
    charge = shop.server.intent(order.intent_id)["latest_charge"]
    charge = shop.server._request("GET", f"/v1/charges/{charge['id']}")
    return {"id": f"evt_refund_{charge['id']}_{charge['amount_refunded']}", "object": "event",
            "type": "charge.refunded", "account": shop.account, "created": int(time.time()),
            "data": {"object": charge}}


def test_a_refund_made_in_the_stripe_dashboard_is_booked(
        card_shop, place_card_order, order_state, stripe_event, send_event, in_org):
    shop = card_shop()
    order = place_card_order(shop, (2, 0))
    send_event(_succeeded(shop, order, stripe_event))
    _stripe(shop).v1.refunds.create({"payment_intent": order.intent_id, "amount": 700},
                                    {"stripe_account": shop.account})
    event = _charge_refunded(shop, order)
    assert send_event(event).status_code == 200
    assert send_event(event).get_json()["message"] == "duplicate: already processed"
    state = order_state(shop, order.id)
    assert (state.payment_status, state.refunded) == ("partially_refunded", 700)
    assert state.payments[-1][:3] == ("refund", 700, "succeeded")
    assert state.stock[shop.variant_ids[0]] == (3, 0)  # the dashboard does not say what came back

    # A refund made here, then Stripe's event about it: booked once.
    with in_org(shop.org.id) as session:
        payments.refund(session.get(Order, order.id), amount=300)
    assert send_event(_charge_refunded(shop, order)).status_code == 200
    state = order_state(shop, order.id)
    assert state.refunded == 1000 and [p[0] for p in state.payments].count("refund") == 2


def test_a_refund_event_before_the_payment_event_is_retried_later(
        card_shop, place_card_order, order_state, stripe_event, send_event):
    shop = card_shop()
    order = place_card_order(shop, (1, 0))
    paid = _succeeded(shop, order, stripe_event)
    _stripe(shop).v1.refunds.create({"payment_intent": order.intent_id},
                                    {"stripe_account": shop.account})
    early = _charge_refunded(shop, order)
    response = send_event(early)
    assert response.status_code == 409  # Stripe sends it again later
    assert order_state(shop, order.id).stripe_events == 0
    assert send_event(paid).status_code == 200
    assert send_event(early).status_code == 200
    state = order_state(shop, order.id)
    assert (state.payment_status, state.refunded) == ("refunded", order.total)


# The account itself -------------------------------------------------------------------------------

def test_a_deauthorized_account_is_forgotten(card_shop, place_card_order, send_event, in_org,
                                             as_system):
    shop = card_shop()
    order = place_card_order(shop, (1, 0))
    event = {"id": "evt_deauth", "type": "account.application.deauthorized",
             "account": shop.account, "data": {"object": {"id": "ca_1", "object": "application"}}}
    response = send_event(event)
    assert response.status_code == 200
    with in_org(shop.org.id) as session:
        assert session.get(Organization, shop.org.id).stripe_account_id is None
        assert session.get(Customer, order.customer_id).stripe_customer_id is None
    with as_system() as session:
        assert session.get(StripeEvent, "evt_deauth").account == shop.account
