"""The desk's order pages (/<org>/desk/store/orders): the list with its filters and one order
with its lines (personalization shown for packing), totals, states, timeline and the staff
actions. Agents read and link orders to tickets; managers and up change orders.

Every action may come from the ticket page's sidebar: a `ticket` field (its number) sends
the browser back there afterwards."""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from helpdesk.accounts.models import User
from helpdesk.core.auth import current_membership, staff_required
from helpdesk.core.exceptions import ServiceError
from helpdesk.core.views import run_and_flash
from helpdesk.core.web import org_blueprint
from helpdesk.extensions import db
from helpdesk.orgs.forms import EmptyForm
from helpdesk.orgs.models import Role
from helpdesk.tickets import services as ticket_services
from helpdesk.tickets.models import Ticket
from storefront import order_admin, order_changes, orders, ticket_links
from storefront.models import (
    FulfillmentStatus,
    Order,
    OrderStatus,
    Payment,
    PaymentStatus,
)
from storefront.money import parse_money

bp = org_blueprint("store_orders", __name__, "desk")
manager_required = staff_required(Role.MANAGER)


def _can_act() -> bool:
    membership = current_membership()
    return membership is not None and membership.role.rank >= Role.MANAGER.rank


@bp.context_processor
def _store_layout() -> dict:
    return {"can_edit_store": _can_act}  # the store's tabs (storefront/staff/_nav.html)


def _order(order_id: int, *, for_update: bool = False) -> Order:
    order = orders.get_order(order_id, for_update=for_update)  # another org's: None
    if order is None:
        abort(404)
    return order


def _checked_form() -> None:
    if not EmptyForm().validate_on_submit():
        abort(400, description="The form expired. Reload the page and try again.")


def _back(order: Order, anchor: str = ""):
    """To the ticket the button was on (a number of this org's), else the order page."""
    number = (request.form.get("ticket") or "").strip()
    if number.isdigit() and len(number) < 18 and ticket_services.get_ticket(int(number)):
        return redirect(url_for("tickets.detail", number=int(number)) + "#store-orders", 303)
    return redirect(url_for("store_orders.detail", order_id=order.id) + anchor, 303)


@bp.get("/store/orders")
@staff_required()
def index():
    filters = order_admin.read_filters(request.args)
    page = order_admin.list_orders(filters, request.args.get("cursor"),
                                  limit=order_admin.PAGE_SIZE)
    query = {k: v for k, v in filters.values.items() if v and k not in filters.problems}

    def link(cursor: str) -> str:
        return url_for("store_orders.index", **query, cursor=cursor)

    return render_template(
        "storefront/staff/orders.html", page=page, link=link, filters=filters,
        statuses=list(OrderStatus), payments=list(PaymentStatus),
        fulfillments=list(FulfillmentStatus), filtered=bool(query))


index.cleans_query_string = True  # read_filters drops a NUL typed into a filter


@bp.get("/store/orders/<id:order_id>")
@staff_required()
def detail(order_id: int):
    order = _order(order_id)
    timeline = orders.timeline(order)
    actor_ids = {e.actor_user_id for e in timeline if e.actor_user_id}
    names = dict(db.session.execute(select(User.id, User.name).where(
        User.id.in_(actor_ids))).all()) if actor_ids else {}
    currency = order.currency
    tickets = db.session.scalars(select(Ticket).where(Ticket.order_id == order.id)
                                 .order_by(Ticket.created_at.desc())).unique().all()
    payments = db.session.scalars(select(Payment).where(Payment.order_id == order.id)
                                  .order_by(Payment.id)).all()
    return render_template(
        "storefront/staff/order_detail.html", order=order, lines=orders.lines_of(order),
        fulfillment=orders.current_fulfillment(order), payments=payments, tickets=tickets,
        timeline=[(e, order_admin.tell(e, names, currency)) for e in timeline],
        can_act=_can_act(), actions=order_admin.actions_for(order), currency=currency)


@bp.post("/store/orders/<id:order_id>/confirm")
@manager_required
def confirm(order_id: int):
    order = _order(order_id, for_update=True)
    _checked_form()
    run_and_flash(lambda: order_admin.confirm_order(g.membership.user_id, order),
                  f"Order #{order.number} confirmed.")
    return _back(order)


