"""The query string of a search (`q`, `type`, filters, `sort`, `cursor`), for the API and pages.

One schema: the API answers 400 with the fields at fault; the desk drops a bad filter value
and searches anyway (a search box never shows an error page). `q` is never rejected: any text,
of any length, with NULs or unbalanced quotes, is cleaned into a valid search (query.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate

from helpdesk.api.schemas import Text
from helpdesk.api.ticket_list import Assignee, EnumList
from helpdesk.search.query import DOC_TYPES, MAX_LIMIT, SORTS, SearchQuery
from helpdesk.tickets.models import Priority, Status

MAX_ID = 2**63 - 1


class AnyText(fields.String):
    """Accepts whatever was typed; cleaning happens in SearchQuery."""

    def _deserialize(self, value: Any, attr, data, **kwargs) -> str:
        return str(value)


class Day(fields.Field):
    """A date (`2026-11-01`) or a moment (`2026-11-01T09:30:00Z`)."""

    def __init__(self, end: bool = False, description: str = "", **kwargs: Any):
        super().__init__(metadata={"type": "string", "format": "date",
                                   "description": description}, **kwargs)
        self.end = end

    def _deserialize(self, value: Any, attr, data, **kwargs) -> datetime:
        text = str(value).strip()
        try:
            if len(text) == 10:
                day = date.fromisoformat(text)
                # `to` includes its whole day.
                moment = datetime.combine(day + timedelta(days=1) if self.end else day, time(),
                                          UTC)
            else:
                moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError as error:
            raise ValidationError("A date such as 2026-11-01.") from error
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class CustomerId(fields.Integer):
    def __init__(self, **kwargs: Any):
        super().__init__(strict=False, validate=validate.Range(min=1, max=MAX_ID), **kwargs)


class SearchArgs(Schema):
    q = AnyText(load_default="", metadata={
        "description": 'Words (all must match), "a phrase", OR, -word. A ticket or order '
                       "number (4711 or #4711) or an email address is also matched exactly."})
    type = fields.String(load_default="all", validate=validate.OneOf(("all", *DOC_TYPES)),
                         metadata={"description": "all (each type's first page), "
                                                  + ", ".join(DOC_TYPES)})
    status = EnumList(Status)
    priority = EnumList(Priority)
    assignee = Assignee(metadata={"type": "string", "description": 'User id, "me" or "none".'})
    tag = Text(max_length=50)
    customer = CustomerId(metadata={"description": "A customer id: their tickets and orders."})
    from_ = Day(data_key="from", description="Created on or after (a date).")
    to = Day(end=True, description="Created on or before (a date).")
    sort = fields.String(load_default="newest", validate=validate.OneOf(SORTS),
                         metadata={"description": "newest (default) or relevance (the newest "
                                                  "200 matches ranked, then the next 200...)"})
    limit = fields.Integer(load_default=25, validate=validate.Range(min=1, max=MAX_LIMIT))
    cursor = Text(max_length=300,
                  metadata={"description": "`next` of the previous page (one type)."})

    @post_load
    def to_query(self, data: dict[str, Any], **kwargs) -> SearchQuery:
        return SearchQuery(
            text=data["q"], type=data["type"], statuses=tuple(data.get("status") or ()),
            priorities=tuple(data.get("priority") or ()), assignee=data.get("assignee"),
            tag=(data.get("tag") or "").strip().lower() or None,
            customer_id=data.get("customer"), since=data.get("from_"), until=data.get("to"),
            sort=data["sort"], limit=data["limit"], cursor=data.get("cursor") or None)


_SCHEMA = SearchArgs()


def lenient_query(args: Mapping[str, str], **defaults: Any) -> tuple[SearchQuery, dict]:
    """The desk's search: bad filter values are dropped (and reported), never an error page."""
    values = {key: value for key, value in {**defaults, **args}.items() if value != ""}
    try:
        return _SCHEMA.load(values), {}
    except ValidationError as error:
        bad = error.messages if isinstance(error.messages, dict) else {}
        kept = {key: value for key, value in values.items() if key not in bad}
        try:
            return _SCHEMA.load(kept), bad
        except ValidationError:
            return SearchQuery(text=str(values.get("q", ""))), bad
