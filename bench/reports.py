"""Reports benchmark: the six manager reports over 1,000,000 tickets, and the SLA breach scan
over 100,000 open tickets.

    .venv/bin/python bench/reports.py             # fresh: create, migrate, seed, measure
    .venv/bin/python bench/reports.py --reuse     # keep the data if the database holds it

Creates (or reuses) the database helpdesk_bench_reports (BENCH_REPORTS_DATABASE_URL), seeds it
with bench/seed_reports.py (every phase timed; checks of the references and of the stored
clock against helpdesk.sla.clock.refresh), starts the app like the Procfile's web line, creates
an API token for a manager with `flask token create`, and sends GET /api/v1/reports/<name> for
90-day windows with and without filters (p50/p95/max per report against the 300 ms goal),
checks figures of the answers against SQL of the same definition, captures the statements
in-process and EXPLAINs (ANALYZE, BUFFERS) them under RLS. Then the breach scan: the
scheduler's cross-org query (helpdesk.sla.jobs.enqueue_due_scans) and helpdesk.sla.alerts.scan()
for the scan org with nothing, 1% and 5% of its tickets due (the clock moved with
time-machine; every change of a scan is undone afterwards). Writes bench/results-reports.md.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import psycopg

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
# The code measured: a snapshot of the working tree (or of --ref) made by the parent process,
# which the app, the CLI commands and this process import first.
CODE = Path(os.environ.get("BENCH_REPORTS_CODE", str(REPO)))
sys.path[:0] = [str(CODE), str(BENCH_DIR)]

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/helpdesk_bench_reports"
DB_URL = os.environ.get("BENCH_REPORTS_DATABASE_URL", DEFAULT_URL)
REDIS_URL = os.environ.get("BENCH_REPORTS_REDIS_URL", "redis://127.0.0.1:6379/10")
PASSWORD = "bench-password"

import common  # noqa: E402

APP_ENV = common.app_env(DB_URL, REDIS_URL, CODE)
os.environ.update(APP_ENV)

import seed_reports  # noqa: E402
from common import log, mb, summary  # noqa: E402

REPORTS = ("volume", "first-response", "resolution", "sla", "agents", "csat")
GOAL_MS = 300
WINDOW_ENDS = (0, 45, 120, 200, 365, 500)  # days before T0's local date; each window 90 days
N_WARMUP = 3
SCAN_CASES = (("nothing due", 0.0), ("1% due", 0.01), ("5% due", 0.05))
LOCK_PATH = Path("/tmp/bench-reports.lock")  # one run at a time: they share the database
SLA_COLUMNS = ("sla_policy_id", "first_reply_due_at", "next_reply_due_at", "resolution_due_at",
               "next_reply_since", "sla_due_at", "sla_paused", "sla_check_at", "sla_alerts",
               "first_reply_minutes", "resolution_minutes", "first_reply_breached",
               "resolution_breached")


def dsn() -> str:
    return common.conninfo(DB_URL)


# ---------------------------------------------------------------------------------------------
# database and data
# ---------------------------------------------------------------------------------------------

def create_orgs_and_staff(specs: list[seed_reports.OrgSpec]) -> None:
    """Orgs (professional plan), owners, managers and agents through the real CLI commands."""
    run = common.flask_cli()
    for o, spec in enumerate(specs):
        run("org", "create", spec.slug, "--name", spec.name, "--owner-email",
            seed_reports.owner_email(spec.slug), "--owner-password", PASSWORD, "--owner-name",
            seed_reports.agent_name(o, 0), "--plan", "professional")
        if spec.managed:
            run("user", "create", "--org", spec.slug, "--email",
                seed_reports.manager_email(spec.slug), "--password", PASSWORD, "--name",
                f"Manager {spec.name}", "--role", "manager")
        for i in range(1, spec.agents + 1):
            run("user", "create", "--org", spec.slug, "--email",
                seed_reports.agent_email(spec.slug, i), "--password", PASSWORD, "--name",
                seed_reports.agent_name(o, i), "--role", "agent")


def load_ids(specs: list[seed_reports.OrgSpec]) -> None:
    with psycopg.connect(dsn()) as conn:
        orgs = dict(conn.execute("SELECT slug, id FROM organizations").fetchall())
        users = dict(conn.execute("SELECT email, id FROM users").fetchall())
        customers = dict(conn.execute("SELECT org_id, min(id) FROM customers GROUP BY org_id"
                                      ).fetchall())
    for spec in specs:
        spec.org_id = orgs[spec.slug]
        spec.owner_id = users[seed_reports.owner_email(spec.slug)]
        spec.manager_id = users.get(seed_reports.manager_email(spec.slug), 0)
        spec.agent_ids = [users[seed_reports.agent_email(spec.slug, i)]
                          for i in range(1, spec.agents + 1)]
        spec.customer_first = customers.get(spec.org_id, 0)


def seeded_as_expected(specs: list[seed_reports.OrgSpec]) -> str | None:
    """None when the database holds the data of `specs`, else why not."""
    with psycopg.connect(dsn()) as conn:
        counters = dict(conn.execute(
            "SELECT o.slug, c.last_number FROM organizations o JOIN ticket_counters c"
            " ON c.org_id = o.id").fetchall())
        tickets = conn.execute("SELECT count(*) FROM tickets").fetchone()[0]
    want = {s.slug: s.tickets for s in specs}
    if counters != want:
        return f"ticket counters of {len(counters)} orgs, not the expected {len(want)}"
    if tickets != sum(want.values()):
        return f"{tickets:,} tickets, expected {sum(want.values()):,}"
    return None


def dataset_figures(specs) -> dict[str, str]:
    big, scan = specs[0].org_id, specs[-1].org_id
    with psycopg.connect(dsn()) as conn:
        rows = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE status IN ('new', 'open', 'pending')),"
            " count(solved_at), count(*) FILTER (WHERE created_at < now() - interval '30 days'"
            " AND solved_at IS NOT NULL) * 100.0 / nullif(count(*) FILTER (WHERE created_at"
            " < now() - interval '30 days'), 0), count(*) FILTER (WHERE is_spam),"
            " count(merged_into_id), count(*) FILTER (WHERE reopen_count > 0),"
            " avg(first_reply_breached::int) * 100, avg(resolution_breached::int) * 100,"
            " percentile_cont(0.5) WITHIN GROUP (ORDER BY first_reply_minutes),"
            " percentile_cont(0.5) WITHIN GROUP (ORDER BY resolution_minutes),"
            " count(*) FILTER (WHERE extract(isodow FROM created_at AT TIME ZONE"
            " 'Europe/Berlin') >= 6) * 100.0 / count(*),"
            " count(*) FILTER (WHERE (created_at AT TIME ZONE 'Europe/Berlin')::time"
            " BETWEEN '09:00' AND '17:00') * 100.0 / count(*),"
            " min(created_at)::date, max(created_at)::date"
            " FROM tickets WHERE org_id = %s", (big,)).fetchone()
        replies = dict(conn.execute("SELECT kind, count(*) FROM sla_replies WHERE org_id = %s"
                                    " GROUP BY kind", (big,)).fetchall())
        events = dict(conn.execute(
            "SELECT CASE WHEN kind = 'status' AND data->>'old' = 'solved' AND data->>'new' ="
            " 'open' THEN 'reopen' WHEN kind = 'sla' THEN 'sla ' || (data->>'level') ELSE kind"
            " END, count(*) FROM ticket_events WHERE org_id = %s GROUP BY 1", (big,)).fetchall())
        totals = conn.execute(
            "SELECT (SELECT count(*) FROM tickets), (SELECT count(*) FROM sla_replies),"
            " (SELECT count(*) FROM ticket_events), (SELECT count(*) FROM messages),"
            " (SELECT count(*) FROM customers)").fetchone()
        scan_rows = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE first_response_at IS NULL),"
            " count(sla_check_at), min(sla_check_at), percentile_disc(0.5) WITHIN GROUP"
            " (ORDER BY sla_check_at), count(*) FILTER (WHERE cardinality(sla_alerts) > 0)"
            " FROM tickets WHERE org_id = %s", (scan,)).fetchone()
    (n, open_, solved, old_solved, spam, merged, reopened, frb, rb, frm, rm, weekend, hours,
     first, last) = rows
    return {
        "rows": (f"{totals[0]:,} tickets, {totals[1]:,} sla_replies, {totals[2]:,} ticket "
                 f"events, {totals[3]:,} messages, {totals[4]:,} customers in all"),
        "big": (f"{seed_reports.BIG}: {n:,} tickets {first} .. {last}; {open_:,} open/new/"
                f"pending now; {solved:,} with solved_at ({old_solved:.1f}% of those older "
                f"than 30 days); {spam:,} spam, {merged:,} merged, {reopened:,} reopened; "
                f"created on a weekend {weekend:.0f}%, 09:00-17:00 Berlin time {hours:.0f}%; "
                f"first reply breached {frb:.1f}%, resolution breached {rb:.1f}%; median "
                f"first reply {frm:.0f} business minutes, resolution {rm:.0f}; sla_replies "
                + ", ".join(f"{k} {v:,}" for k, v in sorted(replies.items()))
                + "; events " + ", ".join(f"{k} {v:,}" for k, v in sorted(events.items()))),
        "scan": (f"{seed_reports.SCAN}: {scan_rows[0]:,} open tickets ({scan_rows[1]:,} "
                 f"waiting for a first reply, the others for a next reply), {scan_rows[2]:,} "
                 f"with sla_check_at (earliest {scan_rows[3]:%Y-%m-%d %H:%M}, median "
                 f"{scan_rows[4]:%Y-%m-%d %H:%M} UTC), {scan_rows[5]:,} with a warning "
                 "already announced"),
    }


def sizes() -> tuple[int, list[tuple[str, int, int]]]:
    with psycopg.connect(dsn()) as conn:
        total = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        tables = conn.execute(  # every table of 10 MB or more, largest first
            "SELECT relname, pg_table_size(oid), pg_indexes_size(oid) FROM pg_class"
            " WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace"
            " AND pg_total_relation_size(oid) >= 10 * 1024 * 1024"
            " ORDER BY pg_total_relation_size(oid) DESC").fetchall()
    return total, tables


def clock_consistency(specs, t0: int, n: int = 300, seed: int = 9) -> dict:
    """Run helpdesk.sla.clock.refresh (now = T0) on a sample of seeded tickets in-process and
    compare what it computes from the events and messages with what the seed stored (then
    roll back). Open tickets are oversampled: their clock is the harder part."""
    from helpdesk.core import tenancy
    from helpdesk.extensions import db
    from helpdesk.sla import clock
    from helpdesk.tickets.models import Ticket

    rng = random.Random(seed)
    with psycopg.connect(dsn()) as conn:
        picks = []
        for spec, share in ((specs[0], 0.4), (specs[1], 0.1), (specs[7], 0.1),
                            (specs[-1], 0.4)):
            for status_filter in ("status IN ('new', 'open', 'pending')",
                                  "status IN ('solved', 'closed')"):
                rows = conn.execute(
                    f"SELECT id FROM tickets WHERE org_id = %s AND {status_filter}"
                    " AND id %% 97 = %s LIMIT 2000", (spec.org_id, rng.randrange(97))).fetchall()
                k = min(len(rows), int(n * share / 2))
                picks += [(spec.org_id, r[0]) for r in rng.sample(rows, k)]
    app = common.app_for_cli()
    now = datetime.fromtimestamp(t0, UTC)
    differences: dict[str, int] = {}
    examples: list[str] = []
    with app.app_context():
        for org_id, ticket_id in picks:
            tenancy.set_current_org(org_id)
            ticket = db.session.get(Ticket, ticket_id)
            stored = {c: getattr(ticket, c) for c in SLA_COLUMNS}
            clock.refresh(ticket, now)
            for column in SLA_COLUMNS:
                a, b = stored[column], getattr(ticket, column)
                same = (abs(a - b) < 1e-6 if isinstance(a, float) and isinstance(b, float)
                        else sorted(a) == sorted(b) if isinstance(a, list) else a == b)
                if not same:
                    differences[column] = differences.get(column, 0) + 1
                    if len(examples) < 8:
                        examples.append(f"ticket {ticket_id} ({ticket.status.value}) {column}: "
                                        f"seeded {a!r}, clock {b!r}")
            db.session.rollback()
    return {"checked": len(picks), "differences": differences, "examples": examples}


# ---------------------------------------------------------------------------------------------
# the reports through HTTP
# ---------------------------------------------------------------------------------------------

def windows(t0: int) -> list[tuple[date, date]]:
    today = datetime.fromtimestamp(t0, ZoneInfo("Europe/Berlin")).date()
    return [(today - timedelta(days=end + 89), today - timedelta(days=end))
            for end in WINDOW_ENDS]


def request_plan(spec, t0: int) -> dict[str, list[tuple[str, dict]]]:
    """Per report: (label, parameters) of every measured request: each window plain, by week,
    by month, and with one filter (agent, tag, channel, team); volume also by tag and
    priority."""
    variants = [("plain", {}), ("interval=week", {"interval": "week"}),
                ("interval=month", {"interval": "month"}),
                ("agent", {"agent": spec.agent_ids[2]}), ("tag", {"tag": "shipping"}),
                ("channel", {"channel": "phone"}), ("team", {"team": spec.team_ids[1]})]
    plan = {}
    for report in REPORTS:
        extra = ([("by=tag", {"by": "tag"}), ("by=priority", {"by": "priority"})]
                 if report == "volume" else [])
        requests = []
        for first, last in windows(t0):
            for label, params in variants + extra:
                requests.append((label, {"from": first.isoformat(), "to": last.isoformat(),
                                         **params}))
        plan[report] = requests
    return plan


def report_path(report: str, params: dict) -> str:
    return f"/api/v1/reports/{report}?{urlencode(params)}"


def api_available(port: int, token: str, t0: int) -> tuple[bool, str]:
    from httpclient import Client

    first, last = windows(t0)[0]
    client = Client("127.0.0.1", port, {"Authorization": f"Bearer {token}"})
    response = client.get(report_path("volume", {"from": first.isoformat(),
                                                 "to": last.isoformat()}))
    client.close()
    if response.status != 200:
        return False, f"HTTP {response.status}: {response.text[:200]}"
    try:
        body = json.loads(response.body)
    except ValueError:
        return False, "answers 200 without JSON"
    return (True, "") if body.get("report") == "volume" else (False, response.text[:200])


def run_reports(port: int, token: str, plan, t0: int):
    """Sequential GETs per report after warm-ups (other windows); every answer must be 200
    with the report's name. Returns per-report summaries, per-variant times and answers."""
    from httpclient import Client

    client = Client("127.0.0.1", port, {"Authorization": f"Bearer {token}"})
    rng = random.Random(4)
    stats, per_variant, bodies, failures = {}, {}, {}, []
    today = datetime.fromtimestamp(t0, ZoneInfo("Europe/Berlin")).date()
    for report, requests in plan.items():
        for k in range(N_WARMUP):  # windows that are not measured
            last = today - timedelta(days=600 + 17 * k)
            client.get(report_path(report, {"from": (last - timedelta(days=89)).isoformat(),
                                            "to": last.isoformat()}))
        order = list(requests)
        rng.shuffle(order)
        times = []
        for label, params in order:
            path = report_path(report, params)
            response = client.get(path)
            if response.status != 200:
                failures.append(f"GET {path}: HTTP {response.status} {response.text[:200]}")
                continue
            body = json.loads(response.body)
            if body.get("report") != report:
                failures.append(f"GET {path}: report {body.get('report')!r}")
            times.append(response.seconds)
            per_variant.setdefault(report, {}).setdefault(label, []).append(response.seconds)
            bodies[(report, tuple(sorted(params.items())))] = body
        stats[report] = summary(times) if times else None
        if times:
            s = stats[report]
            log(f"  {report}: {s['n']} requests, p50 {s['p50']:.0f} ms, p95 {s['p95']:.0f} ms, "
                f"max {s['max']:.0f} ms")
    client.close()
    return stats, per_variant, bodies, failures


