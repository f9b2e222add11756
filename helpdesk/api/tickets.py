"""API v1: tickets (list, create, read, change)."""

from __future__ import annotations

from flask import g, url_for
from sqlalchemy import select

from helpdesk.api import bp
from helpdesk.api.auth import token_required
from helpdesk.api.operations import operation, page_of
from helpdesk.api.ticket_list import TicketListQuery, list_tickets
from helpdesk.api.ticket_schemas import (
    CreatedTicketSchema,
    TicketCreateSchema,
    TicketSchema,
    TicketUpdateSchema,
)
from helpdesk.core.errors import ApiError
from helpdesk.extensions import db
from helpdesk.tickets import services
from helpdesk.tickets.models import Channel, Priority, Ticket

TicketPageSchema = page_of(TicketSchema)

# Request names that differ from the service's keyword arguments.
UPDATE_ARGUMENTS = {"assignee": "assignee_id", "team": "team_id"}


def find_ticket(number: int, *, for_update: bool = False) -> Ticket:
    """The current org's ticket, or 404 (another org's ticket is not found either)."""
    ticket = services.get_ticket(number, for_update=for_update)
    if ticket is None:
        raise ApiError(404, f"No ticket #{number}.")
    return ticket


@bp.get("/tickets")
@token_required
@operation("List tickets", tag="tickets", query=TicketListQuery, response=TicketPageSchema,
           description="Newest activity first. Pass `next` back as `cursor` for the next page.")
def tickets_list(query: dict):
    tickets, next_cursor = list_tickets(db.session, query, g.org.id, g.membership.user_id)
    linked = {t.merged_into_id for t in tickets} | {t.follow_up_of_id for t in tickets}
    linked.discard(None)
    if linked:  # into the identity map, so the numbers cost one query, not one per ticket
        db.session.scalars(select(Ticket).where(Ticket.id.in_(linked))).unique().all()
    return {"data": tickets, "next": next_cursor}


@bp.post("/tickets")
@token_required
@operation("Create a ticket", tag="tickets", body=TicketCreateSchema,
           response=CreatedTicketSchema, status=201, errors=(409,),
           description="The body is the customer's first message; the customer is found by "
                       "email or created. Channel: api. With `order_id` the ticket is linked "
                       "to that store order, which must be the customer's (else 422).")
def tickets_create(body: dict):
    from storefront import ticket_links

    customer = services.find_or_create_customer(body["customer_email"],
                                                body.get("customer_name", ""))
    order = None
    if body.get("order_id") is not None:
        order = ticket_links.order_of_customer(body["order_id"], customer)
    ticket = services.create_ticket(
        g.membership.user_id,
        subject=body["subject"],
        customer=customer,
        channel=Channel.API,
        body_text=body.get("body"),
        body_html=body.get("body_html"),
        priority=body.get("priority") or Priority.NORMAL,
        tags=body.get("tags") or (),
        custom_fields=body.get("custom_fields"),
        assignee_id=body.get("assignee"),
    )
    if order is not None:
        ticket_links.link_ticket_to_order(ticket, order, g.membership.user_id)
    location = url_for("api.tickets_detail", number=ticket.number)
    return ticket, {"Location": location}


@bp.get("/tickets/<id:number>")
@token_required
@operation("Get a ticket", tag="tickets", response=TicketSchema)
def tickets_detail(number: int):
    return find_ticket(number)


@bp.patch("/tickets/<id:number>")
@token_required
@operation("Change a ticket", tag="tickets", body=TicketUpdateSchema, response=TicketSchema,
           errors=(409,),
           description="Only the fields given change. The row is locked while it changes, so "
                       "concurrent changes queue up and none is lost. An impossible status "
                       "change is a 409 that says why.")
def tickets_update(number: int, body: dict):
    ticket = find_ticket(number, for_update=True)
    changes = {UPDATE_ARGUMENTS.get(name, name): value for name, value in body.items()}
    services.update_ticket(g.membership.user_id, ticket, **changes)
    return ticket
