"""The shop's "Get help with this order" page (/<org>/shop/orders/<number>/help?t=...).

There is no customer sign-in yet: the buyer comes with the signed token from the confirmation
mail or the order-placed page. Posting the form opens a ticket linked to the order."""

from __future__ import annotations

from flask import abort, g, render_template, request
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from helpdesk.core import ratelimit
from helpdesk.core.exceptions import ServiceError
from helpdesk.customers.models import Customer
from helpdesk.extensions import db
from storefront import shop_bp, ticket_links

TICKETS_PER_HOUR = 5  # per order: a leaked link cannot flood the desk


class OrderHelpForm(FlaskForm):
    subject = StringField("What is it about?", [DataRequired("Say in a few words what it is "
                                                              "about."), Length(max=200)])
    body = TextAreaField("Your message", [DataRequired("Tell us what happened."),
                                          Length(max=20_000)])


def _limit(order_id: int) -> list[ratelimit.Limit]:
    return [ratelimit.Limit(f"shop-help:{g.org.id}:{order_id}", TICKETS_PER_HOUR, 3600)]


@shop_bp.route("/orders/<id:number>/help", methods=["GET", "POST"], endpoint="order_help")
def order_help(number: int):
    token = request.args.get("t") or request.form.get("t")
    try:
        order = ticket_links.order_from_help_token(token, g.org.id)
    except ServiceError:
        abort(404, description="This help link is not valid. Use the link in your order "
                               "confirmation mail.")
    if order.number != number:
        abort(404)
    form = OrderHelpForm()
    context = {"order": order, "form": form, "token": token, "ticket": None}
    if not form.validate_on_submit():
        status = 422 if form.is_submitted() else 200
        return render_template("storefront/order_help.html", **context), status
    wait = ratelimit.retry_after(_limit(order.id))
    if wait:
        form.body.errors = [f"We have your earlier messages about this order. Please wait "
                            f"{max(1, wait // 60)} minutes before writing again."]
        return render_template("storefront/order_help.html", **context), 429
    customer = db.session.get(Customer, order.customer_id)
    try:
        ticket = ticket_links.create_help_ticket(order, customer, form.subject.data,
                                                 form.body.data)
    except ServiceError as error:
        db.session.rollback()
        for name, message in error.fields.items():
            field = getattr(form, name, None)
            if field is not None:
                field.errors = [*field.errors, message]
        return render_template("storefront/order_help.html", **context), error.status
    ratelimit.record_failure(_limit(order.id))  # counts tickets opened, not failures
    context["ticket"] = ticket
    return render_template("storefront/order_help.html", **context)