# ---------------------------------------------------------------------------------------------
# the answers against SQL of the same definitions
# ---------------------------------------------------------------------------------------------

def _range_sql(column: str) -> str:
    zone = "'Europe/Berlin'"
    return (f"{column} >= (%(from)s::date)::timestamp AT TIME ZONE {zone} AND {column} <"
            f" (%(to)s::date + 1)::timestamp AT TIME ZONE {zone}")


KEEP = "NOT t.is_spam AND t.merged_into_id IS NULL"


def sql_figures(org_id: int, params: dict) -> dict[str, float]:
    """The contract's definitions in plain SQL (as the owner, with org_id), for one window."""
    args = {"org": org_id, "from": params["from"], "to": params["to"]}
    conditions = {"channel": "t.channel = %(channel)s", "agent": "t.assignee_id = %(agent)s",
                  "tag": "t.tags @> ARRAY[%(tag)s]::varchar[]", "team": "t.team_id = %(team)s"}
    filters = "".join(f" AND {sql}" for name, sql in conditions.items() if name in params)
    args.update({name: params[name] for name in conditions if name in params})
    base = f"FROM tickets t WHERE t.org_id = %(org)s AND {KEEP}{filters}"
    end = "(%(to)s::date + 1)::timestamp AT TIME ZONE 'Europe/Berlin'"
    queries = {
        "volume created": f"SELECT count(*) {base} AND {_range_sql('t.created_at')}",
        "volume solved": f"SELECT count(*) {base} AND {_range_sql('t.solved_at')}",
        "volume reopened": "SELECT count(*) FROM ticket_events e JOIN tickets t ON t.id ="
                           f" e.ticket_id {base.replace('FROM tickets t ', '')} AND e.org_id ="
                           " %(org)s AND e.kind = 'status' AND e.data->>'old' = 'solved' AND"
                           f" e.data->>'new' = 'open' AND {_range_sql('e.created_at')}",
        "volume backlog at the end": f"SELECT count(*) {base} AND t.created_at < {end} AND"
                                     f" (t.solved_at IS NULL OR t.solved_at >= {end}) AND"
                                     f" (t.closed_at IS NULL OR t.closed_at >= {end})",
        "first reply count": "SELECT count(*) FROM sla_replies r JOIN tickets t ON t.id ="
                             f" r.ticket_id {base.replace('FROM tickets t ', '')} AND r.org_id"
                             f" = %(org)s AND r.kind = 'first' AND"
                             f" {_range_sql('r.replied_at')}",
        "first reply median": "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY"
                              " r.business_minutes) FROM sla_replies r JOIN tickets t ON t.id"
                              f" = r.ticket_id {base.replace('FROM tickets t ', '')} AND"
                              " r.org_id = %(org)s AND r.kind = 'first' AND"
                              f" {_range_sql('r.replied_at')}",
        "resolution count": f"SELECT count(*) {base} AND {_range_sql('t.solved_at')} AND"
                            " t.resolution_minutes IS NOT NULL",
        "resolution median": "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY"
                             f" t.resolution_minutes) {base} AND {_range_sql('t.solved_at')}"
                             " AND t.resolution_minutes IS NOT NULL",
        "sla first reply breached": "SELECT count(*) FROM sla_replies r JOIN tickets t ON"
                                    f" t.id = r.ticket_id {base.replace('FROM tickets t ', '')}"
                                    " AND r.org_id = %(org)s AND r.kind = 'first' AND"
                                    f" r.breached AND {_range_sql('r.replied_at')}",
        "sla resolution achieved": f"SELECT count(*) {base} AND {_range_sql('t.solved_at')}"
                                   " AND t.resolution_breached = false",
    }
    if "agent" in params:  # replies are filtered by the replying agent
        for key in ("first reply count", "first reply median", "sla first reply breached"):
            queries[key] = queries[key].replace("t.assignee_id = %(agent)s",
                                                "r.agent_id = %(agent)s")
    with psycopg.connect(dsn()) as conn:
        return {name: conn.execute(sql, args).fetchone()[0] for name, sql in queries.items()}


