"""The inbox query: a view (a saved filter), optional filters, a sort, keyset pages.

Every page is a few short index range scans, whatever the size of the org: a view with several
statuses reads one page per status from `ix_tickets_inbox` (org_id, status, last_activity_at,
id), or `ix_tickets_assignee` (org_id, assignee_id, status, ...) for the assignee views, and
keeps the newest; pages continue from a cursor, never an OFFSET (helpdesk.core.keyset). The
sidebar counts stop at COUNT_CAP.

The "breach" sort (soonest SLA due time first, tickets without one last) reads
`ix_tickets_sla_due` (org_id, status, sla_due_at, id) forward: see `_by_breach`.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from functools import reduce

from sqlalchemy import (
    ColumnElement,
    ScalarSelect,
    Select,
    and_,
    case,
    func,
    literal,
    select,
    true,
    tuple_,
    union_all,
)

from helpdesk.core.keyset import AFTER, BEFORE, Page, Part, decode_cursor, encode_cursor, paginate
from helpdesk.core.models import utcnow
from helpdesk.extensions import db
from helpdesk.tickets.models import OPEN_STATUSES, Priority, Status, Ticket

PAGE_SIZE = 25


@dataclass(frozen=True)
class View:
    name: str
    label: str
    statuses: tuple[Status, ...] | None  # None: any status
    extra: Callable[[int], ColumnElement[bool]]  # of the current user's id
    sort: str = "activity"  # when the URL names none

    def condition(self, me: int) -> ColumnElement[bool]:
        if self.statuses is None:
            return self.extra(me)
        return and_(Ticket.status.in_(self.statuses), self.extra(me))


def _not_spam() -> ColumnElement[bool]:
    return Ticket.is_spam.is_(False)


BREACH_WINDOW = timedelta(hours=2)  # "Breaching soon": due within this, or already overdue


def _breaching() -> ColumnElement[bool]:
    # The stored soonest due time, against the clock now (a range of ix_tickets_sla_due).
    return and_(Ticket.sla_due_at <= utcnow() + BREACH_WINDOW, _not_spam())


VIEWS: dict[str, View] = {view.name: view for view in (
    View("mine", "My open", OPEN_STATUSES,
         lambda me: and_(Ticket.assignee_id == me, _not_spam())),
    View("unassigned", "Unassigned", OPEN_STATUSES,
         lambda me: and_(Ticket.assignee_id.is_(None), _not_spam())),
    View("open", "All open", OPEN_STATUSES, lambda me: _not_spam()),
    # Pending tickets are paused (no due time): only new and open ones can breach.
    View("breaching", "Breaching soon", (Status.NEW, Status.OPEN), lambda me: _breaching(),
         sort="breach"),
    View("pending", "Pending", (Status.PENDING,), lambda me: _not_spam()),
    # Merged tickets are closed too, but they live on in their target: leave them out.
    View("solved", "Solved", (Status.SOLVED, Status.CLOSED),
         lambda me: and_(Ticket.merged_into_id.is_(None), _not_spam())),
    # `= true`, not `IS TRUE`: the planner matches only the former to ix_tickets_spam's WHERE.
    View("spam", "Spam", None, lambda me: Ticket.is_spam == true()),
)}
DEFAULT_VIEW = "open"
COUNT_CAP = 100  # counting stops here: the sidebar says "99+" (a short, bounded index read)

PRIORITY_ORDER = {p: rank for rank, p in enumerate(Priority)}
PRIORITY_RANK = case(PRIORITY_ORDER, value=Ticket.priority)
# Newest first is id order (ids grow with creation), served by the (org_id, id) unique index.
SORTS: dict[str, tuple[str, list]] = {
    "activity": ("Last activity", [Ticket.last_activity_at, Ticket.id]),
    "created": ("Newest first", [Ticket.id]),
    "priority": ("Priority", [PRIORITY_RANK, Ticket.last_activity_at, Ticket.id]),
    # Ascending, NULLs last: paged by _by_breach, not keyset.paginate (descending only).
    "breach": ("Time to breach", [Ticket.sla_due_at, Ticket.id]),
}


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
    """Everything but the status filter, which narrows the view's statuses instead."""
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


def _parts(statuses: tuple[Status, ...] | None, sort: str,
           priority: Priority | None) -> list[Part] | None:
    """One index range per status (and per priority when sorting by it); None: one query."""
    if sort == "created":
        return None
    status_conditions = [Ticket.status == s for s in statuses] if statuses else [true()]
    if sort == "priority":
        return [Part(and_(condition, Ticket.priority == p), (PRIORITY_ORDER[p],))
                for condition in status_conditions
                for p in reversed(Priority) if priority in (None, p)]
    return [Part(condition) for condition in status_conditions]


