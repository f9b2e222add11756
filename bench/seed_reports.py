"""Bulk seed for the reports benchmark (bench/reports.py), loaded with COPY.

    reports-big       1,000,000 tickets over two years ending now, 10 agents, 4 teams,
                      calendar Europe/Berlin Mon-Fri 09:00-17:00 with German holidays
    reports-01..20       10,000 tickets each, 3 agents, 2 teams, the default calendar (UTC)
    reports-scan        100,000 open tickets whose SLA clocks run (the breach scan),
                      calendar Europe/Berlin like reports-big

All orgs are on the professional plan with the four default policies (Urgent/High/Normal/Low
by priority, warnings at 80%).

Each ticket of the history orgs lives a story in time: created (weekday- and business-hours-
heavy, volume growing ~1.6x over the two years), a first reply after a wait drawn in business
minutes (log-normal around a fifth of the policy's target; some replies come off hours), 0-6
customer follow-ups, each answered by a next reply (the agent set the ticket pending before 45%
of them, the follow-up reopened it), sometimes an extra reply nobody waited for (kind "more"),
solved after the last reply (7% are abandoned and stay open or pending), reopened by the
customer in 6% of the solved ones (then answered and solved again), closed four days after the
solve. 0.3% are spam (closed at once) and 0.5% are merged into the org's previous ticket.
Everything after the seed's "now" (T0) is cut off, so recent tickets are new, open or pending.

From the story, what the app would have stored: the status events (ticket_events kind "status"
with {"old", "new", "reason"}; pending and solved spans are the clock's pauses), a "created"
event, one sla_replies row per agent reply (first / next / more, with business minutes, due
time and breach by the policy), the SLA warnings and breaches the breach scan would have
announced (ticket_events kind "sla" with {"target", "level", "due"}), and on the ticket
first_response_at, solved_at, closed_at, reopen_count, first_reply_minutes,
resolution_minutes, first_reply_breached, resolution_breached and the clock of the running
targets at T0 (due times, sla_due_at, sla_paused, sla_alerts, sla_check_at).

Business time: the lead's own `helpdesk.sla.calendar.due_at` and `elapsed` do the arithmetic,
on `BusinessTime`, a stand-in for `Schedule` over whole epoch seconds: the working spans of
every day of the period are taken from `Schedule.spans_on` (so timezone, DST and holidays are
the real calendar's), with a running sum, and `add` / `minutes_between` are two bisections
instead of a walk day by day. `check_business_time` compares both on random samples.

Messages: the only ones stored are the customer's unanswered follow-ups of tickets waiting for
a next reply at T0 (the clock finds the wait through them), COPYed after the tickets with every
trigger and foreign key active. Tickets, replies and events are generated and COPYed by two
worker processes with a connection each, a chunk of consecutive tickets per transaction. A
table none of whose own triggers fires on INSERT (ticket_events) is COPYed in
`session_replication_role = replica`, which also skips the per-row foreign-key checks; a table
with such triggers (tickets: the search vector; sla_replies: the reports' report_replies rows)
in the normal mode, so that whatever the triggers keep is there as the app would have it.
`verify` checks the references with joins afterwards.
"""

from __future__ import annotations

import bisect
import json
import math
import multiprocessing
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
from search_text import pick
from seed_tickets import CHANNELS, PRIORITIES, PRODUCTS, SUBJECTS, TAGS, _cumulative

from helpdesk.sla import clock
from helpdesk.sla.calendar import Schedule, elapsed
from helpdesk.sla.calendar import due_at as calendar_due_at

BIG, SCAN, SMALL_COUNT = "reports-big", "reports-scan", 20
DAY = 86400
TWO_YEARS = 730 * DAY
CHUNK = 20_000
PRIORITY_NAMES = tuple(p for p, _ in PRIORITIES)
BIG_TEAMS = ("Support", "Billing", "Technical", "Logistics")
SMALL_TEAMS = ("Support", "Orders")
AGENT_FIRST = ("Mia", "Lukas", "Sofia", "Jamal", "Elif", "Tom", "Aylin", "Ravi", "Clara",
               "Mateus", "Hanna", "Diego", "Ingrid", "Kenji", "Leila", "Ruben")
AGENT_LAST = ("Berg", "Costa", "Novak", "Okafor", "Schmidt", "Tanaka", "Moreau", "Larsen",
              "Haddad", "Silva", "Fischer", "Lopez")
# Local hour of day (0-23) of new tickets, and the day of the week (Monday first).
HOUR_WEIGHTS = (1, 0.7, 0.5, 0.4, 0.4, 0.6, 1.5, 3, 6, 9, 10, 9.5, 8, 8.5, 9, 8.5, 7.5, 6,
                4.5, 3.5, 3, 2.5, 2, 1.5)
WEEKDAY_WEIGHTS = (1.0, 1.0, 0.97, 0.95, 0.9, 0.35, 0.3)
NULL = "\\N"


# ---------------------------------------------------------------------------------------------
# business time over epoch seconds
# ---------------------------------------------------------------------------------------------

