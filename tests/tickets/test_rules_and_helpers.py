"""Automation rules, canned responses, assignment, mentions and attachments."""

import io

import pytest
from sqlalchemy import select

from helpdesk.accounts.models import User
from helpdesk.core.exceptions import ValidationFailed
from helpdesk.extensions import db
from helpdesk.orgs.models import Membership, Organization
from helpdesk.tickets import automation, canned, services
from helpdesk.tickets.models import (
    AutomationRule,
    CannedResponse,
    Message,
    Notification,
    Priority,
    Status,
    TicketEvent,
)


def add_rule(in_org, org, **fields):
    with in_org(org.id) as session:
        session.add(AutomationRule(**{"position": 0, "match_all": True, **fields}))


def test_rule_on_created_sets_priority_and_tags_in_order(make_org, make_ticket, in_org):
    org = make_org()
    add_rule(in_org, org, name="VIP domain", event="created", position=1,
             conditions=[{"field": "customer_domain", "op": "equals", "value": "bigcorp.com"}],
             actions=[{"type": "set_priority", "value": "urgent"},
                      {"type": "add_tags", "value": ["vip"]}])
    add_rule(in_org, org, name="Refunds", event="created", position=0,
             conditions=[{"field": "subject", "op": "contains", "value": "refund"}],
             actions=[{"type": "add_tags", "value": "refund"},
                      {"type": "add_note", "value": "Check the refund policy"}])
    t = make_ticket(org, subject="Refund please", customer_email="ceo@bigcorp.com")
    plain = make_ticket(org, subject="Hello", customer_email="someone@else.com")
    with in_org(org.id) as session:
        ticket = services.get_ticket(t.number)
        assert ticket.priority is Priority.URGENT and ticket.tags == ["refund", "vip"]
        rules = [e.data["rule"] for e in session.scalars(select(TicketEvent).where(
            TicketEvent.ticket_id == t.id, TicketEvent.kind == "automation")
            .order_by(TicketEvent.id))]
        assert rules == ["Refunds", "VIP domain"]
        assert session.scalar(select(Message.body_text).where(
            Message.ticket_id == t.id, Message.kind == "note")) == "Check the refund policy"
        other = services.get_ticket(plain.number)
        assert other.priority is Priority.NORMAL and other.tags == []


def test_rules_do_not_loop(make_org, make_ticket, in_org):
    """A rule on 'updated' that updates the ticket runs once per real update, not forever."""
    org = make_org()
    add_rule(in_org, org, name="Bump", event="updated", conditions=[],
             actions=[{"type": "add_tags", "value": "touched"},
                      {"type": "set_priority", "value": "high"}])
    t = make_ticket(org)
    with in_org(org.id) as session:
        ticket = services.get_ticket(t.number)
        services.update_ticket(org.owner_id, ticket, add_tags=["x"])
        runs = session.scalars(select(TicketEvent).where(
            TicketEvent.ticket_id == t.id, TicketEvent.kind == "automation")).all()
        assert len(runs) == 1 and ticket.priority is Priority.HIGH


def test_rule_on_customer_reply_and_any_match(make_org, make_ticket, in_org):
    org = make_org()
    add_rule(in_org, org, name="Angry", event="customer_replied", match_all=False,
             conditions=[{"field": "body", "op": "contains", "value": "lawyer"},
                         {"field": "body", "op": "contains", "value": "chargeback"}],
             actions=[{"type": "set_priority", "value": "urgent"}])
    t = make_ticket(org)
    with in_org(org.id):
        ticket = services.get_ticket(t.number)
        services.add_customer_message(ticket, ticket.customer, body_text="A CHARGEBACK is next")
        assert ticket.priority is Priority.URGENT


def test_invalid_rules_are_refused_with_fields():
    with pytest.raises(ValidationFailed) as error:
        automation.validate_rule("sometimes", [{"field": "x", "op": "y"}], [])
    assert {"event", "conditions.0", "actions"} <= set(error.value.fields)


def test_canned_placeholders_render_and_unknown_ones_are_empty(make_org, make_ticket, in_org):
    org = make_org()
    t = make_ticket(org)
    with in_org(org.id) as session:
        response = CannedResponse(title="Thanks", owner_user_id=None, body=(
            "Hi {{ customer.name }}, about #{{ ticket.number }}: {{ nothing.here }}"
            "{{ customer.missing.deeper }}-- {{ agent.name }}, {{ org.name }}"))
        session.add(response)
        session.flush()
        ticket = services.get_ticket(t.number)
        body = canned.use_canned(org.owner_id, response.id, ticket)
        org_name = session.get(Organization, org.id).name
        agent_name = session.get(User, org.owner_id).name
        assert body == f"Hi Buyer, about #{t.number}: -- {agent_name}, {org_name}"
        assert session.get(CannedResponse, response.id).usage_count == 1


def test_canned_templates_cannot_escape_the_sandbox(make_org, make_ticket, in_org):
    org = make_org()
    t = make_ticket(org)
    with in_org(org.id):
        ticket = services.get_ticket(t.number)
        context = canned.context_for(ticket, None, db.session.get(Organization, org.id))
        evil = "{{ ''.__class__.__mro__[1].__subclasses__() }}"
        assert canned.render(evil, context) == evil  # the sandbox refuses; shown as written
        assert canned.render("{{ unclosed", context) == "{{ unclosed"


