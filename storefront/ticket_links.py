"""Tickets about orders: link a ticket to one of its customer's orders (both timelines say so),
find "order #1042" in a customer's words, open a help ticket from the shop's order page, and
the signed link that lets a buyer (no sign-in yet) reach that page from the confirmation mail.

A ticket is only ever linked to an order of the ticket's own customer: an order number that
a stranger mentions in a mail stays a number in the text.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from helpdesk.core.exceptions import NotFound, ValidationFailed
from helpdesk.customers.models import Customer
from helpdesk.extensions import db
from helpdesk.tickets import events as ticket_events
from helpdesk.tickets.models import Channel, Message, Ticket
from storefront import order_events, orders
from storefront.models import Order

# "order #1042", "Order 1042", "order no. 1042", "Order number: 1042", "order nr 1042".
ORDER_REFERENCE = re.compile(
    r"\border\s*(?:(?:number|no\.?|nr\.?)\s*)?[:#]?\s*#?\s*([1-9][0-9]{0,17})\b", re.IGNORECASE)
SCANNED_CHARACTERS = 20_000  # a mail's first pages: a reference is near the top
HELP_SALT = "storefront.order-help"
log = logging.getLogger(__name__)
NEW_TICKET_OUTCOMES = ("new_ticket", "follow_up")


# Finding and linking ---------------------------------------------------------------------------

def find_order_references(text: str | None) -> list[int]:
    """Every order number named in `text` ("order #1042", "Order 1042" ...), first one first."""
    numbers: list[int] = []
    for match in ORDER_REFERENCE.finditer((text or "")[:SCANNED_CHARACTERS]):
        number = int(match.group(1))
        if number not in numbers:
            numbers.append(number)
    return numbers


def find_order_reference(text: str | None) -> int | None:
    """The first order number named in `text`, or None."""
    found = find_order_references(text)
    return found[0] if found else None


def link_ticket_to_order(ticket: Ticket, order: Order, actor_id: int | None) -> bool:
    """Link `ticket` to `order` and write a TicketEvent 'order_linked' and an OrderEvent
    'ticket_linked'. False when it was linked already. Raises ValidationFailed when the order
    is another customer's (or another org's: never linked, whatever the caller found)."""
    if order.org_id != ticket.org_id or order.customer_id != ticket.customer_id:
        raise ValidationFailed(f"Order #{order.number} belongs to another customer.",
                               {"order_id": "not an order of this ticket's customer"})
    if ticket.order_id == order.id:
        return False
    previous = ticket.order_id
    ticket.order_id = order.id
    ticket_events._record(ticket, "order_linked", actor_id,  # noqa: SLF001 - one event kind
                          order_id=order.id, number=order.number, previous_order_id=previous)
    order_events._record(order, "ticket_linked", actor_id,  # noqa: SLF001
                         ticket_id=ticket.id, number=ticket.number)
    db.session.flush()
    return True


def order_of_customer(order_id: Any, customer: Customer, field: str = "order_id") -> Order:
    """The current org's order `order_id` if it is `customer`'s. Raises ValidationFailed
    (naming `field`) for anything else: a malformed id, a missing order, another org's or
    another customer's (one message for all three: ids are not probed)."""
    if isinstance(order_id, str) and order_id.strip().isdigit():
        order_id = int(order_id.strip())
    if isinstance(order_id, bool) or not isinstance(order_id, int) or not 0 < order_id < 2**63:
        raise ValidationFailed("order_id is an order's id (a positive whole number).",
                               {field: "an order id"})
    order = orders.get_order(order_id)
    if order is None or order.customer_id != customer.id:
        raise ValidationFailed(f"No order {order_id} of {customer.email}.",
                               {field: "no such order of this customer"})
    return order


def link_mentioned_order(ticket: Ticket, text: str) -> Order | None:
    """Link `ticket` to the first order named in `text` that is its customer's (others are
    left alone); None when there is none or the ticket has an order already."""
    if ticket.order_id is not None:
        return None
    for number in find_order_references(text):
        order = orders.get_order_by_number(number)
        if order is not None and order.customer_id == ticket.customer_id:
            link_ticket_to_order(ticket, order, None)
            return order
    return None


def link_orders_of_new_mail_tickets(inbound_rows: list) -> int:
    """The mail pipeline's hook: tickets just opened by mail (new or follow-up) are linked to
    the sender's order named in the subject or the first message ("Re: Order #1042
    confirmed"). Returns how many were linked. A failure here is logged and leaves the mail
    as it was processed (database errors go up: the batch is retried)."""
    candidates = [r for r in inbound_rows
                  if getattr(r, "outcome", None) in NEW_TICKET_OUTCOMES and r.ticket_id]
    if not candidates:
        return 0
    savepoint = db.session.begin_nested()
    try:
        linked = sum(1 for inbound in candidates if _link_mail_ticket(inbound))
        savepoint.commit()
    except DBAPIError:
        savepoint.rollback()
        raise
    except Exception:  # noqa: BLE001 - linking is a nicety: never stop the mail
        savepoint.rollback()
        log.exception("linking mail tickets to orders failed")
        return 0
    return linked


