"""Inputs an outside probe found: each must be refused cleanly, quickly, and write nothing."""

import base64
import threading

import pytest

from helpdesk.core import tenancy
from helpdesk.core.exceptions import ValidationFailed
from helpdesk.extensions import db
from helpdesk.tickets import canned, merge, services, workflow
from helpdesk.tickets.models import CustomField, CustomFieldType, Status


@pytest.mark.parametrize("body", [
    '{{ "x"|center(100000000) }}',
    "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}",
    '{{ "%99999999s"|format("x") }}',
    "{{ 9 ** 9 ** 9 }}",
    "Hi {{ x }",
])
def test_costly_or_broken_canned_templates_are_refused_on_save(make_org, in_org, body):
    org = make_org()
    with in_org(org.id):
        with pytest.raises(ValidationFailed) as error:
            canned.save_canned(org.owner_id, title="t", body=body, shared=False)
        assert "body" in error.value.fields
        assert canned.render(body, {}) == body  # and never executed when rendered
        db.session.rollback()


def test_simple_placeholders_filters_and_if_still_work():
    body = ("{% if customer.name %}Hi {{ customer.name | title }}{% else %}Hello{% endif %}, "
            "#{{ ticket.number }} {{ agent.name | default('the team') }}")
    canned.check_template(body)
    assert canned.render(body, {"customer": {"name": "ann lee"}, "ticket": {"number": 7},
                                "agent": {}}) == "Hi Ann Lee, #7 the team"