class BusinessTime:
    """`Schedule.add` / `Schedule.minutes_between` over whole epoch seconds, for the period
    [first, last] (local days): precomputed working spans with a running sum of their seconds.
    `helpdesk.sla.calendar.due_at` and `elapsed` accept it in place of a Schedule."""

    def __init__(self, schedule: Schedule, first: date, last: date):
        self.schedule = schedule
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.cum: list[int] = []  # working seconds before each span
        self.cum_end: list[int] = []
        total = 0
        day = first
        while day <= last:
            for start, end in schedule.spans_on(day):
                s, e = int(start.timestamp()), int(end.timestamp())
                self.starts.append(s)
                self.ends.append(e)
                self.cum.append(total)
                total += e - s
                self.cum_end.append(total)
            day += timedelta(days=1)

    def at(self, t: int) -> int:
        """Working seconds from the period's start to t."""
        i = bisect.bisect_right(self.starts, t) - 1
        if i < 0:
            return 0
        return self.cum[i] + min(t, self.ends[i]) - self.starts[i]

    def add(self, start: int, minutes: float) -> int:
        if minutes <= 0:
            return start
        x = self.at(start) + round(minutes * 60)
        i = bisect.bisect_left(self.cum_end, x)
        if i >= len(self.cum):
            raise ValueError("beyond the precomputed period")
        return self.starts[i] + (x - self.cum[i])

    def back(self, end: int, seconds: int) -> int:
        """The earliest moment from which `seconds` of working time run until `end`."""
        x = max(0, self.at(end) - seconds)
        i = bisect.bisect_left(self.cum_end, x)
        return self.starts[i] + (x - self.cum[i])

    def minutes_between(self, start: int, end: int) -> float:
        if end <= start:
            return 0.0
        return (self.at(end) - self.at(start)) / 60

    def span_start_before(self, t: int) -> tuple[int, int]:
        """(end of the previous span, start of the span holding t or next after it)."""
        i = bisect.bisect_right(self.ends, t)
        return (self.ends[i - 1] if i else self.starts[0] - DAY), self.starts[i]


def check_business_time(bt: BusinessTime, t_from: int, t_to: int, n: int = 400,
                        seed: int = 3) -> dict[str, int]:
    """Compare BusinessTime with the real Schedule on random moments (must all agree)."""
    rng = random.Random(seed)
    schedule = bt.schedule
    mismatches = {"minutes_between": 0, "add": 0}
    for _ in range(n):
        a = rng.randrange(t_from, t_to)
        b = a + int(rng.expovariate(1 / (3 * DAY)))
        da = datetime.fromtimestamp(a, UTC)
        db_ = datetime.fromtimestamp(b, UTC)
        if abs(schedule.minutes_between(da, db_) - bt.minutes_between(a, b)) > 1e-9:
            mismatches["minutes_between"] += 1
        minutes = rng.choice((48, 60, 384, 480, 960, 2304, 2880, 5760)) + rng.random() * 100
        real = schedule.add(da, minutes)
        mine = bt.add(a, minutes)
        if real is None or abs(real.timestamp() - mine) > 0.5:
            mismatches["add"] += 1
    return mismatches


# ---------------------------------------------------------------------------------------------
# orgs
# ---------------------------------------------------------------------------------------------

@dataclass
class Policy:
    id: int
    first: int
    next: int
    resolution: int
    warn: int


@dataclass
class OrgSpec:
    slug: str
    name: str
    tickets: int
    customers: int
    agents: int
    teams: tuple[str, ...]
    timezone: str | None  # None: keep the default calendar the org was created with (UTC)
    holidays: str | None = None
    kind: str = "history"  # history | scan
    org_id: int = 0
    owner_id: int = 0
    manager_id: int = 0
    agent_ids: list[int] = field(default_factory=list)
    team_ids: list[int] = field(default_factory=list)
    policies: dict[str, Policy] = field(default_factory=dict)
    customer_first: int = 0  # customer ids first .. first + customers - 1
    schedule: Schedule | None = None  # the org's default calendar
    bt: BusinessTime | None = None

    @property
    def managed(self) -> bool:
        return self.kind == "scan" or self.slug == BIG


def org_specs(scale: float = 1.0) -> list[OrgSpec]:
    def n(value: int) -> int:
        return max(20, int(value * scale))

    specs = [OrgSpec(BIG, "Reports Big Retail", n(1_000_000), n(60_000), 10, BIG_TEAMS,
                     "Europe/Berlin", "DE")]
    for i in range(1, SMALL_COUNT + 1):
        specs.append(OrgSpec(f"reports-{i:02d}", f"Reports Shop {i:02d}", n(10_000), n(2_000),
                             3, SMALL_TEAMS, None))
    specs.append(OrgSpec(SCAN, "Reports Scan Wholesale", n(100_000), n(10_000), 10, BIG_TEAMS,
                         "Europe/Berlin", "DE", kind="scan"))
    return specs


def owner_email(slug: str) -> str:
    return f"owner@{slug}.example"


def manager_email(slug: str) -> str:
    return f"manager@{slug}.example"


def agent_email(slug: str, i: int) -> str:
    return f"agent{i}@{slug}.example"


def agent_name(org_index: int, i: int) -> str:
    return (f"{AGENT_FIRST[(org_index * 3 + i) % len(AGENT_FIRST)]} "
            f"{AGENT_LAST[(org_index * 5 + i * 7) % len(AGENT_LAST)]}")


def configure_orgs(dsn: str, specs: list[OrgSpec], log=print) -> None:
    """Calendars, teams, policy ids: as the database owner, after `flask org create`."""
    with psycopg.connect(dsn) as conn:
        for spec in specs:
            if spec.timezone:
                conn.execute(
                    "UPDATE business_calendars SET name = 'Office hours Berlin', timezone = %s,"
                    " holiday_country = %s WHERE org_id = %s AND is_default",
                    (spec.timezone, spec.holidays, spec.org_id))
            existing = dict(conn.execute("SELECT name, id FROM teams WHERE org_id = %s",
                                         (spec.org_id,)).fetchall())
            for name in spec.teams:
                if name not in existing:
                    existing[name] = conn.execute(
                        "INSERT INTO teams (org_id, name) VALUES (%s, %s) RETURNING id",
                        (spec.org_id, name)).fetchone()[0]
            spec.team_ids = [existing[name] for name in spec.teams]
        conn.commit()
    load_org_details(dsn, specs)
    log(f"  calendars, {sum(len(s.teams) for s in specs)} teams, policies of {len(specs)} orgs")


