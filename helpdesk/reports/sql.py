"""SQL the reports share: the range and its buckets in the org's time zone, the ticket filters,
and the speed statistics (count, median, p90, histogram). Everything aggregates in PostgreSQL.

The fragments are fixed text; every value travels as a bound parameter. Each query names the
org itself (besides row-level security) so that the `(org_id, ...)` indexes lead.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text

from helpdesk.core.models import utcnow
from helpdesk.extensions import db
from helpdesk.reports.params import ReportParams, local_midnight

STEPS = {"day": "1 day", "week": "1 week", "month": "1 month"}
# Business minutes; the last bucket is open-ended.
HISTOGRAM = (("< 1 h", 0, 60), ("1-4 h", 60, 240), ("4-8 h", 240, 480),
             ("8-24 h", 480, 1440), ("1-3 days", 1440, 4320), ("> 3 days", 4320, None))

# `buckets`: every bucket, empty ones included, numbered from 1 with its local start
# (`date_trunc` to a week gives its Monday). `edges`: the UTC instants between them, the first
# and last being the range's own bounds, so that `width_bucket` numbers a moment in one binary
# search (sorting and grouping by that integer costs less than by a zoned timestamp). The range
# itself also comes as UTC instants (:range_start, :range_end): constants the planner can
# estimate an index range with.
RANGE = """
buckets AS (
    SELECT CAST(row_number() OVER (ORDER BY start) AS integer) AS bucket, start
    FROM generate_series(date_trunc(:unit, CAST(:first_day AS timestamp)),
                         CAST(:last_day AS timestamp), CAST(:step AS interval)) AS start
),
edges AS (
    SELECT array_agg(GREATEST(start AT TIME ZONE :tz, :range_start) ORDER BY start)
           || CAST(:range_end AS timestamptz) AS edges
    FROM buckets
)"""
WHOLE_RANGE = 0  # the bucket number of a row that sums up the whole range


def bucket_of(column: str) -> str:
    """The number of the bucket a moment in the range falls in."""
    return f"width_bucket({column}, (SELECT edges FROM edges))"


def in_range(column: str) -> str:
    return f"{column} >= :range_start AND {column} < :range_end"


def ticket_filters(params: ReportParams) -> str:
    """WHERE conditions on the ticket `t`: the org, spam and merged tickets left out, and the
    filters given (the agent filter means the assignee)."""
    conditions = ["t.org_id = :org_id", "NOT t.is_spam", "t.merged_into_id IS NULL"]
    if params.team_id is not None:
        conditions.append("t.team_id = :team_id")
    if params.agent == "none":
        conditions.append("t.assignee_id IS NULL")
    elif params.agent is not None:
        conditions.append("t.assignee_id = :agent_id")
    if params.tag is not None:
        # A filter on rows found by time: under row-level security `@>` (not LEAKPROOF) cannot
        # use the GIN index, and the range is the narrower condition anyway.
        conditions.append("t.tags @> ARRAY[CAST(:tag AS varchar)]")
    if params.channel is not None:
        conditions.append("t.channel = :channel")
    return " AND ".join(conditions)


def reply_filters(params: ReportParams, *, by_agent: bool = True) -> str:
    """WHERE conditions on the reply `r` (report_replies, helpdesk.reports.models): the org, the
    replying agent (when `by_agent`), and its ticket's filters, carried on the row itself. Without
    a tag filter the reply's own row (tag ''), with one that tag's row: one row per reply."""
    conditions = ["r.org_id = :org_id", "r.counted",
                  "r.tag = :tag" if params.tag is not None else "r.tag = ''"]
    if by_agent and params.agent == "none":
        conditions.append("r.agent_id IS NULL")
    elif by_agent and params.agent is not None:
        conditions.append("r.agent_id = :agent_id")
    if params.team_id is not None:
        conditions.append("r.team_id = :team_id")
    if params.channel is not None:
        conditions.append("r.channel = :channel")
    return " AND ".join(conditions)


def event_filters(params: ReportParams) -> str:
    """WHERE conditions on the timeline event `e`: the org and its ticket's filters."""
    return f"e.org_id = :org_id AND {_of_ticket('e', params)}"