def _link_mail_ticket(inbound: Any) -> bool:
    ticket = db.session.get(Ticket, inbound.ticket_id)
    if ticket is None or ticket.order_id is not None:
        return False
    body = db.session.scalar(select(Message.body_text).where(
        Message.id == inbound.message_row_id)) if inbound.message_row_id else ""
    text = f"{inbound.subject or ticket.subject}\n{body or ''}"
    return bool(find_order_references(text)) and link_mentioned_order(ticket, text) is not None


# Help from the shop ---------------------------------------------------------------------------

def create_help_ticket(order: Order, customer: Customer, subject: Any, body: Any) -> Ticket:
    """A ticket from the buyer about their order (channel store), linked to it. Raises
    ValidationFailed for an empty subject or message, or when `customer` is not the buyer."""
    if customer is None or customer.id != order.customer_id:
        raise ValidationFailed(f"Order #{order.number} is not this customer's.",
                               {"order_id": "not this customer's order"})
    subject = " ".join(str(subject or "").split())
    body = str(body or "").replace("\x00", "")
    errors = {}
    if not subject:
        errors["subject"] = "Say in a few words what it is about."
    elif len(subject) > 200:
        errors["subject"] = "At most 200 characters."
    if not body.strip():
        errors["body"] = "Tell us what happened."
    elif len(body) > 20_000:
        errors["body"] = "At most 20,000 characters."
    if errors:
        raise ValidationFailed("Please fill in both fields.", errors)
    from helpdesk.tickets import services

    if f"#{order.number}" not in subject:
        subject = f"{subject} (order #{order.number})"
    ticket = services.create_ticket(None, subject=subject, customer=customer,
                                    channel=Channel.STORE, body_text=body)
    link_ticket_to_order(ticket, order, None)
    return ticket


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=HELP_SALT)


def help_token(order: Order) -> str:
    """A token naming this order of this org, signed with the app's secret (no expiry: it is
    in the confirmation mail the buyer keeps)."""
    return _serializer().dumps([order.org_id, order.id])


def order_from_help_token(token: str | None, org_id: int) -> Order:
    """The current org's order named by a help token. Raises NotFound for a forged, mangled or
    another org's token."""
    try:
        org_of_token, order_id = _serializer().loads(token or "")
    except (BadSignature, ValueError, TypeError) as error:
        raise NotFound("This help link is not valid.") from error
    if org_of_token != org_id or not isinstance(order_id, int):
        raise NotFound("This help link is not valid.")
    order = orders.get_order(order_id)
    if order is None:
        raise NotFound("This help link is not valid.")
    return order


def help_url(order: Order, *, external: bool = False) -> str:
    """The shop's "Get help with this order" page, with the signed token. Built by hand, not
    by url_for: mail is also written outside requests (jobs). External URLs start with
    PUBLIC_URL."""
    from urllib.parse import quote

    from helpdesk.orgs.models import Organization

    org = db.session.get(Organization, order.org_id)
    path = f"/{quote(org.slug)}/shop/orders/{order.number}/help?t={help_token(order)}"
    if external:
        base = (current_app.config.get("PUBLIC_URL") or "http://localhost:5000").rstrip("/")
        return f"{base}{path}"
    return path


# The ticket page's sidebar --------------------------------------------------------------------

RECENT_ORDERS = 5


def ticket_sidebar(ticket: Ticket) -> dict[str, Any]:
    """What the ticket page shows of the customer's orders: the linked one in full (lines,
    fulfillment, payments, timeline) and the most recent others."""
    from helpdesk.core.auth import current_membership
    from helpdesk.orgs.models import Role
    from storefront import order_admin

    linked = db.session.get(Order, ticket.order_id) if ticket.order_id else None
    recent = customer_orders(ticket.customer_id, RECENT_ORDERS)
    membership = current_membership()
    return {
        "linked": linked,
        "lines": orders.lines_of(linked) if linked else [],
        "fulfillment": orders.current_fulfillment(linked) if linked else None,
        "recent": [o for o in recent if linked is None or o.id != linked.id],
        "can_act": membership is not None and membership.role.rank >= Role.MANAGER.rank,
        "actions": order_admin.actions_for(linked) if linked else set(),
    }


# A customer's orders, for the API and the desk's customer page --------------------------------

def customer_orders(customer_id: int, limit: int) -> list[Order]:
    """The customer's most recent orders, newest first (ix_shop_orders_customer)."""
    return list(db.session.scalars(
        select(Order).where(Order.customer_id == customer_id)
        .order_by(Order.created_at.desc(), Order.id.desc()).limit(limit)))


def order_summaries(customer_id: int, limit: int) -> list[dict[str, Any]]:
    """The customer's recent orders as the API's customer resource lists them."""
    found = customer_orders(customer_id, limit)
    tickets: dict[int, list[int]] = {}
    if found:
        for order_id, number in db.session.execute(
                select(Ticket.order_id, Ticket.number)
                .where(Ticket.order_id.in_([o.id for o in found])).order_by(Ticket.number)):
            tickets.setdefault(order_id, []).append(number)
    return [{"id": o.id, "number": o.number, "status": o.status.value,
             "payment_status": o.payment_status.value,
             "fulfillment_status": o.fulfillment_status.value,
             "payment_method": o.payment_method.value, "currency": o.currency,
             "total": o.total, "refunded": o.refunded, "created_at": o.created_at,
             "ticket_numbers": tickets.get(o.id, [])} for o in found]