def load_org_details(dsn: str, specs: list[OrgSpec]) -> None:
    """Policies (by the priority they match) and the default calendar of every org."""
    with psycopg.connect(dsn) as conn:
        for spec in specs:
            rows = conn.execute(
                "SELECT conditions, id, first_reply_minutes, next_reply_minutes,"
                " resolution_minutes, warn_percent FROM sla_policies WHERE org_id = %s"
                " AND is_active ORDER BY position, id", (spec.org_id,)).fetchall()
            for conditions, *values in rows:
                for priority in conditions.get("priorities", []):
                    spec.policies.setdefault(priority, Policy(*values))
            if set(spec.policies) != set(PRIORITY_NAMES):
                raise RuntimeError(f"{spec.slug}: policies for {sorted(spec.policies)} only")
            spec.team_ids = [r[0] for r in conn.execute(
                "SELECT id FROM teams WHERE org_id = %s ORDER BY id", (spec.org_id,))]
            timezone, hours, country, subdiv = conn.execute(
                "SELECT timezone, hours, holiday_country, holiday_subdiv FROM business_calendars"
                " WHERE org_id = %s AND is_default", (spec.org_id,)).fetchone()
            week = tuple(tuple((int(s), int(e)) for s, e in hours.get(day, ()))
                         for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"))
            spec.schedule = Schedule(timezone=timezone, week=week, country=country,
                                     subdiv=subdiv)


# ---------------------------------------------------------------------------------------------
# the plan: every ticket's org, number and creation time, ids in time order across orgs
# ---------------------------------------------------------------------------------------------

@dataclass
class Plan:
    t0: int
    start: int
    specs: list[OrgSpec]
    org: list[int]
    number: list[int]
    created: list[int]
    prev_id: list[int]  # the org's previous ticket (merges), 0 for the first
    # the breach-scan org: 0 history, 1 waiting for a first reply, 2 for a next reply
    scan_kind: bytearray
    scan_priority: bytearray
    scan_anchor: list[int]  # the wait's start (created, or the customer's follow-up)


def _local_epoch(zone: ZoneInfo, day: date, second: int) -> int:
    noon = datetime(day.year, day.month, day.day, 12, tzinfo=zone)
    offset = int(noon.utcoffset().total_seconds())
    midnight = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())
    return midnight + second - offset


def history_times(rng: random.Random, spec: OrgSpec, n: int, start: int, t0: int) -> list[int]:
    """n creation times over the period: volume growing ~1.6x, weekdays and business hours
    heavy, fewer on holidays (local time of the org's calendar)."""
    zone = ZoneInfo(spec.schedule.timezone)
    first = datetime.fromtimestamp(start, zone).date()
    last = datetime.fromtimestamp(t0, zone).date()
    days, weights = [], []
    day = first
    while day <= last:
        growth = 1 + 0.6 * (day - first).days / max(1, (last - first).days)
        weight = growth * WEEKDAY_WEIGHTS[day.weekday()]
        if spec.holidays and spec.schedule.is_day_off(day):
            weight *= 0.35
        days.append(day)
        weights.append(weight)
        day += timedelta(days=1)
    day_cum, hour_cum = _cumulative(weights), _cumulative(HOUR_WEIGHTS)
    rand = rng.random
    times = []
    while len(times) < n:
        day = days[min(bisect.bisect(day_cum, rand()), len(days) - 1)]
        hour = min(bisect.bisect(hour_cum, rand()), 23)
        t = _local_epoch(zone, day, hour * 3600 + int(rand() * 3600))
        if start <= t <= t0 - 60:
            times.append(t)
    times.sort()
    return times


def scan_times(rng: random.Random, spec: OrgSpec, n: int, t0: int):
    """The breach-scan org: 70% wait for a first reply, 30% for a next reply; the running wait
    has used 0-100% of its target at T0 (in business time), so T0 is past the warning of
    about a fifth of them and their next thresholds lie ahead. A quarter of the waits started
    off hours (in the night or weekend before the span where the business time starts)."""
    bt = spec.bt
    rand = rng.random
    prio_cum = _cumulative([w for _, w in PRIORITIES])
    rows = []
    for _ in range(n):
        priority = min(bisect.bisect(prio_cum, rand()), len(PRIORITIES) - 1)
        policy = spec.policies[PRIORITY_NAMES[priority]]
        kind = 1 if rand() < 0.7 else 2
        target = policy.first if kind == 1 else policy.next
        anchor = bt.back(t0, int(rand() * target * 60))
        if rand() < 0.25:
            gap_start, span_start = bt.span_start_before(anchor)
            if span_start <= anchor < span_start + 3600:
                anchor = gap_start + int(rand() * (span_start - gap_start))
        anchor = min(anchor, t0 - 60)
        created = anchor if kind == 1 else anchor - int(rng.expovariate(1 / (20 * 3600))) \
            - int(rng.expovariate(1 / (6 * 3600))) - 120
        rows.append((created, kind, priority, anchor))
    rows.sort()
    return rows


def build_plan(specs: list[OrgSpec], t0: int, seed: int = 42, log=print) -> Plan:
    rng = random.Random(seed)
    start = t0 - TWO_YEARS
    everything = []
    scan_extra = {}
    for o, spec in enumerate(specs):
        if spec.kind == "scan":
            rows = scan_times(rng, spec, spec.tickets, t0)
            for k, row in enumerate(rows):
                everything.append((row[0], o, k))
                scan_extra[(o, k)] = row[1:]
        else:
            everything.extend((t, o, k) for k, t in
                              enumerate(history_times(rng, spec, spec.tickets, start, t0)))
    everything.sort()
    n = len(everything)
    plan = Plan(t0, start, specs, [0] * n, [0] * n, [0] * n, [0] * n, bytearray(n),
                bytearray(n), [0] * n)
    last_id = [0] * len(specs)
    for g, (t, o, k) in enumerate(everything):
        plan.org[g], plan.number[g], plan.created[g] = o, k + 1, t
        plan.prev_id[g] = last_id[o]
        last_id[o] = g + 1
        if (o, k) in scan_extra:
            kind, priority, anchor = scan_extra[(o, k)]
            plan.scan_kind[g], plan.scan_priority[g], plan.scan_anchor[g] = kind, priority, anchor
    log(f"  plan: {n:,} tickets in time order over {len(specs)} orgs")
    return plan


