"""API v1: store orders (place one, read it, and staff changes: fulfil, cancel, refund)."""

from __future__ import annotations

from flask import g, jsonify, make_response, request, url_for
from marshmallow import Schema, fields, validate

from helpdesk.api import bp
from helpdesk.api.auth import token_required
from helpdesk.api.operations import operation
from helpdesk.api.schemas import Email, Id, Text
from helpdesk.api.ticket_schemas import StrictBoolean
from helpdesk.core.errors import ApiError
from storefront import checkout, order_changes, orders
from storefront.models import (
    FulfillmentStatus,
    Order,
    OrderStatus,
    PaymentMethod,
    PaymentStatus,
)
from storefront.order_input import MAX_LINE_QUANTITY, MAX_LINES

IGNORED = "Ignored: the shop's current price always applies."


class StoreOrderItemSchema(Schema):
    variant_id = Id(required=True)
    quantity = fields.Integer(strict=True, load_default=1, validate=validate.Range(
        min=1, max=MAX_LINE_QUANTITY, error=f"A whole number from 1 to {MAX_LINE_QUANTITY}."))
    personalization = fields.Dict(keys=fields.String(), load_default=dict, metadata={
        "description": "Values for the product's personalization fields, by key."})
    price = fields.Raw(load_only=True, metadata={"description": IGNORED})
    unit_price = fields.Raw(load_only=True, metadata={"description": IGNORED})


class StoreShippingSchema(Schema):
    option = Text(max_length=32, metadata={
        "description": "Delivery option: standard (default) or pickup when the shop offers it."})
    name = Text(max_length=200)
    line1 = Text(max_length=200)
    line2 = Text(max_length=200)
    postal_code = Text(max_length=20)
    city = Text(max_length=100)
    country = Text(max_length=60)
    phone = Text(max_length=50)


class StoreOrderCreateSchema(Schema):
    customer_email = Email(required=True)
    customer_name = Text(max_length=200)
    items = fields.List(fields.Nested(StoreOrderItemSchema), required=True,
                        validate=validate.Length(min=1, max=MAX_LINES))
    payment = fields.String(required=True, validate=validate.OneOf([m.value for m in
                                                                    PaymentMethod]))
    shipping = fields.Nested(StoreShippingSchema, metadata={
        "description": "Where to deliver; without it the standard option, address to follow."})
    coupon = fields.String(allow_none=True, metadata={
        "description": "No coupons exist yet: any code is refused as unknown."})
    idempotency_key = fields.String(metadata={
        "description": "Or the Idempotency-Key header: the same key returns the same order "
                       "(200) instead of placing another."})


class StoreOrderLineSchema(Schema):
    id = fields.Integer()
    variant_id = fields.Integer(allow_none=True)
    product_name = fields.String()
    sku = fields.String()
    options = fields.Dict(keys=fields.String())
    unit_price = fields.Integer(metadata={"description": "Minor units, as sold."})
    quantity = fields.Integer()
    refunded_quantity = fields.Integer()
    personalization = fields.Dict(keys=fields.String())


class StorePaymentSchema(Schema):
    kind = fields.String(metadata={"description": "charge or refund"})
    provider = fields.String()
    amount = fields.Integer()
    status = fields.String()
    created_at = fields.DateTime()


class StoreFulfillmentSchema(Schema):
    status = fields.String(metadata={"enum": [s.value for s in FulfillmentStatus]})
    carrier = fields.String()
    tracking_number = fields.String()
    shipped_at = fields.DateTime(allow_none=True)
    delivered_at = fields.DateTime(allow_none=True)


class StoreOrderSchema(Schema):
    id = fields.Integer()
    number = fields.Integer(metadata={"description": "Per-organization order number."})
    email = fields.String()
    customer_id = fields.Integer()
    status = fields.String(metadata={"enum": [s.value for s in OrderStatus]})
    payment_status = fields.String(metadata={"enum": [s.value for s in PaymentStatus]})
    fulfillment_status = fields.String(metadata={"enum": [s.value for s in FulfillmentStatus]})
    payment_method = fields.String(metadata={"enum": [m.value for m in PaymentMethod]})
    currency = fields.String()
    subtotal = fields.Integer()
    shipping = fields.Integer()
    discount = fields.Integer()
    total = fields.Integer(metadata={"description": "Minor units (cents) of `currency`."})
    refunded = fields.Integer()
    application_fee = fields.Integer()
    delivery_option = fields.String()
    shipping_address = fields.Dict(keys=fields.String())
    created_at = fields.DateTime()
    lines = fields.List(fields.Nested(StoreOrderLineSchema))
    payments = fields.List(fields.Nested(StorePaymentSchema))
    fulfillment = fields.Nested(StoreFulfillmentSchema, allow_none=True)


