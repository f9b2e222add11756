"""What agents see of a ticket's SLA clock: the inbox badge, the ticket page's targets and the
API's `sla` object.

Everything is read from the columns helpdesk.sla.clock stores on the ticket (due times, the
paused flag, the outcomes, the alerts the breach scan sent); nothing is worked out again per
page view, so a page of 25 tickets costs no calendar arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from helpdesk.extensions import db
from helpdesk.sla.models import TARGET_LABELS, TARGETS, SlaPolicy
from helpdesk.tickets.models import Ticket

SOON = timedelta(hours=1)  # a running target this close to its due time is at risk


def duration(delta: timedelta) -> str:
    """“40 min”, “2 h 5 min” (under 3 h), “7 h” (under 2 days), then “3 d”."""
    minutes = int(abs(delta).total_seconds() // 60)
    if minutes < 1:
        return "less than a minute"
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    if hours < 3:
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    if hours < 48:
        return f"{hours} h"
    return f"{hours // 24} d"


@dataclass(frozen=True)
class Badge:
    """The inbox's time-to-breach badge. `text` names the state in words: colour is never the
    only cue."""

    state: str  # breached | warning | ok | paused
    text: str
    due: datetime | None


def badge(ticket: Ticket, now: datetime) -> Badge | None:
    """The badge for the ticket's soonest running due time (None: no policy, or nothing
    running, e.g. solved)."""
    if ticket.sla_policy_id is None:
        return None
    if ticket.sla_paused:
        return Badge("paused", "paused", None)
    due = ticket.sla_due_at
    if due is None:
        return None
    if due <= now:
        return Badge("breached", f"breached {duration(now - due)} ago", due)
    if due - now <= SOON or _past_warning(ticket, now):
        return Badge("warning", f"at risk: due in {duration(due - now)}", due)
    return Badge("ok", f"due in {duration(due - now)}", due)


def _past_warning(ticket: Ticket, now: datetime) -> bool:
    """Past the policy's warning share of a running target: the scan announced the warning,
    or its moment (`sla_check_at`, the next unannounced threshold) has come and, being before
    the soonest due time, can only be a warning."""
    alerts = set(ticket.sla_alerts or ())
    if any(f"{target}:warning" in alerts and _due(ticket, target) is not None
           for target in TARGETS):
        return True
    return ticket.sla_check_at is not None and ticket.sla_check_at <= now


def _due(ticket: Ticket, target: str) -> datetime | None:
    return getattr(ticket, f"{target}_due_at")


@dataclass(frozen=True)
class TargetState:
    target: str
    label: str
    state: str  # met | breached | paused | at risk | running | not running
    due: datetime | None  # while running: when it is due
    done: datetime | None  # met or breached: when it was done (first reply, solved)


def _target_state(ticket: Ticket, target: str, now: datetime) -> TargetState:
    due = _due(ticket, target)
    outcome, done = {
        "first_reply": (ticket.first_reply_breached, ticket.first_response_at),
        "resolution": (ticket.resolution_breached, ticket.solved_at),
    }.get(target, (None, None))
    alerts = set(ticket.sla_alerts or ())
    if outcome is not None:
        state = "breached" if outcome else "met"
    elif (due is not None and due <= now) or f"{target}:breach" in alerts:
        state, done = "breached", None
    elif due is None:
        state = "paused" if ticket.sla_paused and _waiting(ticket, target) else "not running"
    elif due - now <= SOON or f"{target}:warning" in alerts:
        state = "at risk"
    else:
        state = "running"
    return TargetState(target, TARGET_LABELS[target], state, due, done)


def _waiting(ticket: Ticket, target: str) -> bool:
    """Would the target run, were the ticket not pending?"""
    if target == "first_reply":
        return ticket.first_response_at is None
    if target == "next_reply":
        return ticket.next_reply_since is not None
    return True


def policy_of(ticket: Ticket) -> SlaPolicy | None:
    # By primary key: the identity map serves the other tickets of a page with one policy.
    return db.session.get(SlaPolicy, ticket.sla_policy_id) if ticket.sla_policy_id else None


@dataclass(frozen=True)
class Summary:
    policy: SlaPolicy | None
    badge: Badge | None
    targets: list[TargetState]

    @property
    def breached(self) -> list[str]:
        return [t.target for t in self.targets if t.state == "breached"]


def summary(ticket: Ticket, now: datetime) -> Summary:
    """The policy and the state of each target it sets."""
    policy = policy_of(ticket)
    targets = [_target_state(ticket, target, now) for target in TARGETS
               if policy is not None and policy.target(target) is not None]
    return Summary(policy, badge(ticket, now), targets)


def api_fields(ticket: Ticket, now: datetime) -> dict[str, Any]:
    """The API's `sla` object (helpdesk.api.ticket_schemas.SlaSchema)."""
    found = summary(ticket, now)
    return {
        "policy": {"id": found.policy.id, "name": found.policy.name} if found.policy else None,
        "first_reply_due_at": ticket.first_reply_due_at,
        "next_reply_due_at": ticket.next_reply_due_at,
        "resolution_due_at": ticket.resolution_due_at,
        "due_at": ticket.sla_due_at,
        "paused": bool(ticket.sla_paused),
        "breached": found.breached,
    }
