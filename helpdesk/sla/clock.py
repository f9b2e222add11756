"""The SLA clock: a ticket's due times, worked out again whenever the ticket changes.

Services call `refresh(ticket)` after they change a ticket (created, replied to, a customer
message, a status, priority, tag or channel change); it re-matches the policy, reads the
ticket's status history (pending pauses the clock) and its messages, and stores:

- the due time of each running target: first reply (from creation until the first agent
  reply), next reply (from the customer's oldest unanswered message after an agent reply),
  resolution (from creation until solved; pending and solved spans do not count);
- `sla_due_at`, the soonest of them (the inbox sorts by it), `sla_paused`;
- `sla_check_at`, when the breach scan next has something to announce (a warning at the
  policy's percentage of a target, or the breach), skipping what `sla_alerts` says was sent;
- the outcomes the reports read: first reply and resolution times in business minutes of the
  org's default calendar, and whether each target was breached.

Internal notes, automatic acknowledgements and automation's canned replies have no agent as
author and are not replies. Due times are computed here and stored, not per page view.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from helpdesk.core.models import utcnow
from helpdesk.extensions import db
from helpdesk.orgs.models import Organization
from helpdesk.orgs.plans import get_plan
from helpdesk.sla.calendar import ALWAYS, Pause, Schedule, due_at, elapsed
from helpdesk.sla.models import TARGETS, BusinessCalendar, SlaPolicy, SlaReply
from helpdesk.tickets.models import Message, MessageKind, Status, Ticket, TicketEvent

STOPPED = (Status.SOLVED, Status.CLOSED)
REPLY_PAUSES = frozenset({Status.PENDING.value})
RESOLUTION_PAUSES = frozenset({Status.PENDING.value, Status.SOLVED.value, Status.CLOSED.value})


def has_sla_feature(org: Organization) -> bool:
    return "sla" in get_plan(org.plan).features


def _rules() -> dict:
    """Policies and schedules read once per transaction (a refresh needs them every time; the
    demo's 300 tickets asked 3,900 times). Cleared at commit and rollback, and by the services
    that change them (`forget_rules`)."""
    return db.session.info.setdefault("sla_rules", {})


def forget_rules(session=None) -> None:
    (session or db.session()).info.pop("sla_rules", None)


def install(session_class) -> None:
    from sqlalchemy import event

    for name in ("after_commit", "after_soft_rollback"):
        if not event.contains(session_class, name, _forget_on_end):
            event.listen(session_class, name, _forget_on_end)


def _forget_on_end(session, *_args) -> None:
    forget_rules(session)


def active_policies(org: Organization) -> list[SlaPolicy]:
    """The policies tried for the org's tickets, in order. Without the plan's "sla" feature
    only the default policy applies, to every ticket."""
    key = ("policies", org.id, has_sla_feature(org))
    cache = _rules()
    if key not in cache:
        query = select(SlaPolicy).where(SlaPolicy.org_id == org.id,
                                        SlaPolicy.is_active.is_(True))
        if not has_sla_feature(org):
            query = query.where(SlaPolicy.is_default.is_(True))
        cache[key] = list(db.session.scalars(query.order_by(SlaPolicy.position, SlaPolicy.id)))
    return cache[key]


def policy_matches(policy: SlaPolicy, ticket: Ticket, *, ignore_conditions: bool = False) -> bool:
    if ignore_conditions:
        return True
    conditions = policy.conditions or {}
    checks = {
        "priorities": lambda values: ticket.priority.value in values,
        "channels": lambda values: ticket.channel.value in values,
        "tags": lambda values: any(tag in values for tag in ticket.tags or ()),
        "customer_domains": lambda values: _domain(ticket) in values,
    }
    return all(checks[key]([str(v).lower() for v in values])
               for key, values in conditions.items() if key in checks and values)


def _domain(ticket: Ticket) -> str:
    from helpdesk.customers.models import Customer

    customer = ticket.customer or db.session.get(Customer, ticket.customer_id)
    return customer.email.rsplit("@", 1)[-1].lower() if customer else ""


def match_policy(ticket: Ticket, org: Organization) -> SlaPolicy | None:
    """The first active policy whose conditions the ticket meets."""
    plain = not has_sla_feature(org)
    for policy in active_policies(org):
        if policy_matches(policy, ticket, ignore_conditions=plain):
            return policy
    return None


def default_calendar(org_id: int) -> BusinessCalendar | None:
    return db.session.scalar(select(BusinessCalendar).where(
        BusinessCalendar.org_id == org_id, BusinessCalendar.is_default.is_(True)).limit(1))


def default_schedule(org_id: int) -> Schedule:
    cache = _rules()
    key = ("default", org_id)
    if key not in cache:
        calendar = default_calendar(org_id)
        cache[key] = calendar.schedule() if calendar else ALWAYS
    return cache[key]


def policy_schedule(policy: SlaPolicy) -> Schedule:
    if not policy.business_hours:
        return ALWAYS
    if policy.calendar_id is None:
        return default_schedule(policy.org_id)
    cache = _rules()
    key = ("calendar", policy.calendar_id)
    if key not in cache:
        calendar = db.session.get(BusinessCalendar, policy.calendar_id)
        cache[key] = calendar.schedule() if calendar else default_schedule(policy.org_id)
    return cache[key]


@dataclass
class History:
    """What the clock needs to know of a ticket's past."""

    reply_pauses: list[Pause]
    resolution_pauses: list[Pause]
    next_reply_since: datetime | None


def history(ticket: Ticket) -> History:
    changes = db.session.execute(
        select(TicketEvent.created_at, TicketEvent.data).where(
            TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "status")
        .order_by(TicketEvent.created_at, TicketEvent.id)).all()
    return History(_pauses(ticket, changes, REPLY_PAUSES),
                   _pauses(ticket, changes, RESOLUTION_PAUSES), _waiting_since(ticket))


def _pauses(ticket: Ticket, changes, paused_statuses: frozenset[str]) -> list[Pause]:
    pauses: list[Pause] = []
    since = None
    for moment, data in changes:
        paused_now = data.get("new") in paused_statuses
        if paused_now and since is None:
            since = moment
        elif not paused_now and since is not None:
            pauses.append((since, moment))
            since = None
    if since is not None:
        pauses.append((since, None))
    return pauses


def _waiting_since(ticket: Ticket) -> datetime | None:
    """The customer's oldest message after the last agent reply (None before a first reply)."""
    if ticket.first_response_at is None:
        return None
    last_reply = db.session.scalar(
        select(Message.created_at).where(Message.ticket_id == ticket.id,
                                         Message.kind == MessageKind.REPLY,
                                         Message.author_user_id.is_not(None))
        .order_by(Message.created_at.desc()).limit(1)) or ticket.first_response_at
    return db.session.scalar(
        select(Message.created_at).where(Message.ticket_id == ticket.id,
                                         Message.kind == MessageKind.CUSTOMER,
                                         Message.created_at > last_reply)
        .order_by(Message.created_at).limit(1))


def refresh(ticket: Ticket, now: datetime | None = None) -> None:
    """Work out the ticket's policy, due times, next check and outcomes again. Flushes."""
    db.session.flush()  # the status events and messages of this change are read back
    now = now or utcnow()
    org = db.session.get(Organization, ticket.org_id)
    policy = match_policy(ticket, org)
    past = history(ticket)
    stopped = ticket.status in STOPPED or ticket.merged_into_id is not None
    if past.next_reply_since != ticket.next_reply_since:
        # A new wait for a next reply: its warning and breach may be announced again.
        ticket.sla_alerts = [a for a in ticket.sla_alerts or () if not a.startswith("next_reply")]
    ticket.next_reply_since = past.next_reply_since
    ticket.sla_policy_id = policy.id if policy else None
    reports = default_schedule(ticket.org_id)
    _outcomes(ticket, policy, past, reports)

    dues, thresholds = _targets(ticket, policy, past, stopped)
    ticket.first_reply_due_at = dues["first_reply"]
    ticket.next_reply_due_at = dues["next_reply"]
    ticket.resolution_due_at = dues["resolution"]
    running = [due for due in dues.values() if due is not None]
    ticket.sla_due_at = min(running) if running else None
    ticket.sla_paused = bool(policy) and not stopped and ticket.status is Status.PENDING
    waiting = [t.moment for t in thresholds if t.key not in (ticket.sla_alerts or ())]
    ticket.sla_check_at = min(waiting) if waiting else None


@dataclass(frozen=True)
class Threshold:
    target: str
    level: str  # warning | breach
    moment: datetime
    due: datetime

    @property
    def key(self) -> str:
        return f"{self.target}:{self.level}"


def _targets(ticket: Ticket, policy: SlaPolicy | None, past: History,
             stopped: bool) -> tuple[dict[str, datetime | None], list[Threshold]]:
    """Each target's due time (None: not running) and the warning and breach moments."""
    anchors = {"first_reply": ticket.created_at if ticket.first_response_at is None else None,
               "next_reply": past.next_reply_since,
               "resolution": ticket.created_at}
    schedule = policy_schedule(policy) if policy else ALWAYS
    dues: dict[str, datetime | None] = dict.fromkeys(TARGETS)
    thresholds: list[Threshold] = []
    for target in TARGETS:
        minutes = policy.target(target) if policy else None
        anchor = anchors[target]
        if stopped or minutes is None or anchor is None:
            continue
        pauses = past.resolution_pauses if target == "resolution" else past.reply_pauses
        due = dues[target] = due_at(schedule, anchor, minutes, pauses)
        if due is None:
            continue  # paused: the moments are known once the clock runs again
        warn = due_at(schedule, anchor, minutes * policy.warn_percent / 100, pauses)
        if warn is not None:
            thresholds.append(Threshold(target, "warning", warn, due))
        thresholds.append(Threshold(target, "breach", due, due))
    return dues, thresholds


def passed_thresholds(ticket: Ticket, now: datetime) -> list[Threshold]:
    """Warnings and breaches whose moment has come and that were not announced yet (a breach
    makes its warning moot)."""
    org = db.session.get(Organization, ticket.org_id)
    policy = db.session.get(SlaPolicy, ticket.sla_policy_id) if ticket.sla_policy_id else None
    if policy is None or (not has_sla_feature(org) and not policy.is_default):
        return []
    stopped = ticket.status in STOPPED or ticket.merged_into_id is not None
    _, thresholds = _targets(ticket, policy, history(ticket), stopped)
    sent = set(ticket.sla_alerts or ())
    due = [t for t in thresholds if t.moment <= now and t.key not in sent]
    breached = {t.target for t in due if t.level == "breach"}
    return [t for t in due if t.level == "breach" or t.target not in breached]


def _outcomes(ticket: Ticket, policy: SlaPolicy | None, past: History,
              reports: Schedule) -> None:
    """First reply and resolution: time taken (business minutes, pauses left out) and whether
    the policy's target was met."""
    schedule = policy_schedule(policy) if policy else ALWAYS
    if ticket.first_response_at is not None:
        ticket.first_reply_minutes = elapsed(reports, ticket.created_at, ticket.first_response_at,
                                             past.reply_pauses)
        ticket.first_reply_breached = _breached(schedule, policy, "first_reply",
                                                ticket.created_at, ticket.first_response_at,
                                                past.reply_pauses)
    else:
        ticket.first_reply_minutes = ticket.first_reply_breached = None
    if ticket.solved_at is not None and ticket.status in STOPPED:
        ticket.resolution_minutes = elapsed(reports, ticket.created_at, ticket.solved_at,
                                            past.resolution_pauses)
        ticket.resolution_breached = _breached(schedule, policy, "resolution", ticket.created_at,
                                               ticket.solved_at, past.resolution_pauses)
    else:
        ticket.resolution_minutes = ticket.resolution_breached = None


def _breached(schedule: Schedule, policy: SlaPolicy | None, target: str, anchor: datetime,
              done_at: datetime, pauses: list[Pause]) -> bool | None:
    minutes = policy.target(target) if policy else None
    if minutes is None:
        return None
    # Only the pauses before the target was met count (the solve itself starts one).
    before = [(start, end) for start, end in pauses if start < done_at]
    due = due_at(schedule, anchor, minutes, before)
    return due is not None and done_at > due


def reply_sent(ticket: Ticket, message: Message, agent_id: int, *, first: bool) -> None:
    """Record an agent's public reply with the wait it ended (the first reply, an answer to a
    customer message, or "more": none), then refresh the clock. Call after first_response_at
    is set."""
    db.session.flush()
    replied_at = message.created_at or utcnow()
    if first:
        kind, since, due = "first", ticket.created_at, ticket.first_reply_due_at
    elif ticket.next_reply_since is not None:
        kind, since, due = "next", ticket.next_reply_since, ticket.next_reply_due_at
    else:  # a second reply in a row ended nobody's wait; counted as a reply all the same
        kind, since, due = "more", replied_at, None
    past = history(ticket)
    policy = db.session.get(SlaPolicy, ticket.sla_policy_id) if ticket.sla_policy_id else None
    target = policy.target("first_reply" if first else "next_reply") \
        if policy and kind != "more" else None
    db.session.add(SlaReply(
        org_id=ticket.org_id, ticket_id=ticket.id, message_id=message.id, agent_id=agent_id,
        kind=kind, waiting_since=since, replied_at=replied_at,
        business_minutes=elapsed(default_schedule(ticket.org_id), since, replied_at,
                                 past.reply_pauses),
        calendar_minutes=(replied_at - since).total_seconds() / 60,
        policy_id=policy.id if policy else None, due_at=due,
        breached=None if target is None else (due is not None and replied_at > due)))
    refresh(ticket)


def start_new(tickets: list[Ticket]) -> None:
    """`refresh` for tickets just opened in one batch (the mail pipeline): they have no status
    changes or replies yet, so one policy lookup serves them all and no history is read."""
    if not tickets:
        return
    org = db.session.get(Organization, tickets[0].org_id)
    policies = active_policies(org)
    plain = not has_sla_feature(org)
    fresh = History([], [], None)
    for ticket in tickets:
        policy = next((p for p in policies
                       if policy_matches(p, ticket, ignore_conditions=plain)), None)
        ticket.sla_policy_id = policy.id if policy else None
        dues, thresholds = _targets(ticket, policy, fresh, stopped=False)
        ticket.first_reply_due_at = dues["first_reply"]
        ticket.resolution_due_at = dues["resolution"]
        running = [due for due in dues.values() if due is not None]
        ticket.sla_due_at = min(running) if running else None
        ticket.sla_check_at = min((t.moment for t in thresholds), default=None)


RETIME_BATCH = 500


def retime_running(progress: Callable[[int], None] | None = None, *,
                   every_ticket: bool = False) -> int:
    """`refresh` every new, open or pending ticket of the current org, a batch per commit
    (after a policy or calendar change, or the migration that brought the SLA columns).
    With every_ticket, all of them, their reply records rebuilt from the messages."""
    running = [Ticket.status.in_([Status.NEW, Status.OPEN, Status.PENDING])]
    done, last_id = 0, 0
    while True:
        batch = db.session.scalars(
            select(Ticket).where(*([] if every_ticket else running), Ticket.id > last_id)
            .order_by(Ticket.id).limit(RETIME_BATCH)).all()
        for ticket in batch:
            if every_ticket:
                rebuild_history(ticket)
            else:
                refresh(ticket)
        done += len(batch)
        if progress:
            progress(len(batch))
        if len(batch) < RETIME_BATCH:
            return done
        last_id = batch[-1].id
        db.session.commit()


def rebuild_history(ticket: Ticket) -> None:
    """Write the ticket's reply records again from its messages, then `refresh`: for tickets
    whose history was written or moved by other means (imports, the demo, the SLA migration).
    """
    from sqlalchemy import delete

    db.session.execute(delete(SlaReply).where(SlaReply.ticket_id == ticket.id))
    refresh(ticket)
    policy = db.session.get(SlaPolicy, ticket.sla_policy_id) if ticket.sla_policy_id else None
    schedule = policy_schedule(policy) if policy else ALWAYS
    reports = default_schedule(ticket.org_id)
    pauses = history(ticket).reply_pauses
    messages = db.session.execute(
        select(Message.id, Message.kind, Message.author_user_id, Message.created_at)
        .where(Message.ticket_id == ticket.id).order_by(Message.created_at, Message.id)).all()
    waiting: datetime | None = ticket.created_at
    first = True
    for message_id, kind, author_id, created_at in messages:
        if kind is MessageKind.CUSTOMER:
            waiting = waiting or created_at
            continue
        if kind is not MessageKind.REPLY or author_id is None:
            continue  # notes and automatic replies are not replies
        name = "first" if first else ("next" if waiting else "more")
        since = waiting or created_at
        target = policy.target(f"{name}_reply") if policy and name != "more" else None
        due = due_at(schedule, since, target, pauses) if target is not None else None
        db.session.add(SlaReply(
            org_id=ticket.org_id, ticket_id=ticket.id, message_id=message_id, agent_id=author_id,
            kind=name, waiting_since=since, replied_at=created_at,
            business_minutes=elapsed(reports, since, created_at, pauses) if name != "more"
            else 0.0,
            calendar_minutes=(created_at - since).total_seconds() / 60,
            policy_id=policy.id if policy else None, due_at=due,
            breached=None if target is None else (due is not None and created_at > due)))
        first, waiting = False, None
    db.session.flush()


def silence_past_alerts(ticket: Ticket, now: datetime | None = None) -> None:
    """Count the thresholds already passed as announced, without announcing them (a ticket
    imported with its history should not set off a storm of old warnings)."""
    passed = passed_thresholds(ticket, now or utcnow())
    if passed:
        keys = {t.key for t in passed} | {f"{t.target}:warning" for t in passed}
        ticket.sla_alerts = sorted(set(ticket.sla_alerts or ()) | keys)
        refresh(ticket, now)
