"""POST/GET/PATCH /api/v1/store/orders: placing, idempotency, clear refusals, fulfilment,
cancellation with restock, refunds, and another org's orders (404)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

ADDRESS = {"name": "Bea Buyer", "line1": "1 Main St", "postal_code": "1000", "city": "Ghent",
           "country": "BE"}


@pytest.fixture
def api_org(make_org, make_token):
    """`api_org()`: a new org with its owner's API token and request headers."""

    def _api_org():
        org = make_org()
        token = make_token(org, org.owner_id)
        return SimpleNamespace(org=org, id=org.id, headers={"Authorization": f"Bearer {token}"})

    return _api_org


@pytest.fixture
def shop(api_org, make_product):
    """An org with a token and a 12.50 mug with 5 in stock."""
    tenant = api_org()
    tenant.mug = make_product(tenant.org, price=1250, stock=5, name="Blue mug")
    return tenant


def order_body(variant_id: int, quantity: int = 1, **extra) -> dict:
    return {"customer_email": "bea@example.com", "payment": "cash_on_delivery",
            "items": [{"variant_id": variant_id, "quantity": quantity}], **extra}


def post(client, tenant, body, **headers):
    return client.post("/api/v1/store/orders", json=body, headers=tenant.headers | headers)


def patch(client, tenant, order_id, body):
    return client.patch(f"/api/v1/store/orders/{order_id}", json=body, headers=tenant.headers)


def test_place_an_order_and_read_it(client, shop, stock_of):
    response = post(client, shop, order_body(shop.mug.variant_id, 2, shipping=ADDRESS))
    assert response.status_code == 201, response.json
    order = response.json
    assert {k: order[k] for k in ("number", "status", "payment_status", "total",
                                  "client_secret")} == {
        "number": 1001, "status": "confirmed", "payment_status": "pending",
        "total": 2500 + 490, "client_secret": None}
    assert response.headers["Location"].endswith(f"/api/v1/store/orders/{order['id']}")
    got = client.get(f"/api/v1/store/orders/{order['id']}", headers=shop.headers)
    assert got.status_code == 200
    assert got.json["lines"][0] | {"id": 0} == {
        "id": 0, "variant_id": shop.mug.variant_id, "product_name": "Blue mug",
        "sku": shop.mug.sku, "options": {"colour": "blue"}, "unit_price": 1250, "quantity": 2,
        "refunded_quantity": 0, "personalization": {}}
    assert got.json["shipping_address"] == ADDRESS
    assert got.json["payments"][0]["provider"] == "cash_on_delivery"
    assert stock_of(shop.org, shop.mug.variant_id) == (3, 0)


def test_a_tampered_price_is_ignored(client, shop):
    body = order_body(shop.mug.variant_id)
    body["items"][0] |= {"price": 1, "unit_price": 1}
    response = post(client, shop, body)
    assert response.status_code == 201 and response.json["subtotal"] == 1250


def test_the_same_idempotency_key_returns_the_same_order(client, shop, stock_of):
    first = post(client, shop, order_body(shop.mug.variant_id), **{"Idempotency-Key": "abc-1"})
    again = post(client, shop, order_body(shop.mug.variant_id), **{"Idempotency-Key": "abc-1"})
    by_field = post(client, shop, order_body(shop.mug.variant_id, idempotency_key="abc-1"))
    assert (first.status_code, again.status_code, by_field.status_code) == (201, 200, 200)
    assert first.json["id"] == again.json["id"] == by_field.json["id"]
    assert stock_of(shop.org, shop.mug.variant_id) == (4, 0)
    mismatch = post(client, shop, order_body(shop.mug.variant_id, idempotency_key="x"),
                    **{"Idempotency-Key": "y"})
    assert mismatch.status_code == 422 and "idempotency_key" in mismatch.json["error"]["fields"]
    bad = post(client, shop, order_body(shop.mug.variant_id), **{"Idempotency-Key": "a b"})
    assert bad.status_code == 422 and "idempotency_key" in bad.json["error"]["fields"]


def test_short_stock_is_a_409_that_says_so(client, shop, stock_of):
    response = post(client, shop, order_body(shop.mug.variant_id, 6))
    assert response.status_code == 409
    assert response.json["error"] == {"code": "conflict",
                                      "message": "Only 5 of “Blue mug” left.",
                                      "fields": {"items.0.quantity": "only 5 available"}}
    assert stock_of(shop.org, shop.mug.variant_id) == (5, 0)


