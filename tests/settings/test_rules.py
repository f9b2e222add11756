from sqlalchemy import select

from helpdesk.tickets import services
from helpdesk.tickets.models import (
    AutomationRule,
    CannedResponse,
    Channel,
    Message,
    MessageKind,
    Priority,
    Team,
)


def rule_form(name="Refunds", event="created", match="all", active=True, conditions=(),
              actions=()):
    data = {"name": name, "event": event, "match": match}
    if active:
        data["is_active"] = "y"
    for i, (field, op, value) in enumerate(conditions):
        data |= {f"conditions-{i}-field": field, f"conditions-{i}-op": op,
                 f"conditions-{i}-value": value}
    for i, (kind, value) in enumerate(actions):
        data |= {f"actions-{i}-type": kind, f"actions-{i}-value": value}
    return data


def rules_of(in_org, org):
    with in_org(org.id) as session:
        return [(r.name, r.event, r.is_active, r.match_all, r.conditions, r.actions) for r in
                session.scalars(select(AutomationRule)
                                .order_by(AutomationRule.position, AutomationRule.id))]


def rule_ids(in_org, org):
    with in_org(org.id) as session:
        return list(session.scalars(select(AutomationRule.id)
                                    .order_by(AutomationRule.position, AutomationRule.id)))


def new_ticket(in_org, org, subject, email="buyer@bigcorp.com", body="Please help."):
    with in_org(org.id):
        customer = services.find_or_create_customer(email, "Buyer")
        ticket = services.create_ticket(None, subject=subject, customer=customer,
                                        channel=Channel.EMAIL, body_text=body)
        return ticket.number


def test_a_rule_made_in_the_form_fires_on_new_tickets(client, desk, in_org):
    with in_org(desk.org.id) as session:
        team = Team(name="Billing")
        session.add(team)
        session.flush()
        team_id = team.id
    desk.as_(desk.admin)
    response = client.post(desk.url("rules/new"), data=rule_form(
        conditions=[("subject", "contains", "Refund"),
                    ("customer_domain", "in", "bigcorp.com, acme.com")],
        actions=[("set_priority", "urgent"), ("add_tags", "Refund, vip"),
                 ("set_team", str(team_id)), ("assign", str(desk.agent.id)),
                 ("add_note", "Check the refund policy")]))
    assert response.status_code == 302, response.get_data(as_text=True)
    [(name, event, active, match_all, conditions, actions)] = rules_of(in_org, desk.org)
    assert conditions[1] == {"field": "customer_domain", "op": "in",
                             "value": ["bigcorp.com", "acme.com"]}
    assert actions[1] == {"type": "add_tags", "value": ["refund", "vip"]}
    assert actions[2:4] == [{"type": "set_team", "value": team_id},
                            {"type": "assign", "value": desk.agent.id}]
    hit = new_ticket(in_org, desk.org, "Refund for order 42")
    miss = new_ticket(in_org, desk.org, "Refund please", email="someone@else.com")
    with in_org(desk.org.id) as session:
        ticket = services.get_ticket(hit)
        assert ticket.priority is Priority.URGENT and ticket.tags == ["refund", "vip"]
        assert (ticket.team_id, ticket.assignee_id) == (team_id, desk.agent.id)
        assert session.scalar(select(Message.body_text).where(
            Message.ticket_id == ticket.id, Message.kind == MessageKind.NOTE)) == \
            "Check the refund policy"
        assert services.get_ticket(miss).priority is Priority.NORMAL
    page = client.get(desk.url("rules")).get_data(as_text=True)
    assert "Refunds" in page and "Billing" in page and "Agent " in page


def test_invalid_rules_are_422_with_messages_on_the_fields_and_rows(client, desk, in_org):
    desk.as_(desk.owner)
    response = client.post(desk.url("rules/new"), data=rule_form(
        name="", event="deleted",
        conditions=[("subject", "contains", ""), ("mood", "contains", "angry")],
        actions=[("set_priority", "whenever"), ("explode", "now"), ("assign", "999999")]))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Name the rule." in html
    response = client.post(desk.url("rules/new"), data=rule_form(
        event="deleted",
        conditions=[("subject", "contains", ""), ("mood", "contains", "angry"),
                    ("priority", "equals", "super")],
        actions=[("set_priority", "whenever"), ("explode", "now"), ("assign", "999999"),
                 ("send_canned", "1"), ("add_tags", " , ")]))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    for message in ("Choose when the rule runs.", "Enter a value to compare with.",
                    "Choose a field and how to compare it.", "Priority is one of:",
                    "Choose one of the listed values.", "Choose what to do.",
                    "Create a shared canned response first.", "Enter at least one tag"):
        assert message in html, message
    assert 'id="conditions-1-error"' in html and 'id="actions-4-error"' in html
    assert 'value="angry"' in html  # the rows come back as typed
    no_action = client.post(desk.url("rules/new"), data=rule_form(actions=[("", "")]))
    assert no_action.status_code == 422
    assert "Add at least one action." in no_action.get_data(as_text=True)
    assert rules_of(in_org, desk.org) == []