def _dig(body, *path):
    for key in path:
        if callable(key):
            body = key(body)
        elif isinstance(body, dict):
            body = body.get(key)
        else:
            return None
        if body is None:
            return None
    return body


def _target(name):
    return lambda rows: next((r for r in rows or [] if r.get("target") == name), None)


def _agent_row(agent_id):
    return lambda rows: next((r for r in rows or [] if r.get("agent_id") == agent_id), None)


def check_answers(org_id: int, plan, bodies, agent_id: int) -> list[tuple[str, str, object,
                                                                           object, bool]]:
    """(request, figure, answer, SQL, agree) for the plain latest window and two filtered
    ones."""
    answer_paths = {
        "volume created": ("volume", "totals", "created"),
        "volume solved": ("volume", "totals", "solved"),
        "volume reopened": ("volume", "totals", "reopened"),
        "volume backlog at the end": ("volume", "totals", "backlog"),
        "first reply count": ("first-response", "first_reply", "count"),
        "first reply median": ("first-response", "first_reply", "median_minutes"),
        "resolution count": ("resolution", "resolution", "count"),
        "resolution median": ("resolution", "resolution", "median_minutes"),
        "sla first reply breached": ("sla", "targets", _target("first_reply"), "breached"),
        "sla resolution achieved": ("sla", "targets", _target("resolution"), "achieved"),
    }
    results = []
    chosen = [plan["volume"][0]]  # plain, latest window
    chosen += [r for r in plan["volume"][:7] if r[0] in ("channel", "agent")]
    for label, params in chosen:
        expected = sql_figures(org_id, params)
        key_params = tuple(sorted(params.items()))
        for figure, (report, *path) in answer_paths.items():
            body = bodies.get((report, key_params))
            answer = _dig(body, *path) if body else None
            want = expected[figure]
            # medians may come rounded to a tenth of a minute
            agree = (answer is not None and want is not None
                     and abs(float(answer) - float(want)) <= 0.05) or (answer is None and
                                                                       want is None)
            results.append((f"{label} {params['from']}..{params['to']}", figure, answer, want,
                            agree))
    label, params = plan["agents"][0]
    body = bodies.get(("agents", tuple(sorted(params.items()))))
    answer = _dig(body, "agents", _agent_row(agent_id), "tickets_solved") if body else None
    with psycopg.connect(dsn()) as conn:
        want = conn.execute(
            f"SELECT count(*) FROM tickets t WHERE t.org_id = %(org)s AND {KEEP} AND"
            f" t.assignee_id = %(agent)s AND {_range_sql('t.solved_at')}",
            {"org": org_id, "agent": agent_id, **params}).fetchone()[0]
    results.append((f"{label} {params['from']}..{params['to']}",
                    f"agents tickets_solved of agent {agent_id}", answer, want,
                    answer is not None and int(answer) == want))
    return results