@pytest.mark.parametrize(("change", "field"), [
    ({"items": []}, "items"),
    ({"items": [{"variant_id": 1, "quantity": 0}]}, "items.0.quantity"),
    ({"items": [{"variant_id": 1, "quantity": "2"}]}, "items.0.quantity"),
    ({"items": [{"variant_id": -5, "quantity": 1}]}, "items.0.variant_id"),
    ({"items": [{"variant_id": 2**63, "quantity": 1}]}, "items.0.variant_id"),
    ({"items": [{"variant_id": 10**12, "quantity": 1}]}, "items.0.variant_id"),
    ({"payment": "iou"}, "payment"),
    ({"coupon": "SAVE10"}, "coupon"),
    ({"customer_email": "nobody"}, "customer_email"),
    ({"shipping": {"option": "teleport"}}, "delivery_option"),
    ({"shipping": {"line1": "Somewhere"}}, "shipping.city"),
    ({"surprise": 1}, "surprise"),
])
def test_bad_requests_name_the_field_and_change_nothing(client, shop, stock_of, count_rows,
                                                       change, field):
    from storefront.models import Order

    response = post(client, shop, order_body(shop.mug.variant_id) | change)
    assert response.status_code == 422, response.json
    assert field in response.json["error"]["fields"], response.json
    assert stock_of(shop.org, shop.mug.variant_id) == (5, 0)
    assert count_rows(Order, shop.id) == 0


def test_a_coupon_is_refused_as_unknown(client, shop):
    response = post(client, shop, order_body(shop.mug.variant_id, coupon="WELCOME"))
    assert response.json["error"]["fields"] == {"coupon": "Unknown coupon “WELCOME”."}


def test_card_payment_without_stripe_says_cash_only(client, shop):
    response = post(client, shop, order_body(shop.mug.variant_id, payment="stripe"))
    assert response.status_code == 422
    assert "only cash on delivery" in response.json["error"]["fields"]["payment"]


def test_another_orgs_orders_and_variants_are_not_found(client, shop, api_org, make_product):
    other = api_org()
    theirs = make_product(other.org, stock=5)
    mine = post(client, shop, order_body(shop.mug.variant_id)).json
    for method in ("get", "patch"):
        response = getattr(client, method)(f"/api/v1/store/orders/{mine['id']}",
                                           headers=other.headers, json={"status": "cancelled"})
        assert response.status_code == 404, method
    crossed = post(client, shop, order_body(theirs.variant_id))
    assert crossed.status_code == 422
    assert crossed.json["error"]["fields"] == {
        "items.0.variant_id": f"No such product variant ({theirs.variant_id})."}
    assert client.get("/api/v1/store/orders/99999999", headers=shop.headers).status_code == 404


def test_fulfil_ship_deliver_collects_the_cash_and_completes(client, shop):
    order = post(client, shop, order_body(shop.mug.variant_id)).json
    no_tracking = patch(client, shop, order["id"], {"fulfillment_status": "shipped"})
    assert no_tracking.status_code == 422
    assert set(no_tracking.json["error"]["fields"]) == {"carrier", "tracking_number"}
    packed = patch(client, shop, order["id"], {"fulfillment_status": "packed"})
    assert packed.json["fulfillment_status"] == "packed"
    shipped = patch(client, shop, order["id"], {"fulfillment_status": "shipped",
                                                "carrier": "bpost", "tracking_number": "CD1"})
    assert shipped.json["fulfillment"] | {"shipped_at": None} == {
        "status": "shipped", "carrier": "bpost", "tracking_number": "CD1", "shipped_at": None,
        "delivered_at": None}
    cancel = patch(client, shop, order["id"], {"status": "cancelled"})
    assert cancel.status_code == 409 and "refund it instead" in cancel.json["error"]["message"]
    delivered = patch(client, shop, order["id"], {"fulfillment_status": "delivered"}).json
    assert (delivered["status"], delivered["payment_status"],
            delivered["fulfillment_status"]) == ("completed", "paid", "delivered")
    back = patch(client, shop, order["id"], {"fulfillment_status": "packed"})
    assert back.status_code == 409
    assert "Allowed: returned" in back.json["error"]["message"]