# ---------------------------------------------------------------------------------------------
# a ticket's story and the rows it leaves
# ---------------------------------------------------------------------------------------------

STATUS, REPLY, CUSTOMER, EVENT = range(4)


def _lognormal(rng: random.Random, median: float, sigma: float) -> float:
    return median * math.exp(rng.gauss(0, sigma))


class Storyteller:
    """Draws a ticket's life (actions in time order) for one chunk, with the chunk's RNG."""

    def __init__(self, plan: Plan, rng: random.Random, begin: int = 0):
        self.plan, self.rng = plan, rng
        self.begin = begin  # the chunk's first ticket: merges stay inside the chunk
        self.prio_cum = _cumulative([w for _, w in PRIORITIES])
        self.channel_cum = _cumulative([w for _, w in CHANNELS])
        self.tag_cum = _cumulative([1.0 / (k + 2) for k in range(len(TAGS))])
        self.agent_cum = _cumulative([3, 3, 2.5, 2.5, 2, 2, 1.5, 1.5, 1, 1])
        self.team_cum = {4: _cumulative([45, 25, 20, 10]), 2: _cumulative([60, 40])}

    def ticket(self, g: int) -> dict:
        plan, rng = self.plan, self.rng
        rand = rng.random
        spec = plan.specs[plan.org[g]]
        kind = plan.scan_kind[g]
        priority = (PRIORITY_NAMES[plan.scan_priority[g]] if kind
                    else PRIORITY_NAMES[min(bisect.bisect(self.prio_cum, rand()), 3)])
        r = rand()
        ntags = 0 if r < 0.35 else 1 if r < 0.75 else 2 if r < 0.93 else 3
        agents = spec.agent_ids
        assignee = (pick(rand, self.agent_cum[:len(agents)], agents) if rand() > 0.05
                    else None)
        n = spec.customers
        subject = SUBJECTS[int(rand() * len(SUBJECTS))].format(
            n=100000 + int(rand() * 900000), p=PRODUCTS[int(rand() * len(PRODUCTS))])
        t = {
            "id": g + 1, "spec": spec, "number": plan.number[g], "created": plan.created[g],
            "priority": priority, "policy": spec.policies[priority],
            "channel": CHANNELS[min(bisect.bisect(self.channel_cum, rand()), 4)][0],
            "tags": sorted({pick(rand, self.tag_cum, TAGS) for _ in range(ntags)}),
            "team": (pick(rand, self.team_cum[len(spec.team_ids)], spec.team_ids)
                     if rand() > 0.1 else None),
            "assignee": assignee,
            "customer": spec.customer_first + min(int(n * rand() ** 2.2), n - 1),
            "subject": subject, "spam": False, "merged_into": None,
        }
        t["actions"] = (self._scan_story(t, g) if kind else self._history_story(t, g))
        return t

    def _agent(self, t: dict) -> int:
        agents = t["spec"].agent_ids
        if t["assignee"] and self.rng.random() < 0.9:
            return t["assignee"]
        return agents[int(self.rng.random() * len(agents))]

    def _wait(self, t: dict, since: int, target_minutes: int) -> int:
        """When an agent answers a wait that began at `since`: business time around a fifth
        of the target (log-normal), or 12% of the time after a calendar delay (off hours)."""
        rng = self.rng
        if rng.random() < 0.12:
            return since + 60 + int(rng.expovariate(1 / (3 * 3600)))
        factor = {"urgent": 0.3, "high": 0.22, "normal": 0.2, "low": 0.15}[t["priority"]]
        minutes = _lognormal(rng, target_minutes * factor, 1.05)
        return t["spec"].bt.add(since, max(1.0, minutes))

    def _history_story(self, t: dict, g: int) -> list[tuple]:
        rng = self.rng
        rand, expo = rng.random, rng.expovariate
        created, policy = t["created"], t["policy"]
        acts: list[tuple] = []
        if rand() < 0.003:  # spam: marked and closed
            t["spam"] = True
            moment = created + 60 + int(expo(1 / 3600))
            acts.append((moment, EVENT, "spam", self._agent(t), {"is_spam": True}))
            acts.append((moment, STATUS, "closed", self._agent(t), ""))
            return acts
        # merged into the org's previous ticket, if this chunk (transaction) holds it: the
        # foreign key may be checked during the COPY
        if rand() < 0.005 and self.plan.prev_id[g] > self.begin:
            t["merged_into"] = self.plan.prev_id[g]
            moment = created + 120 + int(expo(1 / (3 * 3600)))
            agent = self._agent(t)
            acts.append((moment, EVENT, "merged", agent, {"into": self.plan.number[g] - 1}))
            acts.append((moment, STATUS, "closed", agent,
                         f"merged into #{self.plan.number[g] - 1}"))
            return acts
        agent = self._agent(t)
        first = self._wait(t, created, policy.first)
        acts.append((first, REPLY, "first", created, agent))
        acts.append((first, STATUS, "open", agent, ""))
        moment = first
        follow_ups = 0
        while rand() < 0.47 and follow_ups < 6:
            follow_ups += 1
            if rand() < 0.05:
                moment += 60 + int(expo(1 / 1200))
                acts.append((moment, REPLY, "more", moment, self._agent(t)))
            pending = rand() < 0.45
            if pending:
                acts.append((moment + 1, STATUS, "pending", agent, ""))
            message = moment + 120 + int(expo(1 / (18 * 3600)))
            acts.append((message, CUSTOMER))
            if pending:
                acts.append((message, STATUS, "open", None, "customer replied"))
            moment = self._wait(t, message, policy.next)
            acts.append((moment, REPLY, "next", message, self._agent(t)))
        if rand() < 0.07:  # abandoned: never solved
            if rand() < 0.5:
                acts.append((moment + 1, STATUS, "pending", agent, ""))
            return acts
        solved = moment + (1 if rand() < 0.5 else 60 + int(expo(1 / 7200)))
        acts.append((solved, STATUS, "solved", agent, ""))
        if rand() < 0.06:
            message = solved + 300 + int(expo(1 / (1.5 * DAY)))
            if message < solved + 4 * DAY:
                acts.append((message, CUSTOMER))
                acts.append((message, STATUS, "open", None, "customer replied"))
                moment = self._wait(t, message, policy.next)
                acts.append((moment, REPLY, "next", message, self._agent(t)))
                solved = moment + 1 + int(expo(1 / 3600))
                acts.append((solved, STATUS, "solved", agent, ""))
        acts.append((solved + 4 * DAY, STATUS, "closed", None, "closed automatically"))
        return acts

    def _scan_story(self, t: dict, g: int) -> list[tuple]:
        """Open tickets of the scan org: waiting for the first reply (opened by an agent or
        still new), or for a next reply after a customer's follow-up."""
        rng = self.rng
        created, anchor = t["created"], self.plan.scan_anchor[g]
        agent = self._agent(t)
        if self.plan.scan_kind[g] == 1:
            if rng.random() < 0.4:
                return [(min(created + 60 + int(rng.expovariate(1 / 1800)), self.plan.t0),
                         STATUS, "open", agent, "")]
            return []
        first = created + 60 + (anchor - created - 120) // 3
        acts = [(first, REPLY, "first", created, agent), (first, STATUS, "open", agent, "")]
        if rng.random() < 0.5:
            acts.append((first + 1, STATUS, "pending", agent, ""))
            acts.append((anchor, CUSTOMER))
            acts.append((anchor, STATUS, "open", None, "customer replied"))
        else:
            acts.append((anchor, CUSTOMER))
        return acts


