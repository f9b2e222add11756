"""The ticket list: filters, an opaque cursor and a keyset query on the inbox indexes.

Newest activity first. Each status is read as its own branch of a UNION ALL, ordered and
limited inside the branch, so every branch is a range scan of ix_tickets_inbox
(org_id, status, last_activity_at, id) or, with an assignee filter, ix_tickets_assignee
(org_id, assignee_id, status, ...), starting just after the cursor. No OFFSET: page 1,000 costs
what page 1 costs. The outer query merges at most (limit + 1) rows per status.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy import Select, func, select, tuple_, union_all

from helpdesk.api.schemas import MAX_ID, Text
from helpdesk.core import keyset
from helpdesk.customers.services import find_customer, get_customer
from helpdesk.tickets.models import Priority, Status, Ticket

# The cursor format is the desk's (helpdesk.core.keyset), tagged for this ordering.
CURSOR_TAG = "api-activity"
CURSOR_COLUMNS = (Ticket.last_activity_at, Ticket.id)


def encode_cursor(ticket: Ticket) -> str:
    return keyset.encode_cursor(keyset.AFTER, CURSOR_TAG, (ticket.last_activity_at, ticket.id))


class Cursor(fields.Field):
    """Opaque to clients: the (last_activity_at, id) of the last ticket of the previous page."""

    def _deserialize(self, value: Any, attr, data, **kwargs) -> tuple[datetime, int]:
        decoded = keyset.decode_cursor(str(value), CURSOR_TAG, CURSOR_COLUMNS)
        if decoded is None or decoded[0] != keyset.AFTER:
            raise ValidationError("Not a cursor from a previous page.")
        moment, ticket_id = decoded[1]
        if moment.tzinfo is None or not 0 < ticket_id <= MAX_ID:
            raise ValidationError("Not a cursor from a previous page.")
        return moment, ticket_id


class EnumList(fields.Field):
    """One value or several, comma-separated: `status=new,open`."""

    def __init__(self, enum: type, **kwargs: Any):
        self.enum = enum
        choices = ", ".join(m.value for m in enum)
        super().__init__(metadata={"type": "string", "description": f"One or more of {choices}, "
                                   "comma-separated."}, **kwargs)

    def _deserialize(self, value: Any, attr, data, **kwargs) -> list:
        names = [part.strip().lower() for part in str(value).split(",") if part.strip()]
        try:
            return list(dict.fromkeys(self.enum(name) for name in names))
        except ValueError as error:
            choices = ", ".join(m.value for m in self.enum)
            raise ValidationError(f"Use one or more of: {choices}.") from error


class Assignee(fields.Field):
    def _deserialize(self, value: Any, attr, data, **kwargs) -> int | str:
        text = str(value).strip().lower()
        if text in ("me", "none"):
            return text
        if text.isdigit() and 0 < int(text) <= MAX_ID:
            return int(text)
        raise ValidationError('A user id, "me" or "none".')


class CustomerFilter(fields.Field):
    def _deserialize(self, value: Any, attr, data, **kwargs) -> int | str:
        text = str(value).strip()
        if text.isdigit() and 0 < int(text) <= MAX_ID:
            return int(text)
        if "@" in text and len(text) <= 254:
            return text.lower()
        raise ValidationError("A customer id or email address.")


class TicketListQuery(Schema):
    status = EnumList(Status)
    priority = EnumList(Priority)
    assignee = Assignee(metadata={"type": "string", "description": 'User id, "me" or "none".'})
    tag = Text(max_length=50)
    customer = CustomerFilter(metadata={"type": "string", "description": "Id or email."})
    q = Text(max_length=200, metadata={"description": "Words in the subject or the number "
                                       '(web-search syntax: "a phrase", OR, -word).'})
    limit = fields.Integer(load_default=25, validate=validate.Range(min=1, max=100))
    cursor = Cursor(metadata={"type": "string", "description": "`next` of the previous page."})


def _conditions(filters: dict[str, Any], org_id: int, actor_id: int) -> list | None:
    """WHERE clauses shared by every branch; None when the filters cannot match anything."""
    conditions = [Ticket.org_id == org_id]
    assignee = filters.get("assignee")
    if assignee is not None:
        user_id = actor_id if assignee == "me" else None if assignee == "none" else assignee
        conditions.append(Ticket.assignee_id.is_(None) if user_id is None
                          else Ticket.assignee_id == user_id)
    if filters.get("priority"):
        conditions.append(Ticket.priority.in_(filters["priority"]))
    if filters.get("tag"):
        conditions.append(Ticket.tags.contains([filters["tag"].lower()]))  # GIN ix_tickets_tags
    customer_key = filters.get("customer")
    if customer_key is not None:
        customer = (get_customer(customer_key) if isinstance(customer_key, int)
                    else find_customer(customer_key))
        if customer is None:
            return None
        conditions.append(Ticket.customer_id == customer.id)
    if filters.get("q"):
        # The subject's full-text index (helpdesk.search), not a LIKE '%q%' scan of every row.
        words = func.websearch_to_tsquery(func.search_config_of(org_id), filters["q"])
        conditions.append(Ticket.search_vector.op("@@")(words))
    if filters.get("cursor"):
        moment, ticket_id = filters["cursor"]
        conditions.append(tuple_(Ticket.last_activity_at, Ticket.id) < tuple_(moment, ticket_id))
    return conditions


def ticket_page_query(filters: dict[str, Any], org_id: int, actor_id: int) -> Select | None:
    """The SELECT of one page plus one row (to know whether there is a next page)."""
    conditions = _conditions(filters, org_id, actor_id)
    if conditions is None:
        return None
    limit = filters.get("limit", 25)
    newest_first = (Ticket.last_activity_at.desc(), Ticket.id.desc())
    branches = [
        select(Ticket.id, Ticket.last_activity_at)
        .where(*conditions, Ticket.status == status)
        .order_by(*newest_first)
        .limit(limit + 1)
        for status in (filters.get("status") or list(Status))
    ]
    page = (union_all(*branches) if len(branches) > 1 else branches[0]).subquery("page")
    return (select(Ticket).join(page, Ticket.id == page.c.id)
            .order_by(page.c.last_activity_at.desc(), page.c.id.desc())
            .limit(limit + 1))


def list_tickets(session, filters: dict[str, Any], org_id: int,
                 actor_id: int) -> tuple[list[Ticket], str | None]:
    """One page of tickets and the cursor of the next page (None on the last one)."""
    query = ticket_page_query(filters, org_id, actor_id)
    if query is None:
        return [], None
    tickets = list(session.scalars(query).unique())
    limit = filters.get("limit", 25)
    if len(tickets) <= limit:
        return tickets, None
    return tickets[:limit], encode_cursor(tickets[limit - 1])
