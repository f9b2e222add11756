"""The inbox query: a view (a saved filter), optional filters, a sort, keyset pages.

Views and sorts follow the indexes: `ix_tickets_inbox` (org_id, status, last_activity_at, id)
serves the status views, `ix_tickets_assignee` (org_id, assignee_id, status, ...) the
assignee ones. Pages never use OFFSET (see helpdesk.core.keyset).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, and_, case, func, select

from helpdesk.core.keyset import Page, paginate
from helpdesk.extensions import db
from helpdesk.tickets.models import Priority, Status, Ticket

OPEN_STATUSES = (Status.NEW, Status.OPEN, Status.PENDING)
PAGE_SIZE = 25


@dataclass(frozen=True)
class View:
    name: str
    label: str
    condition: Callable[[int], ColumnElement[bool]]  # of the current user's id


def _not_spam() -> ColumnElement[bool]:
    return Ticket.is_spam.is_(False)


VIEWS: dict[str, View] = {view.name: view for view in (
    View("mine", "My open", lambda me: and_(Ticket.assignee_id == me,
                                            Ticket.status.in_(OPEN_STATUSES), _not_spam())),
    View("unassigned", "Unassigned", lambda me: and_(Ticket.assignee_id.is_(None),
                                                    Ticket.status.in_(OPEN_STATUSES),
                                                    _not_spam())),
    View("open", "All open", lambda me: and_(Ticket.status.in_(OPEN_STATUSES), _not_spam())),
    View("pending", "Pending", lambda me: and_(Ticket.status == Status.PENDING, _not_spam())),
    # Merged tickets are closed too, but they live on in their target: leave them out.
    View("solved", "Solved", lambda me: and_(Ticket.status.in_((Status.SOLVED, Status.CLOSED)),
                                            Ticket.merged_into_id.is_(None), _not_spam())),
    View("spam", "Spam", lambda me: Ticket.is_spam.is_(True)),
)}
DEFAULT_VIEW = "open"

PRIORITY_RANK = case({p: rank for rank, p in enumerate(Priority)}, value=Ticket.priority)
SORTS: dict[str, tuple[str, list]] = {
    "activity": ("Last activity", [Ticket.last_activity_at, Ticket.id]),
    "created": ("Newest first", [Ticket.created_at, Ticket.id]),
    "priority": ("Priority", [PRIORITY_RANK, Ticket.last_activity_at, Ticket.id]),
}
PRIORITY_ORDER = {p: rank for rank, p in enumerate(Priority)}


@dataclass(frozen=True)
class Filters:
    """Optional narrowing on top of a view. `assignee`/`team`: an id, or "none" for unset."""

    status: Status | None = None
    priority: Priority | None = None
    assignee: int | str | None = None
    team: int | str | None = None
    tag: str | None = None
    customer: int | None = None
    active: dict[str, str] = field(default_factory=dict)  # what the URL carried, to link back


def _positive_int(value: str) -> int | None:
    return int(value) if value.isdigit() and 0 < len(value) < 19 else None


def parse_filters(args: Mapping[str, str], me: int) -> Filters:
    """Filters from query arguments; values that cannot be right are dropped, not errors
    (an old bookmark or an edited URL still shows a page)."""
    values: dict = {}
    active: dict[str, str] = {}
    raw = {k: (args.get(k) or "").strip() for k in
           ("status", "priority", "assignee", "team", "tag", "customer")}
    if raw["status"] in Status._value2member_map_:
        values["status"] = Status(raw["status"])
    if raw["priority"] in Priority._value2member_map_:
        values["priority"] = Priority(raw["priority"])
    for key in ("assignee", "team"):
        if raw[key] == "none":
            values[key] = "none"
        elif raw[key] == "me" and key == "assignee":
            values[key] = me
        elif (number := _positive_int(raw[key])) is not None:
            values[key] = number
    if raw["tag"] and len(raw["tag"]) <= 50:
        values["tag"] = raw["tag"].lower()
    if (number := _positive_int(raw["customer"])) is not None:
        values["customer"] = number
    for key in values:
        active[key] = raw[key]
    return Filters(**values, active=active)


def _filtered(statement, filters: Filters):
    if filters.status is not None:
        statement = statement.where(Ticket.status == filters.status)
    if filters.priority is not None:
        statement = statement.where(Ticket.priority == filters.priority)
    if filters.assignee == "none":
        statement = statement.where(Ticket.assignee_id.is_(None))
    elif filters.assignee is not None:
        statement = statement.where(Ticket.assignee_id == filters.assignee)
    if filters.team == "none":
        statement = statement.where(Ticket.team_id.is_(None))
    elif filters.team is not None:
        statement = statement.where(Ticket.team_id == filters.team)
    if filters.tag:
        statement = statement.where(Ticket.tags.contains([filters.tag]))  # GIN: tags @> {tag}
    if filters.customer is not None:
        statement = statement.where(Ticket.customer_id == filters.customer)
    return statement


def list_tickets(view: str, me: int, filters: Filters, *, sort: str = "activity",
                 cursor: str | None = None, limit: int = PAGE_SIZE) -> Page:
    """One page of the view's tickets (customer and assignee loaded with them)."""
    chosen = VIEWS.get(view) or VIEWS[DEFAULT_VIEW]
    sort = sort if sort in SORTS else "activity"
    columns = SORTS[sort][1]
    statement = _filtered(select(Ticket).where(chosen.condition(me)), filters)

    def key(ticket: Ticket) -> list:
        if sort == "created":
            return [ticket.created_at, ticket.id]
        if sort == "priority":
            return [PRIORITY_ORDER[ticket.priority], ticket.last_activity_at, ticket.id]
        return [ticket.last_activity_at, ticket.id]

    return paginate(statement, columns, key, cursor=cursor, tag=f"{chosen.name}:{sort}",
                    limit=limit)


def view_counts(me: int) -> dict[str, int]:
    """Tickets per view, in one scan of the org's tickets."""
    columns = [func.count(Ticket.id).filter(view.condition(me)).label(name)
               for name, view in VIEWS.items()]
    row = db.session.execute(select(*columns).select_from(Ticket)).one()
    return dict(row._mapping)