@bp.post("/store/orders/<id:order_id>/fulfil")
@manager_required
def fulfil(order_id: int):
    order = _order(order_id, for_update=True)
    _checked_form()
    status = request.form.get("status", "")
    labels = {"packed": "marked packed", "shipped": "marked shipped",
              "delivered": "marked delivered", "returned": "marked returned"}
    run_and_flash(lambda: order_changes.fulfil(
        g.membership.user_id, order, status, carrier=request.form.get("carrier", ""),
        tracking_number=request.form.get("tracking_number", "")),
        f"Order #{order.number} {labels.get(status, 'updated')}.")
    return _back(order, "#fulfilment")


@bp.post("/store/orders/<id:order_id>/cancel")
@manager_required
def cancel(order_id: int):
    order = _order(order_id, for_update=True)
    _checked_form()
    sent = request.form.getlist("restock")  # the form sends "0", then "1" when ticked
    restock = not sent or "1" in sent
    reason = " ".join((request.form.get("reason") or "").split())[:200]
    run_and_flash(lambda: order_changes.cancel(g.membership.user_id, order, reason=reason,
                                               restock=restock),
                  f"Order #{order.number} cancelled" + (", stock put back." if restock else "."))
    return _back(order)


@bp.post("/store/orders/<id:order_id>/refund")
@manager_required
def refund(order_id: int):
    order = _order(order_id, for_update=True)
    _checked_form()

    def do_refund() -> int:
        lines = []
        if request.form.get("mode") == "lines":
            lines = order_admin.refund_lines_from_form(order, request.form)
            if not lines:
                raise ServiceError("Choose the units to refund (a quantity on a line).",
                                   {"lines": "none chosen"})
        typed = (request.form.get("amount") or "").strip()
        amount = None
        if typed:
            try:
                amount = parse_money(typed, order.currency)
            except ValueError as error:
                raise ServiceError(f"Refund amount: {error}", {"amount": str(error)}) from error
        return order_changes.refund(g.membership.user_id, order, amount=amount,
                                    lines=lines or None)

    run_and_flash(do_refund, f"Order #{order.number} refunded.")
    return _back(order, "#refund")


@bp.post("/store/orders/<id:order_id>/resend")
@manager_required
def resend(order_id: int):
    order = _order(order_id)
    _checked_form()
    run_and_flash(lambda: order_admin.resend_confirmation(order),
                  f"The confirmation of order #{order.number} is on its way to {order.email}.")
    return _back(order)


@bp.post("/store/orders/<id:order_id>/link")
@staff_required()
def link_ticket(order_id: int):
    """Link a ticket (by number, the buyer's own) to this order: agents triage too."""
    order = _order(order_id)
    _checked_form()
    number = (request.form.get("ticket") or "").strip().lstrip("#")
    ticket = ticket_services.get_ticket(int(number), for_update=True) if (
        number.isdigit() and len(number) < 18) else None
    if ticket is None:
        flash(f"There is no ticket #{number[:20]}.", "error")
        return redirect(url_for("store_orders.detail", order_id=order.id), 303)
    run_and_flash(lambda: ticket_links.link_ticket_to_order(ticket, order, g.membership.user_id),
                  f"Ticket #{ticket.number} is about order #{order.number} now.")
    return _back(order)


@bp.get("/store/orders/<id:order_id>/lines/<id:line_id>/<key>")
@staff_required()
def personalization_image(order_id: int, line_id: int, key: str):
    """A buyer's picture for an image personalization field, for whoever packs the order."""
    from flask import send_file

    from storefront.order_input import IMAGE_KEY
    from storefront.product_images import image_type, storage_root

    order = _order(order_id)
    line = next((line for line in orders.lines_of(order) if line.id == line_id), None)
    value = (line.personalization or {}).get(key) if line is not None else None
    found = IMAGE_KEY.match(value) if isinstance(value, str) else None
    if found is None or int(found.group(1)) != order.org_id:
        abort(404)
    root = storage_root().resolve()
    path = (root / value).resolve()
    if root not in path.parents or not path.is_file():
        abort(404, description="The file of this picture is missing.")
    with path.open("rb") as handle:
        kind = image_type(handle.read(64))
    response = send_file(path, mimetype=kind or "application/octet-stream",
                         as_attachment=kind is None)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response
