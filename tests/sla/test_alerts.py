"""The breach scan: warnings and breaches announced once each, to the right people, per org.

Defaults as in test_clock: Normal = 8 business hours to the first reply (warning at 80%),
office hours Mon-Fri 09:00-17:00 UTC; 2026-11-16 is a Monday.
"""

from datetime import UTC, datetime

import time_machine
from sqlalchemy import func, select

from helpdesk.extensions import db
from helpdesk.sla.models import SlaPolicy
from helpdesk.tickets.models import Notification, Priority, Ticket, TicketEvent
from tests.sla.helpers import get, open_ticket, utc


def scan(moment):
    from helpdesk.sla.alerts import scan as run_scan

    with time_machine.travel(moment, tick=False):
        return run_scan()


def sla_events(ticket_id):
    return [(e.data["target"], e.data["level"]) for e in db.session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket_id, TicketEvent.kind == "sla")
        .order_by(TicketEvent.id))]


def notified(user_id):
    return list(db.session.scalars(select(Notification.kind).where(
        Notification.user_id == user_id).order_by(Notification.id)))


def test_warning_then_breach_once_each_to_the_assignee(pro, make_member, at):
    from helpdesk.mail.models import Outbox

    agent = make_member(pro, "agent")
    with at(utc(2026, 11, 16, 10), pro):
        ticket = open_ticket(pro.id)
        ticket.assignee_id = agent.id
        number = ticket.number
    with at(utc(2026, 11, 16, 16, 0), pro):
        assert scan(utc(2026, 11, 16, 16, 0)) == 0  # the warning falls at 16:24
    with at(utc(2026, 11, 16, 16, 30), pro):
        assert scan(utc(2026, 11, 16, 16, 30)) == 1
        ticket = get(number)
        assert sla_events(ticket.id) == [("first_reply", "warning")]
        assert notified(agent.id) == ["sla_warning"]
        assert ticket.sla_check_at == utc(2026, 11, 17, 10)  # next: the breach
        mails = db.session.scalar(select(func.count(Outbox.id)).where(
            Outbox.recipient == agent.email))
        assert mails == 1
    with at(utc(2026, 11, 16, 16, 45), pro):
        assert scan(utc(2026, 11, 16, 16, 45)) == 0  # announced once
    with at(utc(2026, 11, 17, 10, 5), pro):
        assert scan(utc(2026, 11, 17, 10, 5)) == 1
        ticket = get(number)
        assert sla_events(ticket.id) == [("first_reply", "warning"), ("first_reply", "breach")]
        assert notified(agent.id) == ["sla_warning", "sla_breach"]
        # Next: the resolution warning at 80% of 48 h = 38 h 24 min from Mon 10:00: Mon 7 h,
        # Tue-Thu 24 h (31 h), Fri 09:00 + 7 h 24 min = Fri 16:24.
        assert ticket.sla_check_at == utc(2026, 11, 20, 16, 24)


def test_unassigned_tickets_alert_the_managers(pro, make_member, at):
    manager = make_member(pro, "manager")
    agent = make_member(pro, "agent")
    with at(utc(2026, 11, 16, 10), pro):
        ticket_id = open_ticket(pro.id).id
    with at(utc(2026, 11, 16, 16, 30), pro):
        scan(utc(2026, 11, 16, 16, 30))
        assert notified(manager.id) == ["sla_warning"]
        assert notified(agent.id) == []
        assert notified(pro.owner_id) == []
        assert sla_events(ticket_id) == [("first_reply", "warning")]


def test_a_late_scan_announces_only_the_breach(pro, at):
    with at(utc(2026, 11, 16, 10), pro):
        number = open_ticket(pro.id).number
    with at(utc(2026, 11, 17, 12), pro):
        assert scan(utc(2026, 11, 17, 12)) == 1
        ticket = get(number)
        assert sla_events(ticket.id) == [("first_reply", "breach")]
        assert notified(pro.owner_id) == ["sla_breach"]  # no managers: the owner
        assert {"first_reply:warning", "first_reply:breach"} <= set(ticket.sla_alerts)


def test_a_reply_in_time_means_no_alert(pro, make_member, at):
    from helpdesk.tickets import services

    agent = make_member(pro, "agent")
    with at(utc(2026, 11, 16, 10), pro):
        number = open_ticket(pro.id).number
    with at(utc(2026, 11, 16, 11), pro, agent.id):
        services.add_reply(agent.id, get(number), body_text="On it.", send=False)
    with at(utc(2026, 11, 16, 17), pro):
        assert scan(utc(2026, 11, 16, 17)) == 0


