"""SLA: targets achieved and breached (overall and per policy), the newest breaches, and the open
tickets already past a due time. Four statements.

First and next replies are counted from sla_replies (each reply's target, decided when it was
sent; the agent filter means the agent who replied); resolution from the tickets solved in the
range (Ticket.resolution_breached). Replies and tickets without a target are left out.
"""

from __future__ import annotations

from typing import Any

from flask import url_for
from sqlalchemy import select

from helpdesk.extensions import db
from helpdesk.reports.params import ReportParams
from helpdesk.reports.sql import bind, in_range, rate, reply_filters, rows, ticket_filters
from helpdesk.sla.models import TARGETS, SlaPolicy

MAX_BREACHES = 200

# GROUPING(policy_id) = 1 marks the row of all policies together.
OUTCOMES = f"""
SELECT CASE r.kind WHEN 'first' THEN 'first_reply' ELSE 'next_reply' END AS target,
       r.policy_id, GROUPING(r.policy_id) AS all_policies,
       count(*) FILTER (WHERE NOT r.breached) AS achieved,
       count(*) FILTER (WHERE r.breached) AS breached
FROM report_replies r
WHERE {{reply_filters}} AND r.kind IN ('first', 'next') AND r.breached IS NOT NULL
  AND {in_range("r.replied_at")}
GROUP BY GROUPING SETS ((r.kind), (r.kind, r.policy_id))
UNION ALL
SELECT 'resolution', t.sla_policy_id, GROUPING(t.sla_policy_id),
       count(*) FILTER (WHERE NOT t.resolution_breached),
       count(*) FILTER (WHERE t.resolution_breached)
FROM tickets t
WHERE {{ticket_filters}} AND {in_range("t.solved_at")} AND t.resolution_breached IS NOT NULL
GROUP BY GROUPING SETS ((), (t.sla_policy_id))
"""

# ix_ticket_events_sla_breaches: the breach events by time.
BREACHES = f"""
SELECT e.created_at, e.data->>'target' AS target, e.data->>'due' AS due, t.number, t.subject
FROM ticket_events e
JOIN tickets t ON t.org_id = e.org_id AND t.id = e.ticket_id
WHERE e.org_id = :org_id AND e.kind = 'sla' AND e.data->>'level' = 'breach'
  AND {in_range("e.created_at")} AND {{filters}}
ORDER BY e.created_at DESC, e.id DESC
LIMIT {MAX_BREACHES}
"""

# Not solved or closed (new, open, pending), past a due time now: an index-only count over
# ix_tickets_unsolved, which carries the due time and every filter's column.
OPEN_BREACHED = """
SELECT count(*) AS count FROM tickets t
WHERE {filters} AND t.solved_at IS NULL AND t.closed_at IS NULL AND t.sla_due_at < :now
"""


def _counts(found: list, target: str, policy_id: int | None = None, *,
            all_policies: bool = True) -> dict[str, Any]:
    row = next((row for row in found if row.target == target
                and bool(row.all_policies) == all_policies
                and (all_policies or row.policy_id == policy_id)), None)
    achieved, breached = (row.achieved, row.breached) if row else (0, 0)
    return {"target": target, "achieved": achieved, "breached": breached,
            "achieved_rate": rate(achieved, breached)}


def sla(params: ReportParams, org_id: int) -> dict[str, Any]:
    values = bind(params, org_id)
    filters = ticket_filters(params)
    found = rows(OUTCOMES.format(
        reply_filters=reply_filters(params),
        ticket_filters=filters), values)
    names = {pid: name for pid, name in db.session.execute(select(SlaPolicy.id, SlaPolicy.name))}
    policy_ids = sorted({row.policy_id for row in found if not row.all_policies},
                        key=lambda pid: (pid is None, names.get(pid, ""), pid or 0))
    policies = [{"policy_id": pid, "name": names.get(pid) or _unnamed(pid),
                 "targets": [_counts(found, target, pid, all_policies=False)
                             for target in TARGETS]}
                for pid in policy_ids]
    breaches = [{"ticket_number": row.number, "subject": row.subject, "target": row.target,
                 "due": row.due, "at": row.created_at.isoformat(),
                 "url": url_for("tickets.detail", number=row.number)}
                for row in rows(BREACHES.format(filters=filters), values)]
    open_breached = rows(OPEN_BREACHED.format(filters=filters), values)[0].count
    return {"targets": [_counts(found, target) for target in TARGETS], "policies": policies,
            "breaches": breaches, "open_breached": open_breached}


def _unnamed(policy_id: int | None) -> str:
    return "No policy" if policy_id is None else "Deleted policy"
