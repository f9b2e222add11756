"""The SLA clock through the real services, time frozen and moved with time-machine.

The seeded defaults: calendar "Office hours" Mon-Fri 09:00-17:00 UTC; policies by priority,
in business hours: Normal 8 h first reply, 16 h next reply, 48 h resolution; Urgent 1 h / 2 h /
8 h. 2026-11-16 is a Monday.
"""

import pytest
from sqlalchemy import select

from helpdesk.extensions import db
from helpdesk.tickets.models import Priority, Status
from tests.sla.helpers import get, open_ticket, utc


@pytest.fixture
def agent(pro, make_member):
    return make_member(pro, "agent")


def test_new_ticket_gets_due_times_from_its_priority_policy(pro, at):
    with at(utc(2026, 11, 16, 10), pro):
        ticket = open_ticket(pro.id)
        assert ticket.sla_policy_id is not None
        # 8 business hours from Mon 10:00: Mon 10-17 (7 h) + Tue 09-10: Tue 10:00.
        assert ticket.first_reply_due_at == utc(2026, 11, 17, 10)
        # 48 h: Mon 7 h + Tue-Fri 32 h = 39 h by Fri 17:00; Mon 23 8 h = 47 h; Tue 24 10:00.
        assert ticket.resolution_due_at == utc(2026, 11, 24, 10)
        assert ticket.next_reply_due_at is None
        assert ticket.sla_due_at == ticket.first_reply_due_at
        # The warning at 80% of 8 h (6 h 24 min): Mon 16:24.
        assert ticket.sla_check_at == utc(2026, 11, 16, 16, 24)


def test_ticket_created_at_the_weekend_starts_on_monday(pro, at):
    with at(utc(2026, 11, 21, 15), pro):  # Saturday
        ticket = open_ticket(pro.id, Priority.URGENT)
        assert ticket.first_reply_due_at == utc(2026, 11, 23, 10)  # Mon 09:00 + 1 h


def test_reply_note_and_next_reply(pro, agent, at):
    from helpdesk.sla.models import SlaReply
    from helpdesk.tickets import services

    with at(utc(2026, 11, 16, 10), pro):
        number = open_ticket(pro.id).number
    with at(utc(2026, 11, 16, 12), pro, agent.id):
        ticket = get(number)
        services.add_note(agent.id, ticket, body_text="Checking with the warehouse.")
        assert ticket.first_response_at is None  # a note is not a reply
        assert ticket.first_reply_due_at == utc(2026, 11, 17, 10)
    with at(utc(2026, 11, 16, 14), pro, agent.id):
        ticket = get(number)
        services.add_reply(agent.id, ticket, body_text="It ships today.", send=False)
        assert ticket.first_reply_due_at is None
        assert ticket.first_reply_minutes == 240
        assert ticket.first_reply_breached is False
        assert ticket.sla_due_at == ticket.resolution_due_at
    with at(utc(2026, 11, 17, 9, 30), pro):
        ticket = get(number)
        customer = ticket.customer
        services.add_customer_message(ticket, customer, body_text="Still nothing.")
        assert ticket.next_reply_since == utc(2026, 11, 17, 9, 30)
        # 16 h from Tue 09:30: Tue 7.5 h, Wed 8 h = 15.5 h; Thu 09:30.
        assert ticket.next_reply_due_at == utc(2026, 11, 19, 9, 30)
    with at(utc(2026, 11, 17, 11), pro, agent.id):
        ticket = get(number)
        services.add_reply(agent.id, ticket, body_text="Tracking number attached.", send=False)
        services.add_reply(agent.id, ticket, body_text="And the invoice.", send=False)
        assert ticket.next_reply_due_at is None and ticket.next_reply_since is None
        rows = db.session.scalars(select(SlaReply).where(SlaReply.ticket_id == ticket.id)
                                  .order_by(SlaReply.id)).all()
        assert [(r.kind, r.business_minutes, r.breached) for r in rows] == [
            ("first", 240, False), ("next", 90, False), ("more", 0, None)]


def test_automatic_replies_are_not_replies(pro, at):
    from helpdesk.tickets.automation import _send_canned
    from helpdesk.tickets.models import CannedResponse

    with at(utc(2026, 11, 16, 10), pro):
        canned = CannedResponse(org_id=pro.id, title="Ack", body="We got your mail.")
        db.session.add(canned)
        db.session.flush()
        ticket = open_ticket(pro.id)
        _send_canned(ticket, canned.id)
        from helpdesk.sla import clock

        clock.refresh(ticket)
        assert ticket.first_response_at is None
        assert ticket.first_reply_due_at == utc(2026, 11, 17, 10)