def test_a_rule_on_breach_raises_the_priority_and_the_policy_follows(pro, at):
    from helpdesk.tickets.admin_rules import save_rule

    with at(utc(2026, 11, 16, 9), pro):
        save_rule(name="Escalate", event="sla_breached", match_all=True, is_active=True,
                  conditions=[], actions=[{"type": "set_priority", "value": "urgent"}])
    with at(utc(2026, 11, 16, 10), pro):
        number = open_ticket(pro.id, Priority.LOW).number
    with at(utc(2026, 11, 20, 12), pro):  # Low: 24 business hours to the first reply
        scan(utc(2026, 11, 20, 12))
        ticket = get(number)
        assert ticket.priority is Priority.URGENT
        assert db.session.get(SlaPolicy, ticket.sla_policy_id).name == "Urgent"
        assert sla_events(ticket.id) == [("first_reply", "breach")]


def test_scans_stay_inside_their_org(make_org, as_system, at):
    first, second = make_org(plan="professional"), make_org(plan="professional")
    numbers = {}
    for org in (first, second):
        with at(utc(2026, 11, 16, 10), org):
            numbers[org.id] = open_ticket(org.id).number
    with at(utc(2026, 11, 17, 12), first):
        assert scan(utc(2026, 11, 17, 12)) == 1  # only its own ticket
    with at(utc(2026, 11, 17, 12), second):
        ticket = get(numbers[second.id])
        assert ticket.sla_alerts == []
        assert sla_events(ticket.id) == []
    with as_system() as session:  # the second org's breach still waits for its own scan
        due = session.scalars(select(Ticket.org_id).where(
            Ticket.sla_check_at <= datetime(2026, 11, 17, 12, tzinfo=UTC))).all()
    assert second.id in due and first.id not in due


def test_scheduler_enqueues_one_scan_per_org_with_something_due(make_org, app, at,
                                                                 redis_client):
    from helpdesk.core.jobs import get_queue
    from helpdesk.sla.jobs import enqueue_due_scans

    orgs = [make_org(plan="professional") for _ in range(2)]
    for org in orgs:
        with at(utc(2026, 11, 16, 10), org):
            open_ticket(org.id)
    with time_machine.travel(utc(2026, 11, 17, 12), tick=False), app.app_context():
        queued_now = enqueue_due_scans()
        again = enqueue_due_scans()  # the first jobs still wait: nothing more
        jobs = get_queue("notify").jobs
    assert queued_now >= 2 and again == 0
    assert {job.args[0] for job in jobs} >= {org.id for org in orgs}


def test_retime_command_times_tickets_and_rebuilds_reply_history(app, pro, make_member, at):
    from helpdesk.sla.models import SlaReply
    from helpdesk.tickets import services

    agent = make_member(pro, "agent")
    with at(utc(2026, 11, 16, 10), pro):
        number = open_ticket(pro.id).number
    with at(utc(2026, 11, 16, 14), pro, agent.id):
        services.add_reply(agent.id, get(number), body_text="Done.", send=False)
    with at(utc(2026, 11, 16, 15), pro) as session:
        ticket = get(number)
        # As after an upgrade: no due times, no reply records.
        ticket.first_reply_due_at = ticket.resolution_due_at = ticket.sla_due_at = None
        session.execute(SlaReply.__table__.delete())
    with at(utc(2026, 11, 16, 15), pro) as session:
        from helpdesk.orgs.models import Organization

        slug = session.get(Organization, pro.id).slug
    with time_machine.travel(utc(2026, 11, 16, 15), tick=False):
        result = app.test_cli_runner().invoke(args=["sla", "retime", "--org", slug])
        assert result.exit_code == 0, result.output
        assert "Timed 1 running tickets" in result.output
        result = app.test_cli_runner().invoke(args=["sla", "retime", "--org", slug,
                                                    "--history"])
        assert result.exit_code == 0 and "Timed 1 tickets" in result.output, result.output
    with at(utc(2026, 11, 16, 15), pro):
        ticket = get(number)
        assert ticket.resolution_due_at == utc(2026, 11, 24, 10)
        rows = db.session.scalars(select(SlaReply).where(SlaReply.ticket_id == ticket.id)).all()
        assert [(r.kind, r.business_minutes, r.breached) for r in rows] == [("first", 240, False)]