def test_crossed_concurrent_merges_cannot_merge_two_tickets_into_each_other(live_server):
    from helpdesk.accounts import services as accounts
    from helpdesk.orgs import services as orgs
    from helpdesk.tickets.models import Channel

    app = live_server.app
    with app.app_context(), tenancy.system_scope():
        owner = accounts.create_user(email="m@merge.test", name="M", password="password-1")
        org_id = orgs.create_org(name="Merge", slug="merge-race", owner=owner).id
        tenancy.set_current_org(org_id)
        customer = services.find_or_create_customer("c@example.com")
        for _ in range(2):
            services.create_ticket(None, subject="s", body_text="b", customer=customer,
                                   channel=Channel.API)
        db.session.commit()
    barrier, results = threading.Barrier(2), []

    def merge_into(target_number, source_number):
        with app.app_context():
            tenancy.set_current_org(org_id)
            target = services.get_ticket(target_number)
            source = services.get_ticket(source_number)
            barrier.wait(5)
            try:
                merge.merge_tickets(None, target, [source])
                db.session.commit()
                results.append("ok")
            except ValidationFailed as error:
                db.session.rollback()
                results.append(error.message)

    threads = [threading.Thread(target=merge_into, args=pair) for pair in ((1, 2), (2, 1))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(15)
    assert sorted(results) == ["Target merged.", "ok"]
    with app.app_context():
        tenancy.set_current_org(org_id)
        merged = [services.get_ticket(n).merged_into_id for n in (1, 2)]
        assert merged.count(None) == 1


def test_closed_and_merged_tickets_are_read_only_but_tags(make_org, make_ticket, in_org):
    org = make_org()
    t = make_ticket(org)
    with in_org(org.id):
        ticket = services.get_ticket(t.number)
        services.update_ticket(org.owner_id, ticket, status=Status.CLOSED)
        with pytest.raises(workflow.InvalidTransition):
            services.update_ticket(org.owner_id, ticket, subject="new")
        with pytest.raises(workflow.InvalidTransition):
            services.add_reply(org.owner_id, ticket, body_text="hello?")
        assert services.update_ticket(org.owner_id, ticket, add_tags=["late"]) == ["tags"]
        assert services.get_ticket(t.number).tags == ["late"]


def test_merging_into_a_closed_ticket_is_refused(make_org, make_ticket, in_org):
    org = make_org()
    a, b = make_ticket(org), make_ticket(org)
    with in_org(org.id):
        target = services.get_ticket(a.number)
        services.update_ticket(org.owner_id, target, status=Status.CLOSED)
        with pytest.raises(ValidationFailed) as error:
            merge.merge_tickets(org.owner_id, target, [services.get_ticket(b.number)])
        assert "closed" in error.value.fields["target"]
        db.session.rollback()


@pytest.mark.parametrize(("kind", "value"), [
    (CustomFieldType.TEXT, {"a": 1}),
    (CustomFieldType.TEXT, "x" * 1001),
    (CustomFieldType.TEXT, "nul\x00"),
    (CustomFieldType.TEXT, "\ud800"),
    (CustomFieldType.NUMBER, True),
    (CustomFieldType.NUMBER, "1_000"),
    (CustomFieldType.NUMBER, "١٢"),
    (CustomFieldType.NUMBER, float("nan")),
    (CustomFieldType.CHECKBOX, "maybe"),
    (CustomFieldType.DATE, "2026-13-01"),
])
def test_custom_field_values_are_strict(make_org, make_ticket, in_org, kind, value):
    org = make_org()
    t = make_ticket(org)
    with in_org(org.id) as session:
        session.add(CustomField(key="f", label="F", field_type=kind, options=[], position=0))
        session.flush()
        with pytest.raises(ValidationFailed) as error:
            services.update_ticket(org.owner_id, services.get_ticket(t.number),
                                   custom_fields={"f": value})
        assert "custom_fields.f" in error.value.fields
        session.rollback()


def test_tags_collapse_inner_whitespace():
    assert services.clean_tags(["a  b", " A b ", "a\tb"]) == ["a b"]


def test_deeply_nested_html_is_refused_quickly(make_org, make_ticket, in_org):
    org = make_org()
    t = make_ticket(org)
    with in_org(org.id):
        with pytest.raises(ValidationFailed) as error:
            services.add_note(org.owner_id, services.get_ticket(t.number),
                              body_html="<div>" * 33000 + "x")
        assert "10000 tags" in error.value.message
        db.session.rollback()


def test_api_rejects_a_deeply_nested_cursor(client, make_org, make_token):
    org = make_org()
    cursor = base64.urlsafe_b64encode(b"[" * 1100).decode()
    response = client.get(f"/api/v1/tickets?cursor={cursor}",
                          headers={"Authorization": f"Bearer {make_token(org, org.owner_id)}"})
    assert response.status_code == 422


def test_bulk_redirect_keeps_only_inbox_arguments(client, make_org, make_ticket, login):
    org = make_org()
    t = make_ticket(org)
    login(org.owner_email)
    response = client.post(f"/{org.slug}/desk/tickets/?endpoint=x&org_slug=other&view=open",
                           data={"action": "status", "status": "pending",
                                 "tickets": [t.number]})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/{org.slug}/desk/tickets/?view=open"


def test_api_internal_flag_is_a_real_boolean(client, make_org, make_ticket, make_token):
    org = make_org()
    t = make_ticket(org)
    headers = {"Authorization": f"Bearer {make_token(org, org.owner_id)}"}
    for value in ("yes", 1, "true"):
        response = client.post(f"/api/v1/tickets/{t.number}/messages", headers=headers,
                               json={"body": "x", "internal": value})
        assert response.status_code == 422 and "internal" in response.json["error"]["fields"]


def test_desk_can_retag_a_closed_ticket_but_not_change_it(client, make_org, make_ticket, login,
                                                          in_org):
    org = make_org()
    t = make_ticket(org)
    with in_org(org.id):
        services.update_ticket(org.owner_id, services.get_ticket(t.number), status=Status.CLOSED)
    login(org.owner_email)
    page = client.get(f"/{org.slug}/desk/tickets/{t.number}").get_data(as_text=True)
    assert "takes no more replies" in page and 'id="composer"' not in page
    with in_org(org.id):
        ticket = services.get_ticket(t.number)
        same = {"status": Status.CLOSED, "priority": ticket.priority,
                "assignee_id": ticket.assignee_id, "team_id": None, "custom_fields": {}}
        assert services.update_ticket(org.owner_id, ticket, add_tags=["late"], **same) == ["tags"]
        with pytest.raises(workflow.InvalidTransition) as error:
            services.update_ticket(org.owner_id, ticket, priority=services.Priority.HIGH)
        assert error.value.fields == {"priority": "read-only"}
        db.session.rollback()


def test_rules_do_not_write_to_closed_tickets(make_org, make_ticket, in_org):
    from sqlalchemy import select

    from helpdesk.tickets.models import AutomationRule, Message, MessageKind

    org = make_org()
    t = make_ticket(org)
    with in_org(org.id) as session:
        session.add(AutomationRule(name="Note", event="updated", position=0, match_all=True,
                                   conditions=[], actions=[{"type": "add_note", "value": "hi"}]))
        ticket = services.get_ticket(t.number)
        services.update_ticket(org.owner_id, ticket, status=Status.CLOSED)
        notes_after_close = session.scalars(select(Message).where(
            Message.ticket_id == t.id, Message.kind == MessageKind.NOTE)).all()
        services.update_ticket(org.owner_id, ticket, add_tags=["x"])
        assert session.scalars(select(Message).where(
            Message.ticket_id == t.id, Message.kind == MessageKind.NOTE)).all() \
            == notes_after_close


def test_a_failing_rule_action_keeps_the_rest_and_the_queued_jobs(app, make_org, make_ticket,
                                                                 in_org):
    from helpdesk.core.jobs import get_queue
    from helpdesk.tickets.models import AutomationRule

    org = make_org()
    with in_org(org.id) as session:
        session.add(AutomationRule(
            name="Half broken", event="created", position=0, match_all=True, conditions=[],
            actions=[{"type": "set_team", "value": 999999}, {"type": "add_tags", "value": "ok"},
                     {"type": "send_canned", "value": 0}]))
    t = make_ticket(org)
    with in_org(org.id):
        assert services.get_ticket(t.number).tags == ["ok"]
    with app.app_context():
        assert get_queue("notify").count == 0  # no reply mail for a missing canned response


def test_merge_keeps_the_tag_limit(make_org, make_ticket, in_org):
    org = make_org()
    target = make_ticket(org, tags=[f"a{i}" for i in range(15)])
    source = make_ticket(org, tags=[f"b{i}" for i in range(15)])
    with in_org(org.id):
        tgt = services.get_ticket(target.number)
        merge.merge_tickets(org.owner_id, tgt, [services.get_ticket(source.number)])
        assert len(tgt.tags) == services.MAX_TAGS and tgt.tags[:15] == [f"a{i}" for i in range(15)]
        assert services.update_ticket(org.owner_id, tgt, remove_tags=["a0"]) == ["tags"]


def test_demo_seed_uses_only_the_demo_orgs_rules(make_org, in_org, app):
    from sqlalchemy import select

    from helpdesk.core.demo import seed_demo
    from helpdesk.tickets.models import AutomationRule, Ticket

    other = make_org()
    with in_org(other.id) as session:
        session.add(AutomationRule(name="Foreign", event="created", position=0, match_all=True,
                                   conditions=[], actions=[{"type": "add_tags",
                                                            "value": "foreign"}]))
    with app.app_context(), tenancy.system_scope():
        seed_demo()
        tagged = db.session.scalar(select(Ticket.id).where(Ticket.tags.any("foreign")))
        db.session.rollback()
    assert tagged is None


def test_links_between_tickets_cannot_cross_orgs(make_org, make_ticket, as_system):
    """Even the owner (no RLS) cannot point a ticket or message at another org's rows."""
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    a, b = make_org(), make_org()
    mine, theirs = make_ticket(a), make_ticket(b, customer_email="other@example.com")
    statements = [
        ("UPDATE tickets SET merged_into_id = :other WHERE id = :mine", {}),
        ("UPDATE tickets SET follow_up_of_id = :other WHERE id = :mine", {}),
        ("UPDATE messages SET author_customer_id = :customer WHERE ticket_id = :mine", {}),
    ]
    for sql, _ in statements:
        with as_system() as session:
            with pytest.raises(IntegrityError):
                session.execute(text(sql), {"other": theirs.id, "mine": mine.id,
                                            "customer": theirs.customer_id})
            session.rollback()