class Rows:
    """COPY text lines of one chunk, per table."""

    def __init__(self):
        self.tickets: list[str] = []
        self.replies: list[str] = []
        self.events: list[str] = []
        self.messages: list[str] = []
        self.counts = {"sla events": 0, "reopen events": 0, "open": 0}


_DAYS: dict[int, str] = {}


def ts(t: int | None, sep: str = " ", zone: str = "+00") -> str:
    """An epoch second as PostgreSQL timestamptz text (days cached: this runs ~10M times)."""
    if t is None:
        return NULL
    d, s = divmod(t, DAY)
    day = _DAYS.get(d)
    if day is None:
        day = _DAYS[d] = time.strftime("%Y-%m-%d", time.gmtime(d * DAY))
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    return f"{day}{sep}{h:02d}:{m:02d}:{s:02d}{zone}"


def iso(t: int) -> str:
    """As datetime.isoformat() writes an aware UTC moment (the "due" of sla events)."""
    return ts(t, "T", "+00:00")


def _n(value) -> str:
    if value is None:
        return NULL
    if value is True:
        return "t"
    if value is False:
        return "f"
    return str(value)


def emit(t: dict, t0: int, rows: Rows) -> None:
    """Replay the story up to T0 and write what the app would have stored."""
    spec, policy, bt = t["spec"], t["policy"], t["spec"].bt
    org_id, ticket_id, created = spec.org_id, t["id"], t["created"]
    status, first_response, solved_at, closed_at, reopens = "new", None, None, None, 0
    stopped_at = None  # when the ticket first stopped for good (merged, spam)
    last = created
    changes: list[tuple[int, dict]] = []
    events = [(created, "created", None, f'{{"channel": "{t["channel"]}"}}')]
    replies = []  # (time, kind, since, agent)
    waits = []  # [since, replied_at or None]
    waiting = None
    for act in t["actions"]:
        moment = act[0]
        if moment > t0:
            break
        last = moment
        what = act[1]
        if what == STATUS:
            new, actor, reason = act[2], act[3], act[4]
            old = status
            status = new
            if new == "solved":
                solved_at = moment
            elif new == "closed":
                closed_at = moment
                if t["merged_into"] is None:
                    solved_at = solved_at or moment
                if t["merged_into"] is not None or t["spam"]:
                    stopped_at = moment
            elif old == "solved":
                solved_at = None
                reopens += 1
                rows.counts["reopen events"] += 1
            changes.append((moment, {"new": new}))
            events.append((moment, "status", actor,
                           f'{{"old": "{old}", "new": "{new}", "reason": "{reason}"}}'))
        elif what == REPLY:
            kind, since, agent = act[2], act[3], act[4]
            replies.append((moment, kind, since, agent))
            if kind == "first":
                first_response = moment
            elif kind == "next" and waits and waits[-1][1] is None:
                waits[-1][1] = moment
                waiting = None
        elif what == CUSTOMER:
            waits.append([moment, None])
            waiting = moment
        else:
            events.append((moment, act[2], act[3], json.dumps(act[4])))

    known: dict[tuple, int | None] = {}

    def due_at(anchor: int, minutes: float, pauses) -> int | None:
        """helpdesk.sla.calendar.due_at on the org's business time, each question once."""
        key = (anchor, minutes, tuple(pauses))
        if key not in known:
            known[key] = calendar_due_at(bt, anchor, minutes, pauses)
        return known[key]

    reply_pauses = clock._pauses(None, changes, clock.REPLY_PAUSES)
    resolution_pauses = clock._pauses(None, changes, clock.RESOLUTION_PAUSES)
    stopped = status in ("solved", "closed") or t["merged_into"] is not None
    # when the reply targets stopped running for good without a reply (spam, merged)
    end_of_replies = stopped_at if stopped_at is not None else math.inf

    def thresholds(target: str, anchor: int, minutes: int, pauses, done) -> list:
        """(key, moment, due) of the warning and breach, each only if it came while the
        target ran (before `done`)."""
        due = due_at(anchor, minutes, pauses)
        if due is None:
            return []
        found = []
        warn = due_at(anchor, minutes * policy.warn / 100, pauses)
        for level, moment in (("warning", warn), ("breach", due)):
            if moment is not None and moment < done:
                found.append((f"{target}:{level}", moment, due))
        return found

    # thresholds of the whole life: what the scan announced (moment <= T0) and what is ahead
    first_done = first_response if first_response is not None else end_of_replies
    life = {"first_reply": thresholds("first_reply", created, policy.first, reply_pauses,
                                      first_done)}
    life["resolution"] = thresholds("resolution", created, policy.resolution,
                                    resolution_pauses, math.inf)
    next_life = []
    for since, replied in waits:
        done = replied if replied is not None else end_of_replies
        next_life.append(thresholds("next_reply", since, policy.next, reply_pauses, done))
    for found in [*life.values(), *next_life]:
        for key, moment, due in found:
            if moment <= t0:
                target, level = key.split(":")
                events.append((min(moment + 20, t0), "sla", None,
                               f'{{"target": "{target}", "level": "{level}", '
                               f'"due": "{iso(due)}"}}'))
                rows.counts["sla events"] += 1
    events.sort(key=lambda e: e[0])

    # the clock at T0
    current = life["first_reply"] + life["resolution"] + (next_life[-1] if waiting else [])
    alerts = []
    for key, moment, _ in current:
        if moment <= t0:
            alerts.append(key)
            if key.endswith(":breach") and key.replace("breach", "warning") not in alerts:
                alerts.append(key.replace("breach", "warning"))
    dues = {"first": None, "next": None, "resolution": None}
    check_at = None
    if not stopped:
        rows.counts["open"] += 1
        if first_response is None:
            dues["first"] = due_at(created, policy.first, reply_pauses)
        if waiting is not None:
            dues["next"] = due_at(waiting, policy.next, reply_pauses)
        dues["resolution"] = due_at(created, policy.resolution, resolution_pauses)
        ahead = [moment for key, moment, _ in current if key not in alerts]
        check_at = min(ahead) if ahead else None
    running = [d for d in dues.values() if d is not None]

    # outcomes
    first_minutes = first_breached = resolution_minutes = resolution_breached = None
    if first_response is not None:
        first_minutes = elapsed(bt, created, first_response, reply_pauses)
        due = due_at(created, policy.first,
                     [p for p in reply_pauses if p[0] < first_response])
        first_breached = due is not None and first_response > due
    if solved_at is not None and status in ("solved", "closed"):
        resolution_minutes = elapsed(bt, created, solved_at, resolution_pauses)
        due = due_at(created, policy.resolution,
                     [p for p in resolution_pauses if p[0] < solved_at])
        resolution_breached = due is not None and solved_at > due

    tags = "{" + ",".join(t["tags"]) + "}"
    alert_array = "{" + ",".join(alerts) + "}"
    rows.tickets.append("\t".join((
        str(ticket_id), str(org_id), str(t["number"]), t["subject"], status, t["priority"],
        t["channel"], str(t["customer"]), _n(t["assignee"]), _n(t["team"]), tags,
        _n(t["spam"]), ts(first_response), ts(solved_at), ts(closed_at), _n(t["merged_into"]),
        ts(last), ts(last), ts(created), str(policy.id), ts(dues["first"]), ts(dues["next"]),
        ts(dues["resolution"]), ts(waiting), ts(min(running) if running else None),
        _n(not stopped and status == "pending"), ts(check_at), alert_array,
        _n(first_minutes), _n(resolution_minutes), _n(first_breached),
        _n(resolution_breached), str(reopens))))

    for moment, kind, since, agent in replies:
        if kind == "more":
            business, calendar, due, breached = 0.0, 0.0, None, None
        else:
            business = elapsed(bt, since, moment, reply_pauses)
            calendar = (moment - since) / 60
            due = due_at(since, policy.first if kind == "first" else policy.next,
                         [p for p in reply_pauses if p[0] < moment])
            breached = due is not None and moment > due
        rows.replies.append("\t".join((
            str(org_id), str(ticket_id), str(agent), kind, ts(since), ts(moment),
            repr(business), repr(calendar), str(policy.id), ts(due), _n(breached))))
    for moment, kind, actor, data in events:
        rows.events.append("\t".join((str(org_id), str(ticket_id), _n(actor), kind, data,
                                      ts(moment))))
    if waiting is not None:  # the customer's unanswered follow-up: the clock's next wait
        text = "Any news on this? I am still waiting for an answer."
        rows.messages.append("\t".join((str(org_id), str(ticket_id), "customer",
                                        str(t["customer"]), text, f"<p>{text}</p>",
                                        ts(waiting))))