# ---------------------------------------------------------------------------------------------
# the breach scan
# ---------------------------------------------------------------------------------------------

def scan_moments(scan_org: int, t0: int) -> list[tuple[str, datetime, int]]:
    """(case, the scan's now, tickets of the scan org due then) for each case."""
    cases = []
    with psycopg.connect(dsn()) as conn:
        total = conn.execute("SELECT count(*) FROM tickets WHERE org_id = %s",
                             (scan_org,)).fetchone()[0]
        for name, share in SCAN_CASES:
            if share == 0:
                now = datetime.fromtimestamp(t0, UTC)
            else:
                now = conn.execute(
                    "SELECT sla_check_at FROM tickets WHERE org_id = %s AND sla_check_at IS NOT"
                    " NULL ORDER BY sla_check_at OFFSET %s LIMIT 1",
                    (scan_org, int(total * share) - 1)).fetchone()[0]
            due = conn.execute("SELECT count(*) FROM tickets WHERE org_id = %s AND"
                               " sla_check_at <= %s", (scan_org, now)).fetchone()[0]
            cases.append((name, now, due))
    return cases


def _empty_redis_queues() -> None:
    from redis import Redis
    from rq import Queue

    redis = Redis.from_url(REDIS_URL)
    for name in ("mail", "notify", "default", "search"):
        Queue(name, connection=redis).empty()
    for key in redis.scan_iter("sla:scan-queued:*"):
        redis.delete(key)