def test_personal_canned_responses_are_private(make_org, make_member, in_org):
    org = make_org()
    colleague = make_member(org)
    with in_org(org.id) as session:
        mine = canned.save_canned(org.owner_id, title="Mine", body="x", shared=False)
        shared = canned.save_canned(org.owner_id, title="Ours", body="y", shared=True)
        visible = {c.id for c in canned.list_for(colleague.id)}
        assert shared.id in visible and mine.id not in visible
        session.flush()


def test_round_robin_and_load_balanced_skip_away_agents(make_org, make_member, make_ticket,
                                                        in_org, as_system):
    org = make_org(plan="growing")
    a, b, c = make_member(org), make_member(org), make_member(org)
    with as_system() as session:
        session.get(Organization, org.id).settings = {"assignment": "round_robin"}
        session.scalar(select(Membership).where(Membership.user_id == c.id)).is_away = True
        session.scalar(select(Membership).where(Membership.user_id == org.owner_id)).is_away = True
    picks = []
    for _ in range(4):
        t = make_ticket(org)
        with in_org(org.id):
            picks.append(services.get_ticket(t.number).assignee_id)
    assert picks == [a.id, b.id, a.id, b.id]
    with as_system() as session:
        session.get(Organization, org.id).settings = {"assignment": "load_balanced"}
    with in_org(org.id):
        for ticket in db.session.scalars(select(services.Ticket).where(
                services.Ticket.assignee_id == a.id)):
            services.update_ticket(org.owner_id, ticket, status=Status.SOLVED)
    t = make_ticket(org)
    with in_org(org.id):
        assert services.get_ticket(t.number).assignee_id == a.id  # a has no open tickets now


def test_removing_an_agent_reassigns_their_open_tickets(make_org, make_member, make_ticket,
                                                        in_org, as_system, client, login):
    org = make_org()
    leaver, stayer = make_member(org), make_member(org)
    t = make_ticket(org, assignee_id=leaver.id)
    with in_org(org.id) as session:
        session.scalar(select(Membership).where(Membership.user_id == org.owner_id)).is_away = True
        membership_id = session.scalar(select(Membership.id).where(
            Membership.user_id == leaver.id))
    with as_system() as session:
        session.get(Organization, org.id).settings = {"assignment": "round_robin"}
    login(org.owner_email)
    client.post(f"/{org.slug}/desk/settings/team/members/{membership_id}/remove")
    with in_org(org.id) as session:
        ticket = services.get_ticket(t.number)
        assert ticket.assignee_id == stayer.id
        reason = session.scalars(select(TicketEvent.data).where(
            TicketEvent.ticket_id == t.id, TicketEvent.kind == "assignee")).all()[-1]["reason"]
        assert reason == "previous assignee left the team"


def test_mentions_notify_in_app_and_by_mail(make_org, make_member, make_ticket, in_org, smtp,
                                            run_jobs):
    org = make_org()
    sam = make_member(org, email="sam.carter@example.com")
    t = make_ticket(org)
    with in_org(org.id) as session:
        ticket = services.get_ticket(t.number)
        services.add_note(org.owner_id, ticket, body_text="@sam.carter can you check? @nobody")
        notes = session.scalars(select(Notification).where(Notification.user_id == sam.id)).all()
        assert [n.kind for n in notes] == ["mention"]
    run_jobs()
    [mail] = smtp.wait_for(1)
    assert mail["To"] == "sam.carter@example.com" and "mentioned you" in mail["Subject"]


def test_attachments_are_stored_and_limited(app, make_org, make_ticket, in_org):
    from helpdesk.tickets.attachments import attachment_path

    org = make_org()
    t = make_ticket(org)
    with in_org(org.id) as session:
        ticket = services.get_ticket(t.number)
        message = services.add_note(org.owner_id, ticket, body_text="see file",
                                    attachments=[("../../etc/passwd", io.BytesIO(b"hello"),
                                                  None)])
        [attachment] = session.get(Message, message.id).attachments
        assert attachment.filename == "passwd" and attachment.size == 5
        assert attachment_path(attachment).read_bytes() == b"hello"
        assert str(org.id) in attachment.storage_key
    limit = app.config["MAX_ATTACHMENT_SIZE"]
    with in_org(org.id):
        ticket = services.get_ticket(t.number)
        with pytest.raises(ValidationFailed) as error:
            services.add_note(org.owner_id, ticket, body_text="big",
                              attachments=[("big.bin", io.BytesIO(b"x" * (limit + 1)), None)])
        assert f"at most {limit // (1024 * 1024)} MB" in error.value.message
        db.session.rollback()


def test_a_rolled_back_upload_leaves_no_file(make_org, make_ticket, in_org):
    from helpdesk.tickets.attachments import attachment_path

    org = make_org()
    t = make_ticket(org)
    with in_org(org.id) as session:
        ticket = services.get_ticket(t.number)
        message = services.add_note(org.owner_id, ticket, body_text="oops",
                                    attachments=[("a.txt", io.BytesIO(b"data"), "text/plain")])
        path = attachment_path(session.get(Message, message.id).attachments[0])
        assert path.exists()
        session.rollback()
        assert not path.exists()
