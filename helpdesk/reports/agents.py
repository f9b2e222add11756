"""Agents: one row per member of the org, by name, in one statement.

Solved tickets and resolution times count the assignee's tickets solved in the range; replies
and first-reply times the agent's own replies (sla_replies) in the range; the open load is what
is assigned to them now. The team, tag and channel filters apply to the tickets throughout; the
agent filter keeps that member's row ("none": no member's).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from helpdesk.reports.params import ReportParams
from helpdesk.reports.sql import bind, in_range, minutes, reply_filters, rows, ticket_filters

AGENTS = f"""
WITH solved AS (
    SELECT t.assignee_id AS user_id, count(*) AS tickets_solved,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY t.resolution_minutes) AS resolution
    FROM tickets t
    WHERE {{filters}} AND t.assignee_id IS NOT NULL AND {in_range("t.solved_at")}
    GROUP BY t.assignee_id
),
replies AS (
    SELECT r.agent_id AS user_id, count(*) AS replies,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY r.business_minutes)
               FILTER (WHERE r.kind = 'first') AS first_reply
    FROM report_replies r
    WHERE {{reply_filters}} AND r.agent_id IS NOT NULL AND {in_range("r.replied_at")}
    GROUP BY r.agent_id
),
load AS (
    SELECT t.assignee_id AS user_id, count(*) AS open_load
    FROM tickets t
    WHERE {{filters}} AND t.assignee_id IS NOT NULL
      AND t.solved_at IS NULL AND t.closed_at IS NULL  -- ix_tickets_unsolved, index-only
    GROUP BY t.assignee_id
)
SELECT u.id AS user_id, COALESCE(NULLIF(u.name, ''), u.email) AS name,
       COALESCE(s.tickets_solved, 0) AS tickets_solved, COALESCE(r.replies, 0) AS replies,
       r.first_reply, s.resolution, COALESCE(l.open_load, 0) AS open_load
FROM memberships m
JOIN users u ON u.id = m.user_id
LEFT JOIN solved s ON s.user_id = m.user_id
LEFT JOIN replies r ON r.user_id = m.user_id
LEFT JOIN load l ON l.user_id = m.user_id
WHERE m.org_id = :org_id {{member}}
ORDER BY lower(COALESCE(NULLIF(u.name, ''), u.email)), u.id
"""
MEMBER = {None: "", "none": "AND false"}


def agents(params: ReportParams, org_id: int) -> dict[str, Any]:
    # The member filter picks the row; the ticket filters must not also demand that assignee.
    member = MEMBER.get(params.agent, "AND m.user_id = :agent_id")
    found = rows(AGENTS.format(filters=ticket_filters(replace(params, agent=None)),
                               reply_filters=reply_filters(params, by_agent=False),
                               member=member),
                 bind(params, org_id))
    return {"agents": [
        {"agent_id": row.user_id, "name": row.name, "tickets_solved": row.tickets_solved,
         "replies": row.replies, "first_reply_median_minutes": minutes(row.first_reply),
         "resolution_median_minutes": minutes(row.resolution), "open_load": row.open_load}
        for row in found]}