def _of_ticket(alias: str, params: ReportParams) -> str:
    """The event's ticket is counted, and matches the filters. Without filters it is only
    checked against the few tickets left out (spam, merged; ix_tickets_left_out): a join to
    every ticket of the range would cost more than the rows themselves."""
    if (params.team_id, params.agent, params.tag, params.channel) == (None, None, None, None):
        return (f"NOT EXISTS (SELECT 1 FROM tickets x WHERE x.org_id = {alias}.org_id "
                f"AND x.id = {alias}.ticket_id AND (x.is_spam OR x.merged_into_id IS NOT NULL))")
    # Replies and events come after their ticket was created: later tickets are not read.
    return (f"EXISTS (SELECT 1 FROM tickets t WHERE t.org_id = {alias}.org_id "
            f"AND t.id = {alias}.ticket_id AND t.created_at < :range_end "
            f"AND {ticket_filters(params)})")


def bind(params: ReportParams, org_id: int) -> dict[str, Any]:
    """The bound values every report query takes."""
    zone = ZoneInfo(params.timezone)
    start = local_midnight(params.first_day, zone)
    end = local_midnight(params.last_day + timedelta(days=1), zone)
    return {
        "org_id": org_id, "tz": params.timezone, "unit": params.interval,
        "step": STEPS[params.interval], "first_day": local_midnight(params.first_day),
        "last_day": local_midnight(params.last_day),
        "range_start": start, "range_end": end,
        "team_id": params.team_id, "agent_id": params.agent if params.agent != "none" else None,
        "tag": params.tag, "channel": params.channel, "now": utcnow(),
    }


def plan_for_reports() -> None:
    """Settings for the rest of this transaction. No JIT: a report's statements aggregate some
    100,000 rows in a few hundred milliseconds, and PostgreSQL's JIT, set off by their cost
    estimates, spent longer than that compiling them (1.5 s seen at 1M tickets). More sort
    memory: medians sort each bucket's values, which spilled to disk at 4 MB. Custom plans:
    the range's bounds decide which index pays (psycopg prepares a statement run five times,
    and a generic plan would not know them)."""
    db.session.execute(text("SET LOCAL jit = off"))
    db.session.execute(text("SET LOCAL work_mem = '32MB'"))
    db.session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))


def rows(sql: str, values: dict[str, Any]) -> list:
    return list(db.session.execute(text(sql), values))


def speed_columns(column: str) -> str:
    """count, median, p90 and the histogram counts (h0...h5) of business minutes."""
    parts = ["count(*) AS count",
             f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {column}) AS median",
             f"percentile_cont(0.9) WITHIN GROUP (ORDER BY {column}) AS p90"]
    for index, (_, low, high) in enumerate(HISTOGRAM):
        upper = f" AND {column} < {high}" if high is not None else ""
        parts.append(f"count(*) FILTER (WHERE {column} >= {low}{upper}) AS h{index}")
    return ", ".join(parts)


def speed_fields(alias: str) -> str:
    """The columns of `speed_columns` read from the relation `alias`."""
    names = ["count", "median", "p90", *(f"h{index}" for index in range(len(HISTOGRAM)))]
    return ", ".join(f"{alias}.{name}" for name in names)


def minutes(value: float | None) -> float | None:
    return None if value is None else round(float(value), 1)


def speed(row) -> dict[str, Any]:
    """{count, median_minutes, p90_minutes, histogram} of a row of `speed_columns`."""
    count = (row.count or 0) if row is not None else 0
    return {
        "count": count,
        "median_minutes": minutes(row.median) if count else None,
        "p90_minutes": minutes(row.p90) if count else None,
        "histogram": [{"label": label, "count": getattr(row, f"h{index}") if count else 0}
                      for index, (label, _, _) in enumerate(HISTOGRAM)],
    }


def rate(achieved: int, breached: int) -> float | None:
    """The share of targets met, 0..1 (None when no target applied)."""
    total = achieved + breached
    return round(achieved / total, 4) if total else None
