"""Ticket volume: created, solved and reopened per bucket, the backlog at each bucket's end, and
a breakdown by channel, tag or priority. One statement.

The backlog at a moment E counts the tickets created before E and neither solved nor closed
before E, by their current state (a ticket reopened since counts by its solved_at now). No query
per bucket: backlog(E) = the backlog at the range start + the tickets created since - the
tickets done since, "done" being the earlier of solved_at and closed_at. The backlog at the
start is counted in three parts: the tickets still unsolved now (an index-only count over
ix_tickets_unsolved, which covers every filter), those solved in the range (read anyway) and
those solved after it (only counted: for a past range that is every later solve, the one part
of this report that grows with the history after the range). That relies on the
workflow's rule that a solved or closed ticket has a solved_at, set before closed_at
(helpdesk.tickets.workflow; merged tickets, closed without one, are left out anyway).

So one pass over the tickets created or solved in the range (ix_tickets_created and
ix_tickets_solved) gives, with GROUPING SETS, the created, solved and done counts of every
bucket, the backlog carried into the range and the breakdown.
"""

from __future__ import annotations

from typing import Any

from helpdesk.reports.params import ReportParams
from helpdesk.reports.sql import (
    RANGE,
    bind,
    bucket_of,
    event_filters,
    in_range,
    rows,
    ticket_filters,
)

# GROUPING(cb, sb, db, value): 1 bits mark the columns a row is not grouped by.
BY_CREATED, BY_SOLVED, BY_DONE, BY_VALUE, WHOLE = 0b0111, 0b1011, 0b1101, 0b1110, 0b1111

VOLUME = f"""
WITH {RANGE},
moving AS (
    SELECT t.created_at, LEAST(t.solved_at, t.closed_at) AS done_at, {{value}} AS value,
           CASE WHEN t.created_at >= :range_start THEN {bucket_of("t.created_at")} END AS cb,
           CASE WHEN {in_range("t.solved_at")} THEN {bucket_of("t.solved_at")} END AS sb,
           CASE WHEN {in_range("LEAST(t.solved_at, t.closed_at)")}
                THEN {bucket_of("LEAST(t.solved_at, t.closed_at)")} END AS db
    FROM tickets t
    WHERE {{filters}} AND t.created_at < :range_end
      AND (t.created_at >= :range_start OR {in_range("t.solved_at")})
),
sets AS MATERIALIZED (
    SELECT GROUPING(cb, sb, db, value) AS grouping, cb, sb, db, value, count(*) AS n,
           count(*) FILTER (WHERE cb IS NOT NULL) AS created,
           count(*) FILTER (WHERE sb IS NOT NULL) AS solved,
           count(*) FILTER (WHERE created_at < :range_start AND done_at >= :range_start)
               AS carried
    FROM moving
    GROUP BY GROUPING SETS ((cb), (sb), (db), (value), ())
),
opening AS (
    SELECT (SELECT count(*) FROM tickets t
            WHERE {{filters}} AND t.solved_at IS NULL AND t.closed_at IS NULL
              AND t.created_at < :range_start)
         + COALESCE((SELECT carried FROM sets WHERE grouping = {WHOLE}), 0)
         + (SELECT count(*) FROM tickets t
            WHERE {{filters}} AND t.solved_at >= :range_end AND t.created_at < :range_start
              AND (t.closed_at IS NULL OR t.closed_at >= :range_start)) AS backlog
),
reopened AS (
    SELECT {bucket_of("e.created_at")} AS bucket, count(*) AS reopened
    FROM ticket_events e
    WHERE {{event_filters}} AND e.kind = 'status' AND e.data->>'old' = 'solved'
      AND e.data->>'new' = 'open' AND {in_range("e.created_at")}
    GROUP BY bucket
)
SELECT 'bucket' AS kind, CAST(b.start AS date) AS period, NULL AS value,
       COALESCE(c.n, 0) AS created, COALESCE(s.n, 0) AS solved,
       COALESCE(r.reopened, 0) AS reopened,
       opening.backlog + sum(COALESCE(c.n, 0) - COALESCE(d.n, 0)) OVER (ORDER BY b.bucket)
           AS backlog
FROM buckets b
CROSS JOIN opening
LEFT JOIN sets c ON c.grouping = {BY_CREATED} AND c.cb = b.bucket
LEFT JOIN sets s ON s.grouping = {BY_SOLVED} AND s.sb = b.bucket
LEFT JOIN sets d ON d.grouping = {BY_DONE} AND d.db = b.bucket
LEFT JOIN reopened r ON r.bucket = b.bucket
UNION ALL
{{breakdown}}
ORDER BY kind, period
"""
VALUE_ROWS = f"""
SELECT 'value', NULL, CAST(value AS text), created, solved, NULL, NULL
FROM sets WHERE grouping = {BY_VALUE} AND (created > 0 OR solved > 0)"""
# Grouped by the whole tag list, then split: a ticket with two tags counts for each, one without
# tags under null.
TAG_ROWS = f"""
SELECT 'value', NULL, CAST(tag AS text), sum(created), sum(solved), NULL, NULL
FROM sets LEFT JOIN LATERAL unnest(value) AS tag ON true
WHERE grouping = {BY_VALUE} AND (created > 0 OR solved > 0)
GROUP BY tag"""
BREAKDOWNS = {"channel": ("t.channel", VALUE_ROWS), "priority": ("t.priority", VALUE_ROWS),
              "tag": ("t.tags", TAG_ROWS)}

def volume(params: ReportParams, org_id: int) -> dict[str, Any]:
    by = params.by or "channel"
    value, breakdown_sql = BREAKDOWNS[by]
    found = rows(VOLUME.format(filters=ticket_filters(params), value=value,
                               event_filters=event_filters(params), breakdown=breakdown_sql),
                 bind(params, org_id))
    series = [{"period": row.period.isoformat(), "created": int(row.created),
               "solved": int(row.solved), "reopened": int(row.reopened),
               "backlog": int(row.backlog)} for row in found if row.kind == "bucket"]
    breakdown = sorted(
        ({"value": row.value, "created": int(row.created), "solved": int(row.solved)}
         for row in found if row.kind == "value"),
        key=lambda r: (-r["created"], -r["solved"], r["value"] is None, r["value"] or ""))
    totals = {key: sum(bucket[key] for bucket in series)
              for key in ("created", "solved", "reopened")}
    totals["backlog"] = series[-1]["backlog"] if series else 0
    return {"series": series, "totals": totals, "breakdown": {"by": by, "rows": breakdown}}