def test_pending_pauses_across_the_weekend_and_resuming_extends(pro, agent, at):
    from helpdesk.tickets import services

    with at(utc(2026, 11, 20, 10), pro):  # Friday
        number = open_ticket(pro.id).number
    with at(utc(2026, 11, 20, 12), pro, agent.id):
        ticket = get(number)
        services.add_reply(agent.id, ticket, body_text="Which size?", status=Status.PENDING,
                           send=False)
        assert ticket.sla_paused is True
        assert ticket.resolution_due_at is None and ticket.sla_due_at is None
    with at(utc(2026, 11, 23, 12), pro):  # Monday: the customer answers, the ticket reopens
        ticket = get(number)
        services.add_customer_message(ticket, ticket.customer, body_text="Large.")
        assert ticket.status is Status.OPEN and ticket.sla_paused is False
        # Resolution 48 h, 2 h used on Friday before the pause; 46 h from Mon 12:00: Mon 5 h,
        # Tue-Fri 32 h = 37 h, next Mon 8 h = 45 h, Tue 1 Dec 09:00 + 1 h = 10:00.
        assert ticket.resolution_due_at == utc(2026, 12, 1, 10)
        # Next reply: 16 h from Mon 12:00: Mon 5 h + Tue 8 h = 13 h, Wed 09:00 + 3 h = 12:00.
        assert ticket.next_reply_due_at == utc(2026, 11, 25, 12)


def test_priority_change_rematches_the_policy(pro, agent, at):
    from helpdesk.tickets import services

    with at(utc(2026, 11, 16, 10), pro):
        number = open_ticket(pro.id).number
    with at(utc(2026, 11, 16, 10, 20), pro, agent.id):
        ticket = get(number)
        services.update_ticket(agent.id, ticket, priority=Priority.URGENT)
        # Urgent: 1 h from creation (not from the change): 11:00; resolution 8 h: Tue 10:00.
        assert ticket.first_reply_due_at == utc(2026, 11, 16, 11)
        assert ticket.resolution_due_at == utc(2026, 11, 17, 10)


def test_policy_conditions_tags_and_vip_domain(pro, at):
    from helpdesk.orgs.models import Organization
    from helpdesk.sla import services as sla
    from helpdesk.sla.models import SlaPolicy

    with at(utc(2026, 11, 16, 10), pro):
        org = db.session.get(Organization, pro.id)
        vip = sla.create_policy(org, {"name": "VIP", "first_reply_minutes": 30,
                                      "conditions": {"customer_domains": ["vip.example"]},
                                      "business_hours": False})
        vip.position = -1  # first
        db.session.flush()
        ticket = open_ticket(pro.id, email="boss@vip.example")
        assert ticket.sla_policy_id == vip.id
        assert ticket.first_reply_due_at == utc(2026, 11, 16, 10, 30)  # calendar hours
        assert ticket.resolution_due_at is None  # the VIP policy sets no resolution target
        other = open_ticket(pro.id, email="someone@example.com")
        normal = db.session.scalar(select(SlaPolicy).where(SlaPolicy.name == "Normal"))
        assert other.sla_policy_id == normal.id


def test_starter_plan_uses_the_default_policy_for_every_ticket(make_org, at):
    starter = make_org(plan="starter")
    with at(utc(2026, 11, 16, 10), starter):
        ticket = open_ticket(starter.id, Priority.URGENT)
        # Normal's 8 h, not Urgent's 1 h.
        assert ticket.first_reply_due_at == utc(2026, 11, 17, 10)


def test_solving_stops_the_clock_and_records_the_outcome(pro, agent, at):
    from helpdesk.tickets import services

    with at(utc(2026, 11, 16, 10), pro):
        number = open_ticket(pro.id, Priority.URGENT).number
    with at(utc(2026, 11, 16, 12), pro, agent.id):  # the 1 h first reply target was missed
        ticket = get(number)
        services.add_reply(agent.id, ticket, body_text="Fixed.", status=Status.SOLVED,
                           send=False)
        assert ticket.first_reply_breached is True
        assert ticket.resolution_breached is False and ticket.resolution_minutes == 120
        assert ticket.sla_due_at is None and ticket.sla_check_at is None
    with at(utc(2026, 11, 17, 9), pro):  # reopened: the solved night did not count
        ticket = get(number)
        services.add_customer_message(ticket, ticket.customer, body_text="Broken again.")
        assert ticket.reopen_count == 1
        # 8 h resolution, 2 h used: 6 h from Tue 09:00 = 15:00.
        assert ticket.resolution_due_at == utc(2026, 11, 17, 15)


def test_calendar_in_another_timezone(pro, at):
    from helpdesk.orgs.models import Organization
    from helpdesk.sla import clock
    from helpdesk.sla import services as sla

    with at(utc(2026, 11, 16, 6), pro):
        org = db.session.get(Organization, pro.id)
        calendar = clock.default_calendar(pro.id)
        sla.update_calendar(org, calendar, {"name": "Berlin", "timezone": "Europe/Berlin",
                                            "hours": {d: "09:00-17:00" for d in
                                                      ("mon", "tue", "wed", "thu", "fri")}})
        ticket = open_ticket(pro.id, Priority.URGENT)
        # Mon 07:00 Berlin: opens at 09:00 Berlin = 08:00 UTC; + 1 h = 09:00 UTC.
        assert ticket.first_reply_due_at == utc(2026, 11, 16, 9)