# ---------------------------------------------------------------------------------------------
# the load
# ---------------------------------------------------------------------------------------------

TICKET_COPY = (
    "COPY tickets (id, org_id, number, subject, status, priority, channel, customer_id,"
    " assignee_id, team_id, tags, is_spam, first_response_at, solved_at, closed_at,"
    " merged_into_id, last_activity_at, updated_at, created_at, sla_policy_id,"
    " first_reply_due_at, next_reply_due_at, resolution_due_at, next_reply_since, sla_due_at,"
    " sla_paused, sla_check_at, sla_alerts, first_reply_minutes, resolution_minutes,"
    " first_reply_breached, resolution_breached, reopen_count) FROM STDIN")
REPLY_COPY = ("COPY sla_replies (org_id, ticket_id, agent_id, kind, waiting_since, replied_at,"
              " business_minutes, calendar_minutes, policy_id, due_at, breached) FROM STDIN")
EVENT_COPY = ("COPY ticket_events (org_id, ticket_id, actor_user_id, kind, data, created_at)"
              " FROM STDIN")
MESSAGE_COPY = ("COPY messages (org_id, ticket_id, kind, author_customer_id, body_text,"
                " body_html, created_at) FROM STDIN")
CUSTOMER_COPY = "COPY customers (id, org_id, email, name, created_at) FROM STDIN"

