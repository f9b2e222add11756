"""Checkout: prices from the database, reservations, cash on delivery, idempotency, delivery
options, refusals that change nothing, and the race for the last units (committing for real)."""

from __future__ import annotations

import threading
import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from helpdesk.core.exceptions import ValidationFailed
from helpdesk.mail.models import Outbox, OutboxKind
from helpdesk.orgs.models import Organization
from helpdesk.tickets.services import find_or_create_customer
from storefront import checkout, delivery, inventory, jobs, order_changes, orders
from storefront.models import (
    Order,
    OrderEvent,
    OrderLine,
    Payment,
    Reservation,
    StockMovement,
)


def place(in_org, org, items, **kwargs):
    """Place an order as the shop does; returns plain values of the placement."""
    kwargs.setdefault("email", "buyer@example.com")
    kwargs.setdefault("name", "Bea Buyer")
    kwargs.setdefault("payment", "cash_on_delivery")
    kwargs.setdefault("shipping_address", {"name": "Bea Buyer", "line1": "1 Main St",
                                           "postal_code": "1000", "city": "Brussels",
                                           "country": "BE"})
    with in_org(org.id) as session:
        placement = checkout.submit_order(session.get(Organization, org.id), items=items,
                                          **kwargs)
        order = placement.order
        return {"id": order.id, "number": order.number, "status": order.status.value,
                "payment_status": order.payment_status.value, "total": order.total,
                "subtotal": order.subtotal, "shipping": order.shipping,
                "created": placement.created, "fee": order.application_fee,
                "delivery_option": order.delivery_option}


def test_a_cash_order_sells_the_stock_confirms_and_queues_the_confirmation(
        make_org, make_product, in_org, stock_of):
    org = make_org()
    mug = make_product(org, price=1250, stock=5, name="Blue mug")
    placed = place(in_org, org, [{"variant_id": mug.variant_id, "quantity": 2}])
    assert placed | {"id": 0} == {
        "id": 0, "number": 1001, "status": "confirmed", "payment_status": "pending",
        "total": 2500 + 490, "subtotal": 2500, "shipping": 490, "created": True, "fee": 0,
        "delivery_option": "standard"}
    assert stock_of(org, mug.variant_id) == (3, 0)
    with in_org(org.id) as session:
        line = session.scalar(select(OrderLine))
        assert (line.product_name, line.sku, line.unit_price, line.quantity, line.options) == (
            "Blue mug", mug.sku, 1250, 2, {"colour": "blue"})
        kinds = session.scalars(select(OrderEvent.kind).order_by(OrderEvent.id)).all()
        assert kinds == ["placed", "stock_committed", "status", "mail"]
        mail = session.scalar(select(Outbox))
        assert (mail.kind, mail.recipient, mail.subject) == (
            OutboxKind.ORDER, "buyer@example.com", "Order #1001 confirmed")
        assert b"Cash on delivery: please have =E2=82=AC29.90 ready" in mail.raw
        payment = session.scalar(select(Payment))
        assert (payment.provider, payment.amount, payment.status) == (
            "cash_on_delivery", 2990, "pending")
        assert session.scalar(select(StockMovement.quantity).where(
            StockMovement.kind == "sale")) == -2


def test_prices_come_from_the_database_and_a_variant_price_wins(make_org, make_product, in_org):
    org = make_org()
    mug = make_product(org, price=1000, variant_price=1500)
    placed = place(in_org, org, [{"variant_id": mug.variant_id, "quantity": 1,
                                  "price": 1, "unit_price": 1}])
    assert placed["subtotal"] == 1500


def test_the_same_key_gives_the_same_order_and_one_reservation(make_org, make_product, in_org,
                                                               stock_of, count_rows):
    org = make_org()
    mug = make_product(org, stock=5)
    items = [{"variant_id": mug.variant_id, "quantity": 2}]
    first = place(in_org, org, items, idempotency_key="click-1")
    again = place(in_org, org, items, idempotency_key="click-1")
    assert (again["id"], again["created"], first["created"]) == (first["id"], False, True)
    assert count_rows(Order, org.id) == 1 and count_rows(Reservation, org.id) == 1
    assert stock_of(org, mug.variant_id) == (3, 0)