def test_send_canned_takes_shared_responses_only(client, desk, in_org):
    with in_org(desk.org.id) as session:
        personal = CannedResponse(title="Mine", body="x", owner_user_id=desk.owner.id)
        shared = CannedResponse(title="Thanks", body="Thanks {{ customer.name }}!")
        session.add_all([personal, shared])
        session.flush()
        personal_id, shared_id = personal.id, shared.id
    desk.as_(desk.owner)
    data = rule_form(actions=[("send_canned", str(personal_id))])
    assert client.post(desk.url("rules/new"), data=data).status_code == 422
    data = rule_form(actions=[("send_canned", str(shared_id))])
    assert client.post(desk.url("rules/new"), data=data).status_code == 302
    number = new_ticket(in_org, desk.org, "Hello")
    with in_org(desk.org.id) as session:
        ticket = services.get_ticket(number)
        assert session.scalar(select(Message.body_text).where(
            Message.ticket_id == ticket.id, Message.kind == MessageKind.REPLY)) == "Thanks Buyer!"


def test_edit_reorder_disable_and_delete(client, desk, in_org):
    desk.as_(desk.admin)
    for name, tag in (("First", "one"), ("Second", "two"), ("Third", "three")):
        assert client.post(desk.url("rules/new"), data=rule_form(
            name=name, actions=[("add_tags", tag)])).status_code == 302
    first, second, third = rule_ids(in_org, desk.org)
    edit = client.get(desk.url(f"rules/{second}"))
    assert edit.status_code == 200 and 'value="two"' in edit.get_data(as_text=True)
    assert client.post(desk.url(f"rules/{second}"), data=rule_form(
        name="Second", match="any", conditions=[("tags", "contains", "x")],
        actions=[("add_tags", "two")])).status_code == 302
    assert rules_of(in_org, desk.org)[1][3:5] == (False, [
        {"field": "tags", "op": "contains", "value": ["x"]}])
    client.post(desk.url(f"rules/{third}/move/up"))
    assert rule_ids(in_org, desk.org) == [first, third, second]
    client.post(desk.url(f"rules/{first}/move/up"))  # already first: stays
    client.post(desk.url(f"rules/{first}/move/down"))
    assert rule_ids(in_org, desk.org) == [third, first, second]
    assert client.post(desk.url(f"rules/{third}/disable")).status_code == 302
    number = new_ticket(in_org, desk.org, "Anything")
    with in_org(desk.org.id):
        assert services.get_ticket(number).tags == ["one"]  # "Third" is off; "Second" needs x
    client.post(desk.url(f"rules/{third}/enable"))
    assert [r[2] for r in rules_of(in_org, desk.org)] == [True, True, True]
    assert client.post(desk.url(f"rules/{first}/delete")).status_code == 302
    assert rule_ids(in_org, desk.org) == [third, second]


def test_agents_cannot_touch_rules(client, desk, in_org):
    desk.as_(desk.owner)
    client.post(desk.url("rules/new"), data=rule_form(actions=[("add_tags", "x")]))
    [rule_id] = rule_ids(in_org, desk.org)
    desk.as_(desk.agent)
    for path in (f"rules/{rule_id}", f"rules/{rule_id}/disable", f"rules/{rule_id}/move/up",
                 f"rules/{rule_id}/delete", "rules/new"):
        assert client.post(desk.url(path), data=rule_form(actions=[("add_tags", "y")])
                           ).status_code == 403, path
    assert rules_of(in_org, desk.org)[0][2:] == (True, True, [], [
        {"type": "add_tags", "value": ["x"]}])


def test_another_orgs_rule_is_404(client, desk, make_org, in_org):
    other = make_org()
    with in_org(other.id) as session:
        session.add(AutomationRule(name="Theirs", event="created", conditions=[],
                                   actions=[{"type": "add_tags", "value": ["x"]}]))
    [foreign] = rule_ids(in_org, other)
    desk.as_(desk.owner)
    assert client.get(desk.url(f"rules/{foreign}")).status_code == 404
    for path in (f"rules/{foreign}", f"rules/{foreign}/disable", f"rules/{foreign}/move/down",
                 f"rules/{foreign}/delete"):
        assert client.post(desk.url(path), data=rule_form(actions=[("add_tags", "y")])
                           ).status_code == 404, path
    assert rules_of(in_org, other)[0][:3] == ("Theirs", "created", True)
