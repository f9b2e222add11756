"""Numbers, the status machine, messages and the timeline, through the services."""

import threading

import pytest
from sqlalchemy import select, text

from helpdesk.core import tenancy
from helpdesk.core.exceptions import ValidationFailed
from helpdesk.extensions import db
from helpdesk.tickets import merge, services, workflow
from helpdesk.tickets.models import (
    Channel,
    Message,
    MessageKind,
    Priority,
    Status,
    Ticket,
    TicketEvent,
)


def events_of(session, ticket_id):
    return [(e.kind, e.data) for e in session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id))]


def test_numbers_are_per_org_and_sequential(make_org, make_ticket):
    a, b = make_org(), make_org()
    numbers_a = [make_ticket(a).number for _ in range(3)]
    numbers_b = [make_ticket(b).number for _ in range(2)]
    assert numbers_a == [1, 2, 3] and numbers_b == [1, 2]


def test_a_rolled_back_creation_leaves_no_gap(make_org, make_ticket, in_org):
    org = make_org()
    make_ticket(org)
    with in_org(org.id) as session:
        customer = services.find_or_create_customer("x@example.com")
        services.create_ticket(None, subject="s", body_text="b", customer=customer,
                               channel=Channel.API)
        session.rollback()
    assert make_ticket(org).number == 2


def test_status_transitions_follow_the_table(make_org, make_ticket, in_org):
    org = make_org()
    t = make_ticket(org)
    with in_org(org.id) as session:
        ticket = services.get_ticket(t.number)
        workflow.change_status(org.owner_id, ticket, Status.PENDING)
        workflow.change_status(org.owner_id, ticket, Status.SOLVED)
        assert ticket.solved_at is not None
        workflow.change_status(org.owner_id, ticket, Status.CLOSED)
        with pytest.raises(workflow.InvalidTransition) as error:
            workflow.change_status(org.owner_id, ticket, Status.OPEN)
        assert "closed ticket cannot become open" in error.value.message
        kinds = [k for k, _ in events_of(session, t.id)]
        assert kinds == ["created", "status", "status", "status"]


def test_customer_reply_reopens_pending_and_solved(make_org, make_ticket, in_org):
    org = make_org()
    t = make_ticket(org)
    with in_org(org.id):
        ticket = services.get_ticket(t.number)
        services.update_ticket(org.owner_id, ticket, status=Status.SOLVED)
        services.add_customer_message(ticket, ticket.customer, body_text="Still broken!")
        assert ticket.status is Status.OPEN and ticket.solved_at is None


def test_mail_to_a_closed_ticket_makes_a_linked_follow_up(make_org, make_ticket, in_org):
    org = make_org()
    t = make_ticket(org)
    with in_org(org.id):
        ticket = services.get_ticket(t.number)
        services.update_ticket(org.owner_id, ticket, status=Status.CLOSED)
        message = services.add_customer_message(ticket, ticket.customer, body_text="One more")
        follow_up = db.session.get(Ticket, message.ticket_id)
        assert follow_up.id != ticket.id and follow_up.follow_up_of_id == ticket.id
        assert ticket.status is Status.CLOSED and follow_up.status is Status.NEW


def test_reply_sets_first_response_and_opens_note_does_not(make_org, make_ticket, in_org,
                                                           smtp, run_jobs):
    org = make_org()
    t = make_ticket(org)
    with in_org(org.id):
        ticket = services.get_ticket(t.number)
        services.add_note(org.owner_id, ticket, body_text="Checking the warehouse")
        assert ticket.first_response_at is None and ticket.status is Status.NEW
        services.add_reply(org.owner_id, ticket, body_text="It ships tomorrow.")
        assert ticket.first_response_at is not None and ticket.status is Status.OPEN
    run_jobs()
    [mail] = smtp.wait_for(1)
    assert mail["To"].addresses[0].addr_spec == "buyer@example.com"
    assert f"[#{t.number}]" in mail["Subject"]
    assert "It ships tomorrow." in mail.get_body(("plain",)).get_content()


def test_html_is_sanitized(make_org, make_ticket, in_org):
    org = make_org()
    t = make_ticket(org)
    with in_org(org.id) as session:
        ticket = services.get_ticket(t.number)
        message = services.add_customer_message(
            ticket, ticket.customer,
            body_html='<p onclick="x()">Hi<script>alert(1)</script>'
                      '<img src="x" onerror="alert(2)"><a href="javascript:alert(3)">l</a></p>')
        stored = session.get(Message, message.id)
        assert "<script" not in stored.body_html and "onerror" not in stored.body_html
        assert "javascript:" not in stored.body_html and "onclick" not in stored.body_html
        assert stored.body_text.startswith("Hi")