def _refused(in_org, org, items, **kwargs) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as refused:
        place(in_org, org, items, **kwargs)
    return refused.value


def test_refusals_are_clear_and_change_nothing(make_org, make_product, in_org, stock_of,
                                               count_rows):
    from helpdesk.customers.models import Customer

    org, other = make_org(), make_org()
    mug = make_product(org, stock=3)
    hidden = make_product(org, stock=3, active=False)
    theirs = make_product(other, stock=3)
    ok = {"variant_id": mug.variant_id, "quantity": 1}
    cases = [
        ([{"variant_id": mug.variant_id, "quantity": 0}], {}, "items.0.quantity", "At least 1."),
        ([{"variant_id": mug.variant_id, "quantity": -2}], {}, "items.0.quantity",
         "At least 1."),
        ([{"variant_id": 987654321, "quantity": 1}], {}, "items.0.variant_id",
         "No such product variant (987654321)."),
        ([{"variant_id": theirs.variant_id, "quantity": 1}], {}, "items.0.variant_id",
         f"No such product variant ({theirs.variant_id})."),
        ([{"variant_id": hidden.variant_id, "quantity": 1}], {}, "items.0.variant_id",
         f"“{hidden.name}” is no longer sold."),
        ([ok], {"coupon": "FREE-STUFF"}, "coupon", "Unknown coupon “FREE-STUFF”."),
        ([ok], {"email": "not-an-address"}, "email", None),
        ([], {}, "items", "Add at least one item."),
        ([ok], {"payment": "bitcoin"}, "payment", "Choose stripe or cash_on_delivery."),
        ([ok], {"payment": "stripe"}, "payment", None),
        ([ok], {"delivery_option": "drone"}, "delivery_option", "one of: standard"),
        ([ok], {"shipping_address": {"name": "B", "line1": "", "city": "X"}},
         "shipping.line1", "Required for delivery."),
        ([ok], {"expected_subtotal": 1}, "subtotal", "now 1000"),
    ]
    for items, extra, field, message in cases:
        error = _refused(in_org, org, items, **extra)
        assert field in error.fields, (field, error.fields)
        if message:
            assert error.fields[field] == message
        assert error.status == 422
    assert "cash on delivery" in _refused(in_org, org, [ok], payment="stripe").message
    assert "unknown coupon" in _refused(in_org, org, [ok], coupon="X").message.lower()
    with pytest.raises(inventory.OutOfStock) as short:
        place(in_org, org, [ok, {"variant_id": mug.variant_id, "quantity": 3}])
    assert short.value.status == 409 and short.value.message == f"Only 2 of “{mug.name}” left."
    assert short.value.fields == {"items.1.quantity": "only 2 available"}
    assert stock_of(org, mug.variant_id) == (3, 0)
    assert stock_of(other, theirs.variant_id) == (3, 0)
    for model in (Order, Reservation, OrderEvent, Customer, Outbox):
        assert count_rows(model, org.id) == 0, model


def test_personalization_is_checked_against_the_products_fields(make_org, make_product, in_org):
    org, other = make_org(), make_org()
    fields = [{"key": "gift_text", "label": "Gift message", "type": "text", "required": True,
               "max_length": 20},
              {"key": "colour", "label": "Ribbon", "type": "choice", "choices": ["Red", "Blue"]},
              {"key": "photo", "label": "Photo", "type": "image"}]
    mug = make_product(org, personalization=fields)

    def item(**values):
        return [{"variant_id": mug.variant_id, "quantity": 1, "personalization": values}]

    prefix = "items.0.personalization"
    assert _refused(in_org, org, item()).fields == {
        f"{prefix}.gift_text": "Gift message is required."}
    assert _refused(in_org, org, item(gift_text="x" * 21)).fields == {
        f"{prefix}.gift_text": "Gift message: at most 20 characters."}
    assert _refused(in_org, org, item(gift_text="Hi", colour="Green")).fields == {
        f"{prefix}.colour": "Ribbon: choose one of Red, Blue."}
    assert _refused(in_org, org, item(gift_text="Hi", engraving="x")).fields == {
        f"{prefix}.engraving": "This product has no such personalization."}
    stolen = f"{other.id}/{'a' * 32}"
    assert _refused(in_org, org, item(gift_text="Hi", photo=stolen)).fields == {
        f"{prefix}.photo": "Photo: upload an image."}
    placed = place(in_org, org, item(gift_text="  Happy   birthday ", colour="Red",
                                     photo=f"{org.id}/{'b' * 32}"))
    with in_org(org.id) as session:
        assert session.get(Order, placed["id"]) is not None
        assert session.scalar(select(OrderLine.personalization)) == {
            "gift_text": "Happy birthday", "colour": "Red", "photo": f"{org.id}/{'b' * 32}"}


