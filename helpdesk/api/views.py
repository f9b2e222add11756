"""API v1 views of this issue: who am I, and customers. Tickets come with the ticket core."""

from __future__ import annotations

from flask import g, jsonify, url_for

from helpdesk.api import bp
from helpdesk.api.auth import token_required
from helpdesk.api.schemas import Fields, json_body
from helpdesk.core.errors import ApiError
from helpdesk.core.exceptions import ServiceError
from helpdesk.customers import services as customer_services
from helpdesk.customers.models import Customer


@bp.get("/me")
@token_required
def me():
    user = g.membership.user
    return jsonify(
        user={"id": user.id, "email": user.email, "name": user.name},
        org={"id": g.org.id, "slug": g.org.slug, "name": g.org.name, "plan": g.org.plan},
        role=g.membership.role.value,
    )


def customer_json(customer: Customer) -> dict:
    return {
        "id": customer.id,
        "email": customer.email,
        "name": customer.name,
        "company": customer.company,
        "phone": customer.phone,
        "created_at": customer.created_at.isoformat(),
    }


@bp.get("/customers/<id:customer_id>")
@token_required
def customer_detail(customer_id: int):
    customer = customer_services.get_customer(customer_id)
    if customer is None:
        raise ApiError(404, "No such customer.")
    return jsonify(customer_json(customer))


@bp.post("/customers")
@token_required
def customer_create():
    fields = Fields(json_body())
    email = fields.email("email", required=True)
    name = fields.text("name")
    company = fields.text("company")
    phone = fields.text("phone", max_length=50)
    fields.done()
    try:
        customer = customer_services.create_customer(
            email=email, name=name, company=company, phone=phone
        )
    except ServiceError as error:
        raise ApiError(error.status, error.message, error.fields) from error
    response = jsonify(customer_json(customer))
    response.status_code = 201
    response.headers["Location"] = url_for("api.customer_detail", customer_id=customer.id)
    return response
