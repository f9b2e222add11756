"""API v1: full-text search over tickets, messages, customers and orders (articles later)."""

from __future__ import annotations

from flask import g
from marshmallow import Schema, fields

from helpdesk.api import bp
from helpdesk.api.auth import token_required
from helpdesk.api.operations import operation
from helpdesk.search import services
from helpdesk.search.params import SearchArgs


class HitSchema(Schema):
    type = fields.String(metadata={"description": "ticket, message, customer or order"})
    id = fields.Integer()
    title = fields.String(metadata={"description": "Ticket subject, customer name or "
                                                   "\"Order #1042\""})
    snippet = fields.String(metadata={"description": "HTML: escaped text, matches in <mark>"})
    created_at = fields.DateTime()
    ticket_number = fields.Integer(allow_none=True)
    ticket_status = fields.String(allow_none=True)
    customer_id = fields.Integer(allow_none=True)
    customer_email = fields.String(allow_none=True)
    message_kind = fields.String(allow_none=True, metadata={"description": "customer, reply, note"})
    order_number = fields.Integer(allow_none=True)
    order_status = fields.String(allow_none=True, metadata={
        "description": "placed, confirmed, cancelled, ..."})
    order_total = fields.Integer(allow_none=True, metadata={
        "description": "The order's total in minor units (cents) of `currency`"})
    currency = fields.String(allow_none=True, metadata={"description": "ISO 4217, e.g. EUR"})
    exact = fields.Boolean(metadata={"description": "An exact number or address match (first)"})
    score = fields.Float(allow_none=True, metadata={"description": "Rank, with sort=relevance"})


class SearchPageSchema(Schema):
    data = fields.List(fields.Nested(HitSchema), required=True, attribute="hits")
    next = fields.String(allow_none=True, required=True, attribute="next_cursor", metadata={
        "description": "Pass as `?cursor=` (same q, type and filters) for the next page; null "
                       "at the end, and always null with type=all (see `more`)."})
    more = fields.Dict(keys=fields.String(), values=fields.String(), metadata={
        "description": "type=all: the cursor of each type that has more hits (use it with "
                       "that `type`)."})
    notice = fields.String(allow_none=True, metadata={
        "description": "Why the page is empty when the search was stopped (too slow)."})


@bp.get("/search")
@token_required
@operation("Search tickets, messages, customers and orders", tag="search", query=SearchArgs,
           response=SearchPageSchema, errors=(400,),
           description="Newest first (or `sort=relevance`); an exact ticket or order number or "
                       "address leads the first page. Orders take the `customer`, `from` and "
                       "`to` filters; with type=all the ticket filters (status, priority, "
                       "assignee, tag) leave orders out. Every query is limited to the token's "
                       "org. Cursor pagination has no depth limit.")
def search(query):
    return services.search(g.org, g.membership.user_id, query)


search.cleans_query_string = True  # q may hold NULs: SearchQuery removes them