def test_delivery_options_from_the_org_settings(make_org, make_product, in_org, as_system):
    org = make_org()
    mug = make_product(org, price=3000, stock=10)
    with as_system() as session:
        session.get(Organization, org.id).settings = {"shop_delivery": {
            "flat_rate": 700, "free_over": 5000, "pickup": True, "pickup_address": "Shop, 2 Rue",
            "dispatch_days": 1, "transit_days": [1, 3]}}
    one = [{"variant_id": mug.variant_id, "quantity": 1}]
    assert place(in_org, org, one)["shipping"] == 700
    assert place(in_org, org, [{"variant_id": mug.variant_id, "quantity": 2}])["shipping"] == 0
    pickup = place(in_org, org, one, delivery_option="pickup", shipping_address=None)
    assert (pickup["shipping"], pickup["delivery_option"]) == (0, "pickup")
    with as_system() as session:
        found = delivery.options(session.get(Organization, org.id), 1000,
                                 today=date(2026, 11, 20))  # a Friday
        assert [(o.code, o.price, o.earliest, o.latest) for o in found] == [
            ("standard", 700, date(2026, 11, 24), date(2026, 11, 26)),
            ("pickup", 0, date(2026, 11, 23), date(2026, 11, 23))]


def test_delivery_defaults_when_unset_or_malformed(as_system, make_org):
    org = make_org()
    with as_system() as session:
        row = session.get(Organization, org.id)
        row.settings = {"shop_delivery": {"flat_rate": "cheap", "transit_days": [5, 1]}}
        found = delivery.options(row, 100, today=date(2026, 11, 23))  # a Monday
        assert [(o.code, o.price, o.earliest, o.latest) for o in found] == [
            ("standard", 490, date(2026, 11, 26), date(2026, 11, 30))]
        assert delivery.options(row, 5000)[0].price == 0  # free over 50.00


# The race for the last units: 50 real requests, each committing on its own connection. ------

@pytest.fixture
def committing_app(migrated, server_urls, tmp_path):
    """The app committing for real: each request has its own connection and transaction."""
    from tests.conftest import close_app, make_test_app
    from tests.servers import truncate_all

    app = make_test_app(migrated, server_urls[1], tmp_path)
    yield app
    close_app(app)
    truncate_all(migrated)


