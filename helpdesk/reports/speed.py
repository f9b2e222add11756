"""How fast: first and next replies (from sla_replies, the wait each agent reply ended) and
resolutions (tickets solved in the range), in business minutes of the org's default calendar.
One statement each: GROUPING SETS give the range's figures and each bucket's in one pass, and
every bucket is listed, empty ones included.
"""

from __future__ import annotations

from typing import Any

from helpdesk.reports.params import ReportParams
from helpdesk.reports.sql import (
    RANGE,
    WHOLE_RANGE,
    bind,
    bucket_of,
    in_range,
    minutes,
    reply_filters,
    rows,
    speed,
    speed_columns,
    speed_fields,
    ticket_filters,
)

# One row per (kind, bucket) and one per kind for the whole range (GROUPING SETS give it a
# NULL bucket, numbered WHOLE_RANGE so that it joins and sorts first).
REPLIES = f"""
WITH {RANGE},
replies AS (
    -- `next` as a boolean: sorting and grouping by it costs less than by the text
    SELECT r.kind = 'next' AS next, r.business_minutes AS minutes,
           {bucket_of("r.replied_at")} AS bucket
    FROM report_replies r
    WHERE {{filters}} AND r.kind IN ('first', 'next') AND {in_range("r.replied_at")}
),
stats AS (
    SELECT next, COALESCE(bucket, {WHOLE_RANGE}) AS bucket, {speed_columns("minutes")}
    FROM replies GROUP BY GROUPING SETS ((next), (next, bucket))
)
SELECT CASE WHEN k.next THEN 'next' ELSE 'first' END AS kind, b.start, {speed_fields("s")}
FROM (VALUES (false), (true)) AS k(next)
CROSS JOIN (SELECT bucket, start FROM buckets UNION ALL SELECT {WHOLE_RANGE}, NULL) AS b
LEFT JOIN stats s ON s.next = k.next AND s.bucket = b.bucket
ORDER BY k.next, b.bucket
"""

RESOLUTIONS = f"""
WITH {RANGE},
solved AS (
    SELECT t.resolution_minutes AS minutes, {bucket_of("t.solved_at")} AS bucket
    FROM tickets t
    WHERE {{filters}} AND {in_range("t.solved_at")} AND t.resolution_minutes IS NOT NULL
),
stats AS (
    SELECT COALESCE(bucket, {WHOLE_RANGE}) AS bucket, {speed_columns("minutes")}
    FROM solved GROUP BY GROUPING SETS ((), (bucket))
)
SELECT b.start, {speed_fields("s")}
FROM (SELECT bucket, start FROM buckets UNION ALL SELECT {WHOLE_RANGE}, NULL) AS b
LEFT JOIN stats s ON s.bucket = b.bucket
ORDER BY b.bucket
"""


def _period(row) -> str:
    return row.start.date().isoformat()


def first_response(params: ReportParams, org_id: int) -> dict[str, Any]:
    """First replies (waiting since the ticket was opened) and next replies (waiting since the
    customer wrote again); the agent filter means the agent who replied."""
    found = rows(REPLIES.format(filters=reply_filters(params)),
                 bind(params, org_id))
    by_kind = {kind: [row for row in found if row.kind == kind] for kind in ("first", "next")}
    series = [
        {"period": _period(first), "first_reply_count": first.count or 0,
         "first_reply_median_minutes": minutes(first.median),
         "next_reply_count": following.count or 0,
         "next_reply_median_minutes": minutes(following.median)}
        for first, following in zip(by_kind["first"][1:], by_kind["next"][1:], strict=True)
    ]
    return {"first_reply": speed(by_kind["first"][0]), "next_reply": speed(by_kind["next"][0]),
            "series": series}


def resolution(params: ReportParams, org_id: int) -> dict[str, Any]:
    """Tickets solved in the range: business minutes from opened to solved, pending and earlier
    solved spans left out (Ticket.resolution_minutes)."""
    found = rows(RESOLUTIONS.format(filters=ticket_filters(params)), bind(params, org_id))
    series = [{"period": _period(row), "count": row.count or 0,
               "median_minutes": minutes(row.median)} for row in found[1:]]
    return {"resolution": speed(found[0]), "series": series}