def time_enqueue(app, now: datetime, repeat: int = 7) -> tuple[dict, int, str]:
    """helpdesk.sla.jobs.enqueue_due_scans at `now`: its time (the cross-org SELECT and the
    enqueues), the orgs it queued, and the plan of its SELECT (as the owner: system scope)."""
    import time_machine

    from helpdesk.sla import jobs

    times, queued = [], 0
    with app.app_context():
        for _ in range(repeat):
            _empty_redis_queues()
            with time_machine.travel(now, tick=True):
                started = time.perf_counter()
                queued = jobs.enqueue_due_scans()
                times.append(time.perf_counter() - started)
    _empty_redis_queues()
    with psycopg.connect(dsn()) as conn:
        plan = "\n".join(r[0] for r in conn.execute(
            "EXPLAIN (ANALYZE, BUFFERS) SELECT tickets.org_id FROM tickets WHERE"
            " tickets.sla_check_at <= %s GROUP BY tickets.org_id", (now,)).fetchall())
    return summary(times), queued, plan


BACKUP_TABLE = "bench_scan_backup"


def run_scan(app, scan_org: int, now: datetime) -> dict:
    """helpdesk.sla.alerts.scan() for the org at `now` (as the scan job runs it: org set,
    commit at the end), counting statements; then every change is undone."""
    import time_machine

    from helpdesk.core import tenancy
    from helpdesk.extensions import db
    from helpdesk.sla import alerts

    columns = ", ".join(SLA_COLUMNS + ("priority", "status", "updated_at", "last_activity_at"))
    with psycopg.connect(dsn(), autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {BACKUP_TABLE}")
        conn.execute(f"CREATE TABLE {BACKUP_TABLE} AS SELECT id, {columns} FROM tickets"
                     " WHERE org_id = %s AND sla_check_at <= %s", (scan_org, now))
        marks = {table: conn.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()[0]
                 for table in ("ticket_events", "notifications", "outbox")}
    with app.app_context():
        engine = db.engine
        with common.StatementLog(engine) as statements, time_machine.travel(now, tick=True):
            tenancy.set_current_org(scan_org)
            started = time.perf_counter()
            announced = alerts.scan(now)
            db.session.commit()
            seconds = time.perf_counter() - started
        db.session.remove()
    by_kind: dict[str, list[float]] = {}
    for statement, _, took in statements.statements:
        by_kind.setdefault(_statement_kind(statement), []).append(took)
    with psycopg.connect(dsn(), autocommit=True) as conn:
        processed = conn.execute(f"SELECT count(*) FROM {BACKUP_TABLE}").fetchone()[0]
        written = {table: conn.execute(f"SELECT count(*) FROM {table} WHERE id > %s AND"
                                       " org_id = %s", (mark, scan_org)).fetchone()[0]
                   for table, mark in marks.items()}
        left_due = conn.execute("SELECT count(*) FROM tickets WHERE org_id = %s AND"
                                " sla_check_at <= %s", (scan_org, now)).fetchone()[0]
        levels = dict(conn.execute(
            "SELECT data->>'target' || ':' || (data->>'level'), count(*) FROM ticket_events"
            " WHERE id > %s AND org_id = %s AND kind = 'sla' GROUP BY 1",
            (marks["ticket_events"], scan_org)).fetchall())
        # undo: the tickets' clocks, and the events, notifications and mails it wrote
        sets = ", ".join(f"{c} = b.{c}" for c in columns.split(", "))
        conn.execute(f"UPDATE tickets t SET {sets} FROM {BACKUP_TABLE} b WHERE t.id = b.id")
        for table, mark in marks.items():
            conn.execute(f"DELETE FROM {table} WHERE id > %s AND org_id = %s", (mark, scan_org))
        conn.execute(f"DROP TABLE {BACKUP_TABLE}")
    _empty_redis_queues()
    return {"seconds": seconds, "processed": processed, "announced": announced,
            "statements": len(statements.statements),
            "statement time": sum(t for _, _, t in statements.statements),
            "by kind": {k: (len(v), sum(v)) for k, v in sorted(
                by_kind.items(), key=lambda item: -sum(item[1]))},
            "written": written, "left due": left_due, "levels": levels}


def _statement_kind(statement: str) -> str:
    """A short name for a statement: verb and first table."""
    text = " ".join(statement.split())
    verb = text.split(" ", 1)[0].upper()
    table = re.search(r"(?:FROM|INTO|UPDATE)\s+(\w+)", text, re.I)
    if verb == "SELECT" and "set_config" in text:
        return "SELECT set_config (org settings)"
    return f"{verb} {table.group(1) if table else ''}".strip()


def scan_benchmark(specs, t0: int) -> dict:
    app = common.app_for_cli()
    scan_org = specs[-1].org_id
    results = {"cases": []}
    with psycopg.connect(dsn()) as conn:  # a warm-up: imports, the first mail, caches
        warm = conn.execute("SELECT sla_check_at FROM tickets WHERE org_id = %s AND sla_check_at"
                            " IS NOT NULL ORDER BY sla_check_at OFFSET 9 LIMIT 1",
                            (scan_org,)).fetchone()[0]
    warmup = run_scan(app, scan_org, warm)
    log(f"scan warm-up (not counted): {warmup['processed']} tickets in "
        f"{warmup['seconds'] * 1000:,.0f} ms")
    for name, now, due in scan_moments(scan_org, t0):
        log(f"scan case {name}: now = {now:%Y-%m-%d %H:%M:%S} UTC, {due:,} tickets of "
            f"{seed_reports.SCAN} due")
        with psycopg.connect(dsn()) as conn:
            orgs_due = conn.execute(
                "SELECT count(DISTINCT org_id), count(*) FROM tickets WHERE sla_check_at <= %s",
                (now,)).fetchone()
        enqueue, queued, enqueue_plan = time_enqueue(app, now)
        log(f"  enqueue_due_scans: p50 {enqueue['p50']:.1f} ms, max {enqueue['max']:.1f} ms; "
            f"queued {queued} org(s) ({orgs_due[0]} orgs / {orgs_due[1]:,} tickets due)")
        repeat = 5 if due == 0 else 1
        runs = [run_scan(app, scan_org, now) for _ in range(repeat)]
        run = min(runs, key=lambda r: r["seconds"])
        rate = run["processed"] / run["seconds"] if run["seconds"] else 0
        log(f"  scan(): {run['seconds'] * 1000:,.0f} ms, {run['processed']:,} tickets, "
            f"{run['announced']:,} announcements ({rate:,.0f} tickets/s), "
            f"{run['statements']:,} statements ({run['statement time'] * 1000:,.0f} ms in "
            f"PostgreSQL round trips); still due afterwards: {run['left due']}; written "
            f"{run['written']}; {run['levels']}")
        for kind, (count, took) in list(run["by kind"].items())[:12]:
            log(f"    {count:7,} x {kind}: {took * 1000:,.0f} ms")
        results["cases"].append({"name": name, "now": now, "due": due, "orgs_due": orgs_due,
                                 "enqueue": enqueue, "queued": queued,
                                 "enqueue_plan": enqueue_plan, "run": run,
                                 "runs": [r["seconds"] for r in runs]})
    return results


# ---------------------------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------------------------

def code_state() -> str:
    if os.environ.get("BENCH_REPORTS_CODE_DESCRIPTION"):
        return os.environ["BENCH_REPORTS_CODE_DESCRIPTION"]
    head = subprocess.run(["git", "-C", str(REPO), "log", "--oneline", "-1"],
                          capture_output=True, text=True).stdout.strip()
    return f"the live tree (--live; it may have changed during the run): {head}"


def reports_commit() -> str | None:
    """The newest commit that touched the reports, as of the commit measured."""
    measured = re.search(r"(?:commit|HEAD) ([0-9a-f]{7,40})", code_state())
    out = subprocess.run(["git", "-C", str(REPO), "log", "--oneline", "-1",
                          measured.group(1) if measured else "HEAD", "--",
                          "helpdesk/reports", "helpdesk/api/reports.py"],
                         capture_output=True, text=True).stdout.strip()
    return out or None


def wait_for_quiet(limit: float, seconds: float) -> str:
    """Wait (up to `seconds`) until the 1-minute load average is below `limit`: the machine
    is shared. Returns what happened, for the results."""
    started = time.monotonic()
    while os.getloadavg()[0] >= limit and time.monotonic() - started < seconds:
        time.sleep(15)
    load = os.getloadavg()[0]
    waited = time.monotonic() - started
    return (f"waited {waited:.0f} s for a 1-minute load average below {limit} "
            f"({'reached' if load < limit else 'not reached'}: {load:.1f})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-reports", action="store_true")
    parser.add_argument("--skip-scan", action="store_true")
    parser.add_argument("--quiet-load", type=float, default=1.0,
                        help="before each part, wait for a 1-minute load average below this")
    parser.add_argument("--quiet-wait", type=float, default=600,
                        help="... for at most this many seconds")
    common.add_run_arguments(parser, BENCH_DIR / "results-reports.md")
    args = parser.parse_args()
    if not args.live and "BENCH_REPORTS_CODE" not in os.environ:
        return common.run_on_snapshot(Path(__file__).resolve(), args.ref, "BENCH_REPORTS_CODE",
                                      "bench-reports-")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with LOCK_PATH.open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"waiting for another bench/reports.py run to finish ({LOCK_PATH})")
            fcntl.flock(lock, fcntl.LOCK_EX)
        return run_benchmark(args)


