"""Warnings and breaches: announced once per threshold, when the scan finds them due.

For each threshold that has come (a warning at the policy's percentage of a target, or the
breach itself): a timeline event, a notification in the app and by email to the assignee (to
the org's managers when nobody is assigned), and the automation event `sla_warning` or
`sla_breached`, whose rules may raise the priority (which re-matches the policy).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from helpdesk.core.models import utcnow
from helpdesk.extensions import db
from helpdesk.orgs.models import Membership, Role
from helpdesk.sla import clock
from helpdesk.sla.models import TARGET_LABELS
from helpdesk.tickets import events
from helpdesk.tickets.models import Ticket

SCAN_BATCH = 500


def due_tickets(now: datetime, limit: int = SCAN_BATCH) -> list[Ticket]:
    """The org's tickets with a threshold due, locked (a second scan skips them)."""
    return list(db.session.scalars(
        select(Ticket).where(Ticket.sla_check_at <= now).order_by(Ticket.sla_check_at)
        .limit(limit).with_for_update(of=Ticket, skip_locked=True)))


def scan(now: datetime | None = None) -> int:
    """Announce what is due in the current org; returns the number of announcements."""
    now = now or utcnow()
    announced = 0
    while True:
        batch = due_tickets(now)
        for ticket in batch:
            announced += announce(ticket, now)
        if len(batch) < SCAN_BATCH:
            return announced
        db.session.commit()  # a long backlog is worked through in batches that each last


def announce(ticket: Ticket, now: datetime) -> int:
    thresholds = clock.passed_thresholds(ticket, now)
    alerts = list(ticket.sla_alerts or ())
    for threshold in thresholds:
        alerts.append(threshold.key)
        if threshold.level == "breach" and f"{threshold.target}:warning" not in alerts:
            alerts.append(f"{threshold.target}:warning")  # a late scan: the breach says it all
        _record(ticket, threshold)
    ticket.sla_alerts = alerts
    for level in ("warning", "breach"):
        if any(t.level == level for t in thresholds):
            from helpdesk.tickets.automation import run_rules

            run_rules("sla_warning" if level == "warning" else "sla_breached", ticket)
    clock.refresh(ticket, now)
    return len(thresholds)


def _record(ticket: Ticket, threshold: clock.Threshold) -> None:
    from helpdesk.tickets.notifications import notify

    label = TARGET_LABELS[threshold.target].lower()
    events.sla_alert(ticket, threshold.target, threshold.level, threshold.due)
    if threshold.level == "breach":
        text = f"SLA breached: the {label} on #{ticket.number} “{ticket.subject[:80]}” was due " \
               f"{threshold.due:%Y-%m-%d %H:%M} UTC."
    else:
        text = f"SLA warning: the {label} on #{ticket.number} “{ticket.subject[:80]}” is due " \
               f"{threshold.due:%Y-%m-%d %H:%M} UTC."
    for user_id in recipients(ticket):
        notify(user_id, ticket, f"sla_{threshold.level}", text)


def recipients(ticket: Ticket) -> list[int]:
    """The assignee; with nobody assigned, the org's managers (or, if none, its admins)."""
    if ticket.assignee_id is not None:
        return [ticket.assignee_id]
    members = db.session.execute(select(Membership.user_id, Membership.role).where(
        Membership.org_id == ticket.org_id)).all()
    for roles in ((Role.MANAGER,), (Role.ADMIN, Role.OWNER)):
        chosen = sorted(user_id for user_id, role in members if role in roles)
        if chosen:
            return chosen
    return []
