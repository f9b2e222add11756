"""Lookups the ticket pages, forms and rules share (all tenant-scoped)."""

from __future__ import annotations

from sqlalchemy import select

from helpdesk.accounts.models import User
from helpdesk.extensions import db
from helpdesk.orgs.models import Membership
from helpdesk.tickets.models import Team


def members() -> list[tuple[int, str]]:
    """(user id, name) of the org's staff, by name, for assignee pickers."""
    return [(uid, name or email) for uid, name, email in db.session.execute(
        select(User.id, User.name, User.email).join(Membership, Membership.user_id == User.id)
        .order_by(User.name, User.id))]


def teams() -> list[tuple[int, str]]:
    return [tuple(row) for row in db.session.execute(select(Team.id, Team.name)
                                                     .order_by(Team.name))]