def run_benchmark(args) -> int:
    specs = seed_reports.org_specs(args.scale)
    figures: dict[str, str] = {"code": code_state()}
    notes: list[str] = []

    reuse = args.reuse
    if reuse:
        common.ensure_database(DB_URL, fresh=False)
        common.migrate(APP_ENV, cwd=CODE)
        why = seeded_as_expected(specs)
        if why:
            log(f"--reuse: {why}: reseeding")
            reuse = False
        else:  # a migration may have added tables or indexes: visibility map, statistics
            t = time.perf_counter()
            with psycopg.connect(dsn(), autocommit=True) as conn:
                conn.execute("VACUUM (ANALYZE)")
            log(f"--reuse: VACUUM ANALYZE in {time.perf_counter() - t:.1f} s")
    if not reuse:
        common.ensure_database(DB_URL, fresh=True, force=args.force)
        t = time.perf_counter()
        common.migrate(APP_ENV, cwd=CODE)
        log(f"migrated in {time.perf_counter() - t:.1f} s")
        t = time.perf_counter()
        create_orgs_and_staff(specs)
        staff_seconds = time.perf_counter() - t
        log(f"{len(specs)} orgs with their staff (flask org/user create) in {staff_seconds:.1f} s")
        load_ids(specs)
        seed_reports.configure_orgs(dsn(), specs, log)
        log(f"seeding (scale {args.scale}, {args.workers} COPY connections)")
        result = seed_reports.seed(dsn(), specs, workers=min(2, args.workers), log=log)
        t0 = result.counts["t0"]
        problems = {k: v for k, v in seed_reports.verify(dsn()).items() if v}
        if problems:
            raise SystemExit(f"seed problems: {problems}")
        log("checking the stored clock against helpdesk.sla.clock.refresh")
        consistency = clock_consistency(specs, t0)
        log(f"  {consistency}")
        seeded = {"seed": f"{result.seconds:.0f} s", "t0": t0,
                  "phases": {"orgs and staff (flask org/user create)": round(staff_seconds, 1),
                             **{k: round(v, 1) for k, v in result.phases.items()}},
                  "counts": result.counts,
                  "business time": {k: v for k, v in result.checks.items()
                                    if k.startswith("business time")},
                  "copy modes": result.checks.get("COPY modes", {}),
                  "clock": consistency, **dataset_figures(specs)}
        common.save_seed_figures(DB_URL, "bench/reports.py", json.dumps(seeded, default=str))
    else:
        saved = common.saved_seed_figures(DB_URL)
        seeded = json.loads(saved[saved.index("{"):])
        when = saved[:saved.index("{")].rstrip(": ")
        seeded["seed"] = f"reused (--reuse); seeded by {when}: {seeded['seed']}"
        load_ids(specs)
        seed_reports.load_org_details(dsn(), specs)
    t0 = int(seeded["t0"])
    total, tables = sizes()
    log(f"seed: {seeded['seed']}")
    for name, seconds in seeded["phases"].items():
        log(f"  {name}: {seconds:.1f} s")
    log(f"database size: {mb(total)}")
    if args.seed_only:
        return 0

    big = specs[0]
    loads = []
    report_results = scan_results = None
    if not args.skip_reports:
        loads.append(f"reports: {wait_for_quiet(args.quiet_load, args.quiet_wait)}")
        log(loads[-1])
        report_results = measure_reports(big, t0, notes)
        loads[-1] += f", {os.getloadavg()[0]:.1f} after"
    if not args.skip_scan:
        loads.append(f"scan: {wait_for_quiet(args.quiet_load, args.quiet_wait)}")
        log(loads[-1])
        scan_results = scan_benchmark(specs, t0)
        loads[-1] += f", {os.getloadavg()[0]:.1f} after"
    figures["load"] = ("; ".join(loads) + " (2 cores shared with other work: above ~1 other "
                       "processes competed with the benchmark)")
    write_results(args, figures, seeded, (total, tables), report_results, scan_results, notes)
    return 0


