"""API v1: customers, with their recent tickets and store orders."""

from __future__ import annotations

from typing import Any

from flask import url_for
from marshmallow import Schema, fields
from sqlalchemy import select

from helpdesk.api import bp
from helpdesk.api.auth import token_required
from helpdesk.api.operations import operation
from helpdesk.api.schemas import Email, Text
from helpdesk.core.errors import ApiError
from helpdesk.customers import services as customer_services
from helpdesk.customers.models import Customer
from helpdesk.extensions import db
from helpdesk.tickets.models import Status, Ticket

RECENT_TICKETS = 50
RECENT_ORDERS = 50


class CustomerTicketSchema(Schema):
    number = fields.Integer()
    subject = fields.String()
    status = fields.Enum(Status, by_value=True)
    updated_at = fields.DateTime()


class CustomerOrderSchema(Schema):
    id = fields.Integer()
    number = fields.Integer()
    status = fields.String()
    payment_status = fields.String()
    fulfillment_status = fields.String()
    payment_method = fields.String()
    currency = fields.String()
    total = fields.Integer(metadata={"description": "Minor units (cents) of `currency`."})
    refunded = fields.Integer()
    created_at = fields.DateTime()
    ticket_numbers = fields.List(fields.Integer(), metadata={
        "description": "Tickets linked to the order."})


class CustomerSchema(Schema):
    id = fields.Integer()
    email = fields.String()
    name = fields.String()
    company = fields.String()
    phone = fields.String()
    created_at = fields.DateTime()
    tickets = fields.List(fields.Nested(CustomerTicketSchema), metadata={
        "description": f"The {RECENT_TICKETS} most recently active, newest first."})
    orders = fields.List(fields.Nested(CustomerOrderSchema), metadata={
        "description": f"The {RECENT_ORDERS} most recent store orders, newest first (details: "
                       "GET /api/v1/store/orders/<id>)."})

    def get_attribute(self, obj: Customer, attr: str, default: Any):
        if attr == "tickets":
            return db.session.scalars(
                select(Ticket).where(Ticket.customer_id == obj.id)  # ix_tickets_customer
                .order_by(Ticket.last_activity_at.desc()).limit(RECENT_TICKETS)
            ).unique().all()
        if attr == "orders":
            from storefront.ticket_links import order_summaries

            return order_summaries(obj.id, RECENT_ORDERS)
        return super().get_attribute(obj, attr, default)


class CustomerLookupQuery(Schema):
    email = Email(required=True)


class CustomerCreateSchema(Schema):
    email = Email(required=True)
    name = Text()
    company = Text()
    phone = Text(max_length=50)


@bp.get("/customers")
@token_required
@operation("Find a customer by email", tag="customers", query=CustomerLookupQuery,
           response=CustomerSchema, errors=(404,))
def customer_lookup(query: dict):
    customer = customer_services.find_customer(query["email"])
    if customer is None:
        raise ApiError(404, "No customer with that email.")
    return customer


@bp.get("/customers/<id:customer_id>")
@token_required
@operation("Get a customer", tag="customers", response=CustomerSchema)
def customer_detail(customer_id: int):
    customer = customer_services.get_customer(customer_id)
    if customer is None:
        raise ApiError(404, "No such customer.")
    return customer


@bp.post("/customers")
@token_required
@operation("Create a customer", tag="customers", body=CustomerCreateSchema,
           response=CustomerSchema, status=201, errors=(409,))
def customer_create(body: dict):
    customer = customer_services.create_customer(
        email=body["email"], name=body.get("name", ""), company=body.get("company", ""),
        phone=body.get("phone", ""),
    )
    return customer, {"Location": url_for("api.customer_detail", customer_id=customer.id)}