def test_cancel_puts_the_stock_back_unless_told_not_to(client, shop, stock_of):
    first = post(client, shop, order_body(shop.mug.variant_id, 2)).json
    second = post(client, shop, order_body(shop.mug.variant_id, 1)).json
    assert stock_of(shop.org, shop.mug.variant_id) == (2, 0)
    cancelled = patch(client, shop, first["id"], {"status": "cancelled", "reason": "changed mind"})
    assert cancelled.status_code == 200 and cancelled.json["status"] == "cancelled"
    assert cancelled.json["payments"][0]["status"] == "cancelled"
    assert stock_of(shop.org, shop.mug.variant_id) == (4, 0)
    patch(client, shop, second["id"], {"status": "cancelled", "restock": False})
    assert stock_of(shop.org, shop.mug.variant_id) == (4, 0)
    again = patch(client, shop, first["id"], {"status": "cancelled"})
    assert again.status_code == 200 and stock_of(shop.org, shop.mug.variant_id) == (4, 0)
    ship = patch(client, shop, first["id"], {"fulfillment_status": "packed"})
    assert ship.status_code == 409 and "cancelled" in ship.json["error"]["message"]
    complete = patch(client, shop, first["id"], {"status": "completed"})
    assert complete.status_code == 409
    assert complete.json["error"]["message"] == (
        f"The status of order #{first['number']} cannot go from cancelled to completed. "
        "Allowed: none (final).")


def test_cash_refunds_after_delivery_and_not_before(client, shop, stock_of):
    order = post(client, shop, order_body(shop.mug.variant_id, 2)).json
    early = patch(client, shop, order["id"], {"refund": {}})
    assert early.status_code == 409 and "cancel it instead" in early.json["error"]["message"]
    patch(client, shop, order["id"], {"fulfillment_status": "shipped", "carrier": "DHL",
                                      "tracking_number": "1"})
    patch(client, shop, order["id"], {"fulfillment_status": "delivered"})
    line_id = client.get(f"/api/v1/store/orders/{order['id']}",
                         headers=shop.headers).json["lines"][0]["id"]
    partial = patch(client, shop, order["id"], {"refund": {"lines": [{"line_id": line_id,
                                                                       "quantity": 1}]}})
    assert partial.status_code == 200, partial.json
    assert (partial.json["payment_status"], partial.json["refunded"]) == (
        "partially_refunded", 1250)
    assert partial.json["lines"][0]["refunded_quantity"] == 1
    assert stock_of(shop.org, shop.mug.variant_id) == (4, 0)  # the returned mug is back
    too_much = patch(client, shop, order["id"], {"refund": {"amount": 5000}})
    assert too_much.status_code == 422 and too_much.json["error"]["fields"] == {
        "amount": f"1 to {order['total'] - 1250}"}
    rest = patch(client, shop, order["id"], {"refund": {}})
    assert (rest.json["payment_status"], rest.json["refunded"]) == ("refunded", order["total"])
    assert [p["kind"] for p in rest.json["payments"]] == ["charge", "refund", "refund"]


def test_card_orders_cannot_be_refunded_without_stripe(client, shop, in_org):
    from helpdesk.extensions import db
    from storefront.models import Order, PaymentMethod, PaymentStatus

    order = post(client, shop, order_body(shop.mug.variant_id)).json
    with in_org(shop.id):
        row = db.session.get(Order, order["id"])
        row.payment_method, row.payment_status = PaymentMethod.STRIPE, PaymentStatus.PAID
    response = patch(client, shop, order["id"], {"refund": {"amount": 100}})
    assert response.status_code == 409
    assert response.json["error"]["fields"] in ({"refund": "refunds need Stripe"},
                                                {"payment": "stripe"})


def test_patch_input_is_checked(client, shop):
    order = post(client, shop, order_body(shop.mug.variant_id)).json
    for body, field in (({"status": "placed"}, "status"), ({"fulfillment_status": "lost"},
                                                           "fulfillment_status"),
                        ({"restock": "yes"}, "restock"), ({"refund": {"amount": -1}},
                                                          "refund.amount")):
        response = patch(client, shop, order["id"], body)
        assert response.status_code == 422 and field in response.json["error"]["fields"], body


def test_responses_match_the_openapi_document(client, shop):
    from openapi_schema_validator import OAS31Validator

    spec = client.get("/api/v1/openapi.json").json
    assert {"post"} == set(spec["paths"]["/api/v1/store/orders"])
    assert {"get", "patch"} == set(spec["paths"]["/api/v1/store/orders/{order_id}"])

    def conforms(name, instance):
        schema = {"$ref": f"#/components/schemas/{name}", "components": spec["components"]}
        assert [e.message for e in OAS31Validator(schema).iter_errors(instance)] == [], name

    order = post(client, shop, order_body(shop.mug.variant_id, shipping=ADDRESS)).json
    conforms("StoreOrderPlaced", order)
    shipped = patch(client, shop, order["id"], {"fulfillment_status": "shipped",
                                                "carrier": "DHL", "tracking_number": "9"})
    conforms("StoreOrder", shipped.json)
    conforms("Error", post(client, shop, order_body(shop.mug.variant_id, 99)).json)
