"""In-app notifications to the shop's staff (low stock), like the desk's SLA alerts."""

from __future__ import annotations

from sqlalchemy import select

from helpdesk.core import tenancy
from helpdesk.extensions import db
from helpdesk.orgs.models import Membership, Role
from helpdesk.tickets.models import Notification


def staff_to_alert() -> list[int]:
    """The org's managers; with none, its admins and owners."""
    members = db.session.execute(select(Membership.user_id, Membership.role)).all()
    for roles in ((Role.MANAGER,), (Role.ADMIN, Role.OWNER)):
        chosen = sorted(user_id for user_id, role in members if role in roles)
        if chosen:
            return chosen
    return []


def notify_staff(kind: str, text: str) -> int:
    """One unread notification per recipient (no ticket attached); how many were written."""
    org_id = tenancy.current_org_id()
    recipients = staff_to_alert()
    for user_id in recipients:
        db.session.add(Notification(org_id=org_id, user_id=user_id, ticket_id=None, kind=kind,
                                    text=text[:500]))
    return len(recipients)
