"""The ticket status machine: an explicit table, one function that moves along it."""

from __future__ import annotations

from helpdesk.core.exceptions import ServiceError
from helpdesk.core.models import utcnow
from helpdesk.tickets import events
from helpdesk.tickets.models import Status, Ticket

S = Status
TRANSITIONS: dict[Status, frozenset[Status]] = {
    S.NEW: frozenset({S.OPEN, S.PENDING, S.SOLVED, S.CLOSED}),
    S.OPEN: frozenset({S.PENDING, S.SOLVED, S.CLOSED}),
    S.PENDING: frozenset({S.OPEN, S.SOLVED, S.CLOSED}),
    S.SOLVED: frozenset({S.OPEN, S.CLOSED}),
    S.CLOSED: frozenset(),  # final: later mail makes a linked follow-up ticket
}


class InvalidTransition(ServiceError):
    status = 409


def can_transition(ticket: Ticket, new: Status) -> bool:
    return ticket.merged_into_id is None and new in TRANSITIONS[ticket.status]


def change_status(actor_id: int | None, ticket: Ticket, new: Status, *, reason: str = "") -> bool:
    """Move `ticket` to `new` and write the event. False when it is already there.

    Raises InvalidTransition (with the reason) for a move the table does not allow.
    """
    old = ticket.status
    if new == old:
        return False
    if ticket.merged_into_id is not None:
        raise InvalidTransition(
            f"Ticket #{ticket.number} was merged into another ticket and cannot change status.",
            {"status": "merged tickets stay closed"},
        )
    if new not in TRANSITIONS[old]:
        allowed = ", ".join(sorted(s.value for s in TRANSITIONS[old])) or "none (final)"
        raise InvalidTransition(
            f"A {old.value} ticket cannot become {new.value}. Allowed: {allowed}.",
            {"status": f"cannot go from {old.value} to {new.value}"},
        )
    ticket.status = new
    now = utcnow()
    if new is S.SOLVED:
        ticket.solved_at = now
    elif new is S.CLOSED:
        ticket.closed_at = now
        ticket.solved_at = ticket.solved_at or now
    elif old is S.SOLVED:
        ticket.solved_at = None  # reopened
        ticket.reopen_count = (ticket.reopen_count or 0) + 1
    events.status_changed(ticket, actor_id, old.value, new.value, reason)
    return True


def reopen_on_customer_reply(ticket: Ticket) -> bool:
    """A customer reply reopens pending and solved tickets (closed ones stay closed)."""
    if ticket.status in (S.PENDING, S.SOLVED):
        return change_status(None, ticket, S.OPEN, reason="customer replied")
    return False