def test_update_writes_one_event_per_change_and_validates(make_org, make_member, make_ticket,
                                                         in_org):
    org = make_org()
    agent = make_member(org)
    t = make_ticket(org)
    with in_org(org.id) as session:
        ticket = services.get_ticket(t.number, for_update=True)
        changed = services.update_ticket(org.owner_id, ticket, priority=Priority.HIGH,
                                         assignee_id=agent.id, tags=["VIP", "refund", "vip"])
        assert changed == ["priority", "assignee", "tags"] and ticket.tags == ["vip", "refund"]
        with pytest.raises(ValidationFailed) as error:
            services.update_ticket(org.owner_id, ticket, custom_fields={"nope": 1})
        assert "custom_fields.nope" in error.value.fields
        with pytest.raises(ValidationFailed):
            services.update_ticket(org.owner_id, ticket, assignee_id=999999)
        kinds = [k for k, _ in events_of(session, t.id)]
        assert kinds[-3:] == ["priority", "assignee", "tags"]


def test_timeline_is_append_only_in_the_database(make_org, make_ticket, in_org):
    org = make_org()
    t = make_ticket(org)
    with in_org(org.id) as session:
        with pytest.raises(Exception) as error:
            session.execute(text("UPDATE ticket_events SET kind = 'x' WHERE ticket_id = :t"),
                            {"t": t.id})
        assert "permission denied" in str(error.value)
        session.rollback()


def test_merge_moves_messages_and_later_mail_lands_in_target(make_org, make_ticket, in_org):
    org = make_org()
    target, source = make_ticket(org, subject="A"), make_ticket(org, subject="B", tags=["x"])
    with in_org(org.id) as session:
        tgt, src = services.get_ticket(target.number), services.get_ticket(source.number)
        merge.merge_tickets(org.owner_id, tgt, [src])
        assert src.merged_into_id == tgt.id and src.status is Status.CLOSED
        assert session.scalar(select(Message.id).where(Message.ticket_id == src.id)) is None
        assert "x" in tgt.tags
        message = services.add_customer_message(src, src.customer, body_text="late mail")
        assert message.ticket_id == tgt.id
        with pytest.raises(workflow.InvalidTransition) as error:
            services.update_ticket(org.owner_id, src, status=Status.OPEN)
        assert "merged" in error.value.message and error.value.status == 409
        with pytest.raises(workflow.InvalidTransition):
            services.add_reply(org.owner_id, src, body_text="to a merged ticket")


def test_split_makes_a_new_ticket_from_one_message(make_org, make_ticket, in_org):
    org = make_org()
    t = make_ticket(org)
    with in_org(org.id) as session:
        ticket = services.get_ticket(t.number)
        second = services.add_customer_message(ticket, ticket.customer, body_text="Other topic")
        new = merge.split_ticket(org.owner_id, second)
        assert new.number == t.number + 1 and second.ticket_id == new.id
        kinds = [k for k, _ in events_of(session, new.id)]
        assert kinds == ["created", "split_from"]
        first = session.scalar(select(Message).where(Message.ticket_id == ticket.id,
                                                     Message.kind == MessageKind.CUSTOMER))
        with pytest.raises(ValidationFailed):
            merge.split_ticket(org.owner_id, first)  # the only message left


def test_concurrent_creations_get_distinct_gapless_numbers(live_server):
    """Eight threads create tickets at once in one org: numbers 1..8, no duplicates."""
    from helpdesk.accounts import services as accounts
    from helpdesk.orgs import services as orgs

    app = live_server.app
    with app.app_context(), tenancy.system_scope():
        owner = accounts.create_user(email="c@race.test", name="C", password="password-1")
        org_id = orgs.create_org(name="Race", slug="race-numbers", owner=owner).id
        db.session.commit()
    barrier = threading.Barrier(8)
    numbers = []

    def create():
        with app.app_context():
            tenancy.set_current_org(org_id)
            customer = services.find_or_create_customer("same@example.com")
            db.session.commit()
            barrier.wait(10)
            ticket = services.create_ticket(None, subject="s", body_text="b", customer=customer,
                                            channel=Channel.API)
            db.session.commit()
            numbers.append(ticket.number)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(numbers) == list(range(1, 9))
