"""Desk pages for customers: the searchable list and one customer with their tickets and
store orders in one timeline."""

from __future__ import annotations

from flask import abort, current_app, render_template, request, url_for
from sqlalchemy import func, or_, select

from helpdesk.core.auth import staff_required
from helpdesk.core.keyset import paginate
from helpdesk.customers import bp, services
from helpdesk.customers.models import Customer
from helpdesk.extensions import db
from helpdesk.tickets.models import Ticket

PAGE_SIZE = 30
TICKETS_SHOWN = 50


def _search(statement, query: str):
    if not query:
        return statement
    like = "%" + query.replace("\\", "").replace("%", "").replace("_", "") + "%"
    return statement.where(or_(Customer.name.ilike(like), Customer.email.ilike(like),
                               Customer.company.ilike(like)))


@bp.get("/")
@staff_required()
def index():
    """Newest first, keyset-paged on id (the (org_id, id) unique index)."""
    query = " ".join((request.args.get("q") or "").split())[:100]
    page = paginate(_search(select(Customer), query), [Customer.id], lambda c: [c.id],
                    cursor=request.args.get("cursor"), tag="customers", limit=PAGE_SIZE)
    counts = dict(db.session.execute(
        select(Ticket.customer_id, func.count(Ticket.id))
        .where(Ticket.customer_id.in_([c.id for c in page.rows])).group_by(Ticket.customer_id)
    ).all()) if page.rows else {}

    def link(cursor: str) -> str:
        return url_for("customers.index", q=query or None, cursor=cursor)

    return render_template("helpdesk/customers/list.html", page=page, query=query,
                           ticket_counts=counts, link=link)


@bp.get("/<id:customer_id>")
@staff_required()
def detail(customer_id: int):
    customer = services.get_customer(customer_id)
    if customer is None:
        abort(404)
    tickets = db.session.scalars(
        select(Ticket).where(Ticket.customer_id == customer.id)
        .order_by(Ticket.last_activity_at.desc(), Ticket.id.desc()).limit(TICKETS_SHOWN)
    ).unique().all()
    total = db.session.scalar(select(func.count(Ticket.id))
                              .where(Ticket.customer_id == customer.id))
    return render_template("helpdesk/customers/detail.html", customer=customer, tickets=tickets,
                           total=total, **_with_orders(customer, tickets))


def _with_orders(customer, tickets) -> dict:
    """The customer's store orders and one timeline of tickets and orders, newest first."""
    if "store_orders.detail" not in current_app.view_functions:
        return {"orders": [], "timeline": [("ticket", t.created_at, t) for t in tickets]}
    from storefront.ticket_links import customer_orders

    orders = customer_orders(customer.id, TICKETS_SHOWN)
    timeline = sorted([("ticket", t.created_at, t) for t in tickets]
                      + [("order", o.created_at, o) for o in orders],
                      key=lambda item: item[1], reverse=True)
    return {"orders": orders, "timeline": timeline}
