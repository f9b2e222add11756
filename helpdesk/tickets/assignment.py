"""Who works on a ticket: manual, round-robin or load-balanced (org setting `assignment`)."""

from __future__ import annotations

from sqlalchemy import func, select

from helpdesk.extensions import db
from helpdesk.orgs.models import Membership, Organization
from helpdesk.tickets import events
from helpdesk.tickets.models import OPEN_STATUSES, Ticket

MODES = ("manual", "round_robin", "load_balanced")


def set_assignee(actor_id: int | None, ticket: Ticket, user_id: int | None,
                 reason: str = "") -> None:
    if user_id == ticket.assignee_id:
        return
    events.assignee_changed(ticket, actor_id, ticket.assignee_id, user_id, reason)
    ticket.assignee_id = user_id
    if user_id is not None and user_id != actor_id:
        from helpdesk.tickets.notifications import notify

        notify(user_id, ticket, "assigned",
               f"Ticket #{ticket.number} “{ticket.subject[:80]}” was assigned to you.")


def _available_agents(org_id: int, exclude: set[int] = frozenset()) -> list[int]:
    return [uid for uid in db.session.scalars(
        select(Membership.user_id).where(Membership.org_id == org_id,
                                         Membership.is_away.is_(False))
        .order_by(Membership.user_id)
    ) if uid not in exclude]


def pick_agent(org: Organization, exclude: set[int] = frozenset()) -> int | None:
    """The next agent per the org's mode, skipping agents marked away; None for manual."""
    mode = org.settings.get("assignment", "manual")
    agents = _available_agents(org.id, exclude)
    if mode == "manual" or not agents:
        return None
    if mode == "load_balanced":
        loads = dict(db.session.execute(
            select(Ticket.assignee_id, func.count(Ticket.id))
            .where(Ticket.org_id == org.id, Ticket.status.in_(OPEN_STATUSES),
                   Ticket.assignee_id.in_(agents))
            .group_by(Ticket.assignee_id)
        ).all())
        return min(agents, key=lambda uid: (loads.get(uid, 0), uid))
    # Round-robin: the pointer lives in the org's settings, updated under the org row lock.
    db.session.execute(select(Organization.id).where(Organization.id == org.id).with_for_update())
    db.session.refresh(org, ["settings"])
    last = org.settings.get("round_robin_last", 0)
    chosen = next((uid for uid in agents if uid > last), agents[0])
    org.settings = {**org.settings, "round_robin_last": chosen}
    return chosen


def auto_assign(ticket: Ticket) -> int | None:
    org = db.session.get(Organization, ticket.org_id)
    chosen = pick_agent(org)
    if chosen is not None:
        set_assignee(None, ticket, chosen, reason=org.settings.get("assignment"))
    return chosen


def reassign_tickets_of(actor_id: int | None, org_id: int, user_id: int) -> int:
    """When an agent leaves: their open tickets go to the next agent (or unassigned)."""
    org = db.session.get(Organization, org_id)
    tickets = db.session.scalars(
        select(Ticket).where(Ticket.org_id == org_id, Ticket.assignee_id == user_id,
                             Ticket.status.in_(OPEN_STATUSES)).with_for_update(of=Ticket)
    ).all()
    for ticket in tickets:
        set_assignee(actor_id, ticket, pick_agent(org, exclude={user_id}),
                     reason="previous assignee left the team")
    return len(tickets)

