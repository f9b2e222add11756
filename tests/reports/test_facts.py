"""report_replies (helpdesk.reports.models) is kept by triggers: it always equals its definition
from sla_replies and the tickets' current filter columns, and the reports follow a ticket's
changes made after its replies."""

from sqlalchemy import text

from tests.reports.test_volume import WEEK

DEFINITION = """
SELECT r.id, tag.tag, r.ticket_id, r.replied_at, r.kind, r.business_minutes, r.breached,
       r.policy_id, r.agent_id, t.team_id, t.channel,
       NOT t.is_spam AND t.merged_into_id IS NULL AS counted
FROM sla_replies r JOIN tickets t ON t.org_id = r.org_id AND t.id = r.ticket_id
CROSS JOIN LATERAL (SELECT DISTINCT x AS tag
                    FROM unnest(array_prepend(CAST('' AS varchar), t.tags)) AS x) AS tag
"""
STORED = """
SELECT reply_id, tag, ticket_id, replied_at, kind, business_minutes, breached, policy_id,
       agent_id, team_id, channel, counted
FROM report_replies
"""


def facts_match(desk) -> int:
    with desk.at("2026-11-20T10:00") as session:
        expected = sorted(session.execute(text(DEFINITION)).all())
        stored = sorted(session.execute(text(STORED)).all())
    assert stored == expected
    return len(stored)


def test_reply_facts_follow_the_tickets(history, read):
    desk = history.desk
    # T1 (billing, vip) gives each of its two replies three rows; T3 (spam) is not counted.
    assert facts_match(desk) > 0
    # Billing by tag in the week: T0's first reply (T3's, on a spam ticket, is left out).
    assert read(history, "first-response", tag="billing", **WEEK)["first_reply"]["count"] == 2
    # Changed after the replies: T8 loses its tag and moves to Support; T2 becomes spam;
    # T3 is no longer spam; T0 gets a new tag.
    desk.update("T8", "2026-11-10T09:00", history.ben.id, tags=[], team_id=history.support)
    desk.update("T2", "2026-11-10T09:01", history.ben.id, is_spam=True)
    desk.update("T3", "2026-11-10T09:02", history.ben.id, is_spam=False)
    desk.update("T0", "2026-11-10T09:03", history.ada.id, tags=["billing", "refund"])
    facts_match(desk)
    first = read(history, "first-response", **WEEK)["first_reply"]
    # T1 30, T0 420, T8 1560, T9 4320 and T3's 60 (13:00, within business hours from 12:00);
    # T2's 150 is gone with the spam.
    assert first["count"] == 5
    assert read(history, "first-response", tag="vip", **WEEK)["first_reply"]["count"] == 1
    assert read(history, "first-response", tag="refund", **WEEK)["first_reply"]["count"] == 1
    assert read(history, "first-response", team=history.support,
                **WEEK)["first_reply"]["count"] == 5