class StoreOrderPlacedSchema(StoreOrderSchema):
    client_secret = fields.String(allow_none=True, metadata={
        "description": "Card payments: the PaymentIntent's secret for Stripe.js."})


class StoreRefundLineSchema(Schema):
    line_id = Id(required=True)
    quantity = fields.Integer(strict=True, validate=validate.Range(min=1))


class StoreRefundSchema(Schema):
    amount = fields.Integer(strict=True, validate=validate.Range(min=1), metadata={
        "description": "Minor units; default: the lines' value, or all not refunded yet."})
    lines = fields.List(fields.Nested(StoreRefundLineSchema), metadata={
        "description": "Lines coming back: marked refunded and put back in stock."})


class StoreOrderUpdateSchema(Schema):
    status = fields.String(validate=validate.OneOf(["cancelled", "completed"]), metadata={
        "description": "cancelled (stock goes back unless restock is false) or completed."})
    restock = StrictBoolean(load_default=True)
    reason = Text(max_length=200)
    fulfillment_status = fields.String(validate=validate.OneOf(
        [s.value for s in FulfillmentStatus if s is not FulfillmentStatus.UNFULFILLED]))
    carrier = Text(max_length=64)
    tracking_number = Text(max_length=128)
    refund = fields.Nested(StoreRefundSchema, metadata={
        "description": "Card orders through Stripe; cash orders recorded as refunded."})


placed_schema = StoreOrderPlacedSchema()


def find_order(order_id: int, *, for_update: bool = False) -> Order:
    order = orders.get_order(order_id, for_update=for_update)
    if order is None:
        raise ApiError(404, f"No order {order_id}.")
    return order


def _idempotency_key(body: dict) -> str | None:
    header = request.headers.get("Idempotency-Key")
    given = body.get("idempotency_key")
    if header and given and header != given:
        raise ApiError(422, "The Idempotency-Key header and idempotency_key differ.",
                       {"idempotency_key": "differs from the Idempotency-Key header"})
    return header or given


@bp.post("/store/orders")
@token_required
@operation("Place an order", tag="store", body=StoreOrderCreateSchema,
           response=StoreOrderPlacedSchema, status=201, errors=(409,),
           description="Prices come from the catalog (a price in the request is ignored). "
                       "Cash on delivery confirms the order at once; stripe returns a "
                       "`client_secret` and the order is confirmed when the payment arrives. "
                       "409 when an item is short of stock. The same idempotency key returns "
                       "the first order with 200.")
def store_orders_create(body: dict):
    shipping = dict(body.get("shipping") or {})
    option = shipping.pop("option", None)
    placement = checkout.submit_order(
        g.org, email=body["customer_email"], name=body.get("customer_name", ""),
        items=body["items"], delivery_option=option, shipping_address=shipping or None,
        payment=body["payment"], coupon=body.get("coupon"),
        idempotency_key=_idempotency_key(body), actor_id=g.membership.user_id, channel="api")
    data = orders.serialize(placement.order) | {"client_secret": placement.client_secret}
    response = make_response(jsonify(placed_schema.dump(data)),
                             201 if placement.created else 200)
    response.headers["Location"] = url_for("api.store_orders_detail",
                                           order_id=placement.order.id)
    return response


@bp.get("/store/orders/<id:order_id>")
@token_required
@operation("Get an order", tag="store", response=StoreOrderSchema)
def store_orders_detail(order_id: int):
    return orders.serialize(find_order(order_id))


@bp.patch("/store/orders/<id:order_id>")
@token_required
@operation("Change an order (staff)", tag="store", body=StoreOrderUpdateSchema,
           response=StoreOrderSchema, errors=(409,),
           description="Fulfil (`fulfillment_status` packed, shipped with `carrier` and "
                       "`tracking_number`, delivered, returned), refund, cancel or complete. "
                       "The row is locked while it changes. An impossible move is a 409 that "
                       "says why; card refunds without Stripe are a 409 too.")
def store_orders_update(order_id: int, body: dict):
    order = find_order(order_id, for_update=True)
    actor = g.membership.user_id
    if "fulfillment_status" in body:
        order_changes.fulfil(actor, order, body["fulfillment_status"],
                             carrier=body.get("carrier", ""),
                             tracking_number=body.get("tracking_number", ""))
    if "refund" in body:
        refund = body["refund"]
        order_changes.refund(actor, order, amount=refund.get("amount"),
                             lines=refund.get("lines"))
    if body.get("status") == "cancelled":
        order_changes.cancel(actor, order, reason=body.get("reason", ""),
                             restock=body["restock"])
    elif body.get("status") == "completed":
        orders.change_status(actor, order, OrderStatus.COMPLETED,
                             reason=body.get("reason", ""))
    return orders.serialize(order)