def measure_reports(big, t0: int, notes: list[str]) -> dict | None:
    landed = reports_commit()
    log(f"reports commit: {landed or 'none yet'}")
    token = common.create_token(big.slug, seed_reports.manager_email(big.slug), APP_ENV,
                                cwd=CODE)
    plan = request_plan(big, t0)
    server = common.Gunicorn("wsgi:app", "reports", APP_ENV, cwd=CODE)
    try:
        log(f"app: gunicorn -w 1 --threads 64 on 127.0.0.1:{server.port}")
        ok, why = api_available(server.port, token, t0)
        if not ok:
            notes.append(f"GET /api/v1/reports/volume is not available ({why}): no figures")
            log(notes[-1])
            return None
        stats, per_variant, bodies, failures = run_reports(server.port, token, plan, t0)
    finally:
        server.stop()
    for failure in failures[:20]:
        notes.append(failure)
        log(failure)
    log("checking answers against SQL")
    checks = check_answers(big.org_id, plan, bodies, big.agent_ids[2])
    for request, figure, answer, want, agree in checks:
        log(f"  {'ok ' if agree else 'BAD'} {request} {figure}: answer {answer}, SQL {want}")
    log("capturing the statements in-process; EXPLAIN (ANALYZE, BUFFERS) under RLS")
    headers = {"Authorization": f"Bearer {token}"}
    paths = {}
    for report in REPORTS:
        for label, params in plan[report][:7]:
            if label in ("plain", "tag") or (report == "volume" and label == "interval=month"):
                paths[f"{report} {label}"] = report_path(report, params)
    captured = common.capture_sql(common.app_for_cli(), headers, paths)
    in_process, plans = {}, []
    for label, statements in captured.items():
        in_process[label] = (len(statements), sum(s for _, _, s in statements),
                             max((s for _, _, s in statements), default=0.0))
    slow_reports = {r for r, s in stats.items() if s and s["p95"] > GOAL_MS}
    seen = set()
    for label, statements in captured.items():
        report = label.split(" ")[0]
        settings = [s for s, _, _ in statements if s.lstrip().upper().startswith("SET ")]
        heavy = sorted((s for s in statements if s[0].split(None, 1)[0].upper() in
                        ("SELECT", "WITH") and "set_config" not in s[0]), key=lambda s: -s[2])
        for statement, parameters, seconds in heavy[:3 if report in slow_reports else 1]:
            key = (report, statement)
            if key in seen or seconds < 0.005:
                continue
            seen.add(key)
            plan_text = common.explain(dsn(), statement, parameters, big.org_id, big.manager_id,
                                       settings)
            plans.append((label, statement, parameters, plan_text, seconds * 1000))
            log(f"\n--- {label} ({seconds * 1000:.0f} ms in-process) ---\n{statement}\n"
                f"{parameters}\n{plan_text}")
    return {"landed": landed, "stats": stats, "per_variant": per_variant, "checks": checks,
            "in_process": in_process, "plans": plans, "requests": plan}