def list_tickets(view: str, me: int, filters: Filters, *, sort: str | None = None,
                 cursor: str | None = None, limit: int = PAGE_SIZE) -> Page:
    """One page of the view's tickets (customer and assignee loaded with them); without a
    known `sort`, the view's own."""
    chosen = VIEWS.get(view) or VIEWS[DEFAULT_VIEW]
    sort = sort if sort in SORTS else chosen.sort
    statuses = chosen.statuses
    if filters.status is not None:
        statuses = (filters.status,) if statuses is None or filters.status in statuses else ()
        if not statuses:
            return Page(rows=[], next_cursor=None, prev_cursor=None)
    statement = _filtered(select(Ticket).where(chosen.extra(me)), filters)
    if sort == "breach":
        return _by_breach(statement, statuses, cursor=cursor, tag=f"{chosen.name}:breach",
                          limit=limit)
    parts = _parts(statuses, sort, filters.priority)
    if parts is None and statuses:
        statement = statement.where(Ticket.status.in_(statuses))

    def key(ticket: Ticket) -> list:
        if sort == "created":
            return [ticket.id]
        if sort == "priority":
            return [PRIORITY_ORDER[ticket.priority], ticket.last_activity_at, ticket.id]
        return [ticket.last_activity_at, ticket.id]

    return paginate(statement, SORTS[sort][1], key, cursor=cursor,
                    tag=f"{chosen.name}:{sort}", limit=limit, parts=parts)


def _by_breach(statement: Select, statuses: tuple[Status, ...] | None, *, cursor: str | None,
               tag: str, limit: int) -> Page:
    """A page in `sla_due_at ASC NULLS LAST, id ASC` order: the index's own order, so each
    status is two short range scans of ix_tickets_sla_due, one over the due times (from the
    cursor on) and one over the tickets without one (by id), and the page is cut from their
    union. A cursor at a ticket without a due time is tagged apart (`<tag>:none`) and holds
    its id only: JSON cursors carry no NULL and NULL compares with nothing in a row value.
    """
    due, ticket_id = Ticket.sla_due_at, Ticket.id
    dated = decode_cursor(cursor, tag, [due, ticket_id])
    undated = None if dated else decode_cursor(cursor, f"{tag}:none", [ticket_id])
    direction = (dated or undated or (None, None))[0]
    back = direction == BEFORE
    beyond = (lambda row, bound: row < bound) if back else (lambda row, bound: row > bound)
    order = (lambda c: c.desc()) if back else (lambda c: c.asc())
    branches = []
    for condition in [Ticket.status == s for s in statuses] if statuses else [true()]:
        part = statement.where(condition).with_only_columns(ticket_id)
        if not (undated and not back):  # going on past an undated ticket: no due times left
            dated_part = part.where(due.is_not(None))
            if dated:
                bound = tuple_(literal(dated[1][0], type_=due.type), dated[1][1])
                dated_part = dated_part.where(beyond(tuple_(due, ticket_id), bound))
            branches.append(dated_part.order_by(order(due), order(ticket_id)).limit(limit + 1))
        if not (dated and back):  # going back from a due time: no undated ticket comes before
            undated_part = part.where(due.is_(None))
            if undated:
                undated_part = undated_part.where(beyond(ticket_id, undated[1][0]))
            # Ordered by due (all NULL) first, as the index is, so the scan needs no sort.
            branches.append(undated_part.order_by(order(due), order(ticket_id))
                            .limit(limit + 1))
    ids = branches[0] if len(branches) == 1 else union_all(*branches)
    nulls = due.desc().nulls_first() if back else due.asc().nulls_last()
    rows = list(db.session.scalars(
        select(Ticket).where(ticket_id.in_(ids)).order_by(nulls, order(ticket_id))
        .limit(limit + 1)).unique())
    more = len(rows) > limit
    rows = rows[:limit]
    if back:
        rows.reverse()
    has_next, has_prev = (True, more) if back else (more, direction == AFTER)

    def at(direction: str, ticket: Ticket) -> str:
        if ticket.sla_due_at is None:
            return encode_cursor(direction, f"{tag}:none", [ticket.id])
        return encode_cursor(direction, tag, [ticket.sla_due_at, ticket.id])

    return Page(rows=rows,
                next_cursor=at(AFTER, rows[-1]) if rows and has_next else None,
                prev_cursor=at(BEFORE, rows[0]) if rows and has_prev else None)


def view_counts(me: int) -> dict[str, int]:
    """Tickets per view, each status counted up to COUNT_CAP through its own index range
    (an equality on status, so the planner walks the index instead of the table)."""

    def capped(condition) -> ScalarSelect:
        rows = select(Ticket.id).where(condition).limit(COUNT_CAP).subquery()
        return select(func.count()).select_from(rows).scalar_subquery()

    columns = []
    for name, view in VIEWS.items():
        extra = view.extra(me)
        parts = [capped(and_(Ticket.status == s, extra)) for s in view.statuses] \
            if view.statuses else [capped(extra)]
        columns.append(reduce(operator.add, parts).label(name))
    return dict(db.session.execute(select(*columns)).one()._mapping)


def count_label(count: int) -> str:
    return f"{COUNT_CAP - 1}+" if count >= COUNT_CAP else str(count)