_PLAN: Plan | None = None
_CONN: psycopg.Connection | None = None
_MODES: dict[str, str] = {}  # table -> session_replication_role for its COPY


def insert_triggers(dsn: str, tables: tuple[str, ...]) -> dict[str, list[str]]:
    """The app's own (not foreign-key) triggers that fire on INSERT, per table."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
            " WHERE NOT t.tgisinternal AND t.tgenabled <> 'D' AND t.tgtype & 4 <> 0"
            " AND c.relname = ANY(%s) ORDER BY 1, 2", (list(tables),)).fetchall()
    found: dict[str, list[str]] = {}
    for table, name in rows:
        found.setdefault(table, []).append(name)
    return found


def _worker_init(dsn: str, modes: dict[str, str]) -> None:
    global _CONN
    _CONN = psycopg.connect(dsn)
    _CONN.execute("SET synchronous_commit = off")
    _MODES.update(modes)


def _copy_table(conn, table: str, statement: str, lines: list[str]) -> None:
    """COPY in the table's mode: `replica` skips the per-row foreign-key checks (and every
    trigger), so it is only used for tables none of whose triggers fire on INSERT."""
    conn.execute(f"SET session_replication_role = {_MODES.get(table, 'origin')}")
    _copy_lines(conn, statement, lines)


def _copy_lines(conn, statement: str, lines: list[str]) -> None:
    with conn.cursor() as cur, cur.copy(statement) as copy:
        for i in range(0, len(lines), 2000):
            copy.write("\n".join(lines[i:i + 2000]) + "\n")


def _chunk(task: tuple[int, int, int, int]):
    """Generate and COPY tickets [begin, end) with their replies and events (one
    transaction); the messages go back to the parent, which loads them with the foreign keys
    checked after every ticket is in."""
    index, begin, end, seed = task
    started = time.perf_counter()
    plan = _PLAN
    teller = Storyteller(plan, random.Random(f"{seed}-{index}"), begin)
    rows = Rows()
    for g in range(begin, end):
        emit(teller.ticket(g), plan.t0, rows)
    generated = time.perf_counter() - started
    _copy_table(_CONN, "tickets", TICKET_COPY, rows.tickets)
    _copy_table(_CONN, "sla_replies", REPLY_COPY, rows.replies)
    _copy_table(_CONN, "ticket_events", EVENT_COPY, rows.events)
    _CONN.commit()
    counts = {"tickets": len(rows.tickets), "sla_replies": len(rows.replies),
              "ticket_events": len(rows.events), **rows.counts}
    return counts, rows.messages, generated, time.perf_counter() - started


@dataclass
class SeedResult:
    counts: dict[str, int]
    seconds: float
    phases: dict[str, float]
    checks: dict[str, dict]


def seed(dsn: str, specs: list[OrgSpec], *, seed_value: int = 42, workers: int = 2,
         log=print) -> SeedResult:
    """Load everything into a migrated database whose orgs, staff and teams exist."""
    global _PLAN
    phases: dict[str, float] = {}
    started = time.perf_counter()
    t0 = int(time.time()) // 60 * 60
    with psycopg.connect(dsn) as conn:
        for table in ("tickets", "sla_replies", "customers"):
            if conn.execute(f"SELECT EXISTS (SELECT 1 FROM {table})").fetchone()[0]:
                raise RuntimeError(f"{table} is not empty: seed needs a fresh database")

    t = time.perf_counter()
    checks = {}
    for spec in specs:
        first = datetime.fromtimestamp(t0 - TWO_YEARS, UTC).date() - timedelta(days=30)
        spec.bt = BusinessTime(spec.schedule, first, datetime.fromtimestamp(t0, UTC).date()
                               + timedelta(days=400))
    for spec in (specs[0], specs[1]):
        checks[f"business time {spec.slug} ({spec.schedule.timezone})"] = check_business_time(
            spec.bt, t0 - TWO_YEARS, t0)
    phases["business-time tables"] = time.perf_counter() - t
    log(f"  business time vs Schedule (mismatches): {checks}")

    t = time.perf_counter()
    _PLAN = plan = build_plan(specs, t0, seed_value, log)
    phases["plan (Python)"] = time.perf_counter() - t

    t = time.perf_counter()
    customer_id = 0
    with psycopg.connect(dsn) as conn:
        conn.execute("SET synchronous_commit = off")
        lines = []
        for spec in specs:
            spec.customer_first = customer_id + 1
            for i in range(spec.customers):
                customer_id += 1
                lines.append(f"{customer_id}\t{spec.org_id}\tcustomer{i}@c{i % 997}.example\t"
                             f"Customer {i}\t{ts(plan.start - DAY * (1 + i % 300))}")
        _copy_lines(conn, CUSTOMER_COPY, lines)
        conn.execute("SELECT setval(pg_get_serial_sequence('customers', 'id'), %s)",
                     (customer_id,))
    phases["COPY customers (search trigger on)"] = time.perf_counter() - t
    log(f"  customers: {customer_id:,} in {phases['COPY customers (search trigger on)']:.1f} s")

    t = time.perf_counter()
    total = len(plan.org)
    tasks = [(k, begin, min(begin + CHUNK, total), seed_value)
             for k, begin in enumerate(range(0, total, CHUNK))]
    counts: dict[str, int] = {}
    messages: list[str] = []
    generating = 0.0
    triggers = insert_triggers(dsn, ("tickets", "sla_replies", "ticket_events"))
    modes = {table: "origin" if table in triggers else "replica"
             for table in ("tickets", "sla_replies", "ticket_events")}
    checks["COPY modes"] = {table: f"{mode} (insert triggers: "
                            f"{', '.join(triggers.get(table, [])) or 'none'})"
                            for table, mode in modes.items()}
    log(f"  COPY modes: {checks['COPY modes']}")
    context = multiprocessing.get_context("fork")
    with context.Pool(workers, initializer=_worker_init, initargs=(dsn, modes)) as pool:
        done = 0
        for chunk_counts, chunk_messages, generated, _ in pool.imap_unordered(_chunk, tasks):
            for key, value in chunk_counts.items():
                counts[key] = counts.get(key, 0) + value
            messages += chunk_messages
            generating += generated
            done += chunk_counts["tickets"]
            if done % (CHUNK * 10) < CHUNK:
                log(f"  tickets: {done:,}/{total:,} ({time.perf_counter() - t:.0f} s)")
    key = (f"generate + COPY tickets, sla_replies, ticket_events ({workers} connections;"
           " tables with insert triggers in origin mode)")
    phases[key] = time.perf_counter() - t
    phases["  of which generating rows (Python, summed over workers)"] = generating
    log(f"  {counts} in {phases[key]:.1f} s (Python {generating:.0f} s over the workers)")

    t = time.perf_counter()
    with psycopg.connect(dsn) as conn:
        conn.execute("SET synchronous_commit = off")
        _copy_lines(conn, MESSAGE_COPY, sorted(messages, key=lambda line: line[-22:]))
        for spec in specs:
            conn.execute("INSERT INTO ticket_counters (org_id, last_number) VALUES (%s, %s)"
                         " ON CONFLICT (org_id) DO UPDATE SET last_number = EXCLUDED.last_number",
                         (spec.org_id, spec.tickets))
        conn.execute("SELECT setval(pg_get_serial_sequence('tickets', 'id'), %s)", (total,))
    counts["messages"] = len(messages)
    phases["COPY messages (triggers and foreign keys on)"] = time.perf_counter() - t
    log(f"  messages: {len(messages):,} in "
        f"{phases['COPY messages (triggers and foreign keys on)']:.1f} s")

    t = time.perf_counter()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '1GB'")
        # every table: what the triggers filled too (visibility map, planner statistics)
        conn.execute("VACUUM (ANALYZE)")
    phases["VACUUM ANALYZE (the whole database)"] = time.perf_counter() - t
    log(f"  VACUUM ANALYZE in {phases['VACUUM ANALYZE (the whole database)']:.1f} s")
    counts["customers"] = customer_id
    counts["t0"] = t0
    _PLAN = None
    return SeedResult(counts, time.perf_counter() - started, phases, checks)


def verify(dsn: str) -> dict[str, int]:
    """The references COPY did not check (replica mode), and the story's invariants."""
    checks = {
        "tickets whose customer is missing or in another org":
            "SELECT count(*) FROM tickets t LEFT JOIN customers c ON c.id = t.customer_id"
            " AND c.org_id = t.org_id WHERE c.id IS NULL",
        "tickets whose team is missing or in another org":
            "SELECT count(*) FROM tickets t LEFT JOIN teams m ON m.id = t.team_id"
            " AND m.org_id = t.org_id WHERE t.team_id IS NOT NULL AND m.id IS NULL",
        "tickets whose policy is missing or in another org":
            "SELECT count(*) FROM tickets t LEFT JOIN sla_policies p ON p.id = t.sla_policy_id"
            " AND p.org_id = t.org_id WHERE t.sla_policy_id IS NOT NULL AND p.id IS NULL",
        "tickets assigned to a non-member":
            "SELECT count(*) FROM tickets t LEFT JOIN memberships m ON m.user_id ="
            " t.assignee_id AND m.org_id = t.org_id WHERE t.assignee_id IS NOT NULL"
            " AND m.id IS NULL",
        "tickets merged into a missing ticket or another org's":
            "SELECT count(*) FROM tickets t LEFT JOIN tickets m ON m.id = t.merged_into_id"
            " AND m.org_id = t.org_id WHERE t.merged_into_id IS NOT NULL AND m.id IS NULL",
        "sla_replies of a missing ticket or another org's":
            "SELECT count(*) FROM sla_replies r LEFT JOIN tickets t ON t.id = r.ticket_id"
            " AND t.org_id = r.org_id WHERE t.id IS NULL",
        "sla_replies by a non-member":
            "SELECT count(*) FROM sla_replies r LEFT JOIN memberships m ON m.user_id ="
            " r.agent_id AND m.org_id = r.org_id WHERE m.id IS NULL",
        "ticket_events of a missing ticket or another org's":
            "SELECT count(*) FROM ticket_events e LEFT JOIN tickets t ON t.id = e.ticket_id"
            " AND t.org_id = e.org_id WHERE t.id IS NULL",
        "replies before their ticket": "SELECT count(*) FROM sla_replies r JOIN tickets t"
            " ON t.id = r.ticket_id WHERE r.replied_at < t.created_at",
        "solved before created": "SELECT count(*) FROM tickets WHERE solved_at < created_at",
        "reopen_count not the number of reopen events":
            "SELECT count(*) FROM tickets t LEFT JOIN (SELECT ticket_id, count(*) AS n FROM"
            " ticket_events WHERE kind = 'status' AND data->>'old' = 'solved' AND"
            " data->>'new' = 'open' GROUP BY ticket_id) r ON r.ticket_id = t.id"
            " WHERE t.reopen_count <> coalesce(r.n, 0)",
        "first replies not matching first_response_at":
            "SELECT count(*) FROM sla_replies r JOIN tickets t ON t.id = r.ticket_id"
            " WHERE r.kind = 'first' AND r.replied_at <> t.first_response_at",
    }
    with psycopg.connect(dsn) as conn:
        return {name: conn.execute(sql).fetchone()[0] for name, sql in checks.items()}