def write_results(args, figures, seeded, sizes_, report_results, scan_results, notes) -> None:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    total, tables = sizes_
    command = "`.venv/bin/python bench/reports.py" + (" --reuse" if args.reuse else "") + (
        f" --scale {args.scale}" if args.scale != 1 else "") + "`"
    t0 = datetime.fromtimestamp(int(seeded["t0"]), UTC)
    lines = [f"# Reports benchmark, {now}", "",
             f"Machine: {common.machine(DB_URL)}. Command: {command}.", "",
             f"Code: {figures['code']}", "",
             f"- Data (seed's now T0 = {t0:%Y-%m-%d %H:%M} UTC): {seeded.get('rows', '')}",
             f"- {seeded.get('big', '')}",
             f"- {seeded.get('scan', '')}",
             f"- Seed: {seeded['seed']}"]
    lines += [f"  - {name}: {seconds:.1f} s" for name, seconds in seeded["phases"].items()]
    clock = seeded.get("clock", {})
    lines += [f"- COPY (session_replication_role per table): {seeded.get('copy modes')}",
              f"- Business time (BusinessTime vs helpdesk.sla.calendar.Schedule, mismatches on "
              f"random samples): {seeded.get('business time')}",
              f"- Stored clock vs helpdesk.sla.clock.refresh(now=T0) on {clock.get('checked')}"
              f" sampled tickets: differences {clock.get('differences') or 'none'}"]
    lines += [f"  - {example}" for example in clock.get("examples", [])]
    lines.append(f"- Database size: {mb(total)}")
    lines += [f"  - {name}: table {mb(table)}, indexes {mb(index)}"
              for name, table, index in tables]
    lines += [f"- Load: {figures.get('load', '')}", ""]
    if report_results:
        lines += report_section(report_results)
    if scan_results:
        lines += scan_section(scan_results)
    lines += [f"- {note}" for note in notes]
    table = "\n".join(lines)
    log("\n" + table)
    details = []
    if report_results and report_results["plans"]:
        details += ["", "## Plans", ""]
        for label, statement, parameters, plan, ms in report_results["plans"]:
            details += [f"### {label} ({ms:.0f} ms in-process)", "", "```sql", statement.strip(),
                        "```", "", f"Parameters: `{parameters}`", "", "```", plan, "```", ""]
    if scan_results:
        details += ["", "## The scheduler's SELECT (5% case)", "", "```",
                    scan_results["cases"][-1]["enqueue_plan"], "```", ""]
    Path(args.out).write_text(table + "\n" + "\n".join(details))
    log(f"\nwritten to {args.out}")


def report_section(r: dict) -> list[str]:
    lines = ["## GET /api/v1/reports/<name> through gunicorn, org reports-big", "",
             f"Reports code: {r['landed'] or 'not found in git log'}. Per report "
             f"{len(r['requests']['agents'])} requests ({len(r['requests']['volume'])} for "
             f"volume), sequential, after {N_WARMUP} warm-ups on other windows: six 90-day "
             "windows (ending T0's local date and 45, 120, 200, 365, 500 days earlier), each "
             "plain, interval=week, interval=month, agent, tag=shipping, channel=phone, team"
             " (volume also by=tag and by=priority). Manager's token.", "",
             f"| report | n | p50 ms | p95 ms | max ms | goal p95 <= {GOAL_MS} ms |",
             "|---|---|---|---|---|---|"]
    for report, s in r["stats"].items():
        if s:
            lines.append(f"| {report} | {s['n']} | {s['p50']:.0f} | {s['p95']:.0f} | "
                         f"{s['max']:.0f} | {'met' if s['p95'] <= GOAL_MS else 'MISSED'} |")
        else:
            lines.append(f"| {report} | 0 | | | | no answers |")
    variants = sorted({v for per in r["per_variant"].values() for v in per})
    lines += ["", "Median ms per request variant (6 windows each):", "",
              "| report | " + " | ".join(variants) + " |", "|---|" + "---|" * len(variants)]
    for report, per in r["per_variant"].items():
        cells = [f"{statistics.median(per[v]) * 1000:.0f}" if v in per else "" for v in variants]
        lines.append(f"| {report} | " + " | ".join(cells) + " |")
    lines += ["", "### Answers against SQL of the contract's definitions", "",
              "| request | figure | answer | SQL | |", "|---|---|---|---|---|"]
    for request, figure, answer, want, agree in r["checks"]:
        lines.append(f"| {request} | {figure} | {answer} | {want} | {'ok' if agree else 'DIFFERS'}"
                     " |")
    lines += ["", "### In-process (Flask test client), statements per request", "",
              "| request | statements | their time ms | slowest ms |", "|---|---|---|---|"]
    lines += [f"| {label} | {n} | {t * 1000:.0f} | {slowest * 1000:.0f} |"
              for label, (n, t, slowest) in r["in_process"].items()]
    if r["plans"]:
        lines += ["", "Slowest statements, EXPLAIN (ANALYZE, BUFFERS) as helpdesk_app under RLS"
                  " with the request's own SET LOCAL settings (full plans at the end):", "",
                  "| request | in-process ms | plan |", "|---|---|---|"]
        lines += [f"| {label} | {ms:.0f} | {common.plan_nodes(plan)} |"
                  for label, _, _, plan, ms in r["plans"]]
    lines.append("")
    return lines


def scan_section(s: dict) -> list[str]:
    lines = ["## The SLA breach scan, org reports-scan (100,000 open tickets)", "",
             "The clock moved to each case's now with time-machine (tick=True) in this process;"
             " the scan runs in an app context with the org set and commits at the end, as the"
             " `scan_org` job does; SMTP is not involved (announcements queue outbox rows and RQ"
             " jobs, removed afterwards with every other change of the scan).", "",
             "| case | tickets due (scan org) | orgs / tickets due (all) | enqueue_due_scans "
             "p50 / max ms | orgs queued | scan() ms | of which SQL round trips ms | tickets/s |"
             " announcements | statements (per ticket) |", "|---" * 10 + "|"]
    for case in s["cases"]:
        run, e = case["run"], case["enqueue"]
        rate = run["processed"] / run["seconds"] if run["seconds"] else 0
        per = run["statements"] / run["processed"] if run["processed"] else 0
        lines.append(
            f"| {case['name']} | {case['due']:,} | {case['orgs_due'][0]} / "
            f"{case['orgs_due'][1]:,} | {e['p50']:.1f} / {e['max']:.1f} | {case['queued']} | "
            f"{run['seconds'] * 1000:,.0f} | {run['statement time'] * 1000:,.0f} | {rate:,.0f} | "
            f"{run['announced']:,} | "
            f"{run['statements']:,} ({per:.1f}) |")
    lines.append("")
    for case in s["cases"]:
        run = case["run"]
        runs = ", ".join(f"{x * 1000:,.0f}" for x in case["runs"])
        lines += [f"- {case['name']}: scan runs {runs} ms; written {run['written']}; "
                  f"announcements by threshold {run['levels']};"
                  f" still due afterwards {run['left due']}; statements by kind (count, ms): "
                  + "; ".join(f"{k} {n:,} / {t * 1000:,.0f}" for k, (n, t) in
                              list(run["by kind"].items())[:10])]
    lines.append("")
    return lines


if __name__ == "__main__":
    sys.exit(main())