def _post_all(app, bodies, headers):
    """POST each body from its own thread at the same moment; the responses in order."""
    results: list = [None] * len(bodies)
    start = threading.Barrier(len(bodies))

    def run(index, body):
        client = app.test_client()
        start.wait()
        response = client.post("/api/v1/store/orders", json=body, headers=headers)
        results[index] = (response.status_code, response.get_json())

    threads = [threading.Thread(target=run, args=(i, b)) for i, b in enumerate(bodies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def test_fifty_checkouts_for_the_last_five_units(committing_app, make_org, make_token,
                                                 make_product, stock_of, count_rows):
    org = make_org()
    headers = {"Authorization": f"Bearer {make_token(org, org.owner_id)}"}
    mug = make_product(org, stock=5, name="Last mug")
    bodies = [{"customer_email": f"buyer{i}@example.com", "payment": "cash_on_delivery",
               "items": [{"variant_id": mug.variant_id, "quantity": 1}]} for i in range(50)]
    results = _post_all(committing_app, bodies, headers)
    created = [body for status, body in results if status == 201]
    refused = [body for status, body in results if status == 409]
    assert len(created) == 5 and len(refused) == 45, [s for s, _ in results]
    assert sorted(body["number"] for body in created) == [1001, 1002, 1003, 1004, 1005]
    assert {body["status"] for body in created} == {"confirmed"}
    assert {body["error"]["message"] for body in refused} == {"“Last mug” is sold out."}
    assert stock_of(org, mug.variant_id) == (0, 0)
    assert count_rows(Order, org.id) == 5 and count_rows(Reservation, org.id) == 5
    with committing_app.app_context():
        from helpdesk.core import tenancy
        from helpdesk.extensions import db

        with tenancy.org_scope(org.id):
            sold = db.session.scalar(select(func.sum(StockMovement.quantity)).where(
                StockMovement.kind == "sale"))
        db.session.rollback()
    assert sold == -5


def test_a_double_submit_with_one_key_makes_one_order(committing_app, make_org, make_token,
                                                      make_product, stock_of, count_rows):
    org = make_org()
    headers = {"Authorization": f"Bearer {make_token(org, org.owner_id)}",
               "Idempotency-Key": str(uuid.uuid4())}
    mug = make_product(org, stock=5)
    body = {"customer_email": "twice@example.com", "payment": "cash_on_delivery",
            "items": [{"variant_id": mug.variant_id, "quantity": 2}]}
    results = _post_all(committing_app, [body] * 4, headers)
    assert sorted(status for status, _ in results) == [200, 200, 200, 201]
    assert len({body["id"] for _, body in results}) == 1
    assert count_rows(Order, org.id) == 1 and count_rows(Reservation, org.id) == 1
    assert stock_of(org, mug.variant_id) == (3, 0)


@pytest.fixture
def unpaid_card_order(make_org, make_product, in_org):
    """`unpaid_card_order(expires_in)`: a card order waiting for its payment, its 2 units held
    until `expires_in` from now; returns (org, product, order id)."""
    from storefront.models import PaymentMethod

    def _unpaid_card_order(expires_in: timedelta):
        org = make_org()
        mug = make_product(org, stock=5)
        with in_org(org.id) as session:
            customer = find_or_create_customer("card@example.com")
            order = Order(number=orders.next_order_number(org.id), customer_id=customer.id,
                          email=customer.email, payment_method=PaymentMethod.STRIPE,
                          currency="EUR", subtotal=2000, total=2000, delivery_option="standard",
                          idempotency_key="card-1")
            session.add(order)
            session.flush()
            held = inventory.reserve(mug.variant_id, 2, "card-1", ttl=expires_in)
            held.order_id = order.id
            return org, mug, order.id

    return _unpaid_card_order


def test_an_unpaid_card_order_is_cancelled_when_its_hold_runs_out(
        unpaid_card_order, app, run_jobs, in_org, stock_of):
    org, mug, order_id = unpaid_card_order(timedelta(seconds=-1))
    with in_org(org.id) as session, pytest.raises(inventory.ReservationExpired):
        checkout.ensure_payable(session.get(Order, order_id))
    with app.app_context():
        assert jobs.enqueue_expired_releases() == 1
    run_jobs()
    assert stock_of(org, mug.variant_id) == (5, 0)
    with in_org(org.id) as session:
        assert session.get(Order, order_id).status.value == "cancelled"
        events = session.execute(select(OrderEvent.kind, OrderEvent.data)
                                 .order_by(OrderEvent.id)).all()
        assert [kind for kind, _ in events] == ["reservation_expired", "status"]
        assert "did not arrive" in events[1][1]["reason"]


def test_an_unpaid_card_order_is_not_shipped_and_cancelling_releases_its_hold(
        unpaid_card_order, in_org, stock_of):
    org, mug, order_id = unpaid_card_order(timedelta(minutes=10))
    assert stock_of(org, mug.variant_id) == (5, 2)
    with in_org(org.id) as session:
        order = session.get(Order, order_id)
        checkout.ensure_payable(order)  # still held: fine
        with pytest.raises(ValidationFailed):
            order_changes.fulfil(None, order, "beamed")
        with pytest.raises(orders.InvalidTransition, match="not confirmed yet"):
            order_changes.fulfil(None, order, "packed")
    with in_org(org.id) as session:
        assert order_changes.cancel(None, session.get(Order, order_id), reason="no payment")
    assert stock_of(org, mug.variant_id) == (5, 0)
