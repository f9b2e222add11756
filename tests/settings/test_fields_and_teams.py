from sqlalchemy import select

from helpdesk.tickets import services
from helpdesk.tickets.models import Channel, CustomField, Team, TicketEvent


def fields_of(in_org, org):
    with in_org(org.id) as session:
        return [(f.key, f.label, f.field_type.value, f.options) for f in session.scalars(
            select(CustomField).order_by(CustomField.position, CustomField.id))]


def field_id(in_org, org, key):
    with in_org(org.id) as session:
        return session.scalar(select(CustomField.id).where(CustomField.key == key))


def teams_of(in_org, org):
    with in_org(org.id) as session:
        return [(t.id, t.name) for t in session.scalars(select(Team).order_by(Team.id))]


def test_custom_fields_crud(client, desk, in_org):
    desk.as_(desk.admin)
    response = client.post(desk.url("fields/new"),
                           data={"label": "Order number", "field_type": "number"})
    assert response.status_code == 302  # the key comes from the label
    assert client.post(desk.url("fields/new"), data={
        "label": "Plan", "key": "plan", "field_type": "dropdown",
        "options": "Starter\n Growing \n\nStarter\nEnterprise"}).status_code == 302
    assert fields_of(in_org, desk.org) == [
        ("order_number", "Order number", "number", []),
        ("plan", "Plan", "dropdown", ["Starter", "Growing", "Enterprise"])]
    plan = field_id(in_org, desk.org, "plan")
    page = client.get(desk.url(f"fields/{plan}")).get_data(as_text=True)
    assert "Starter\nGrowing\nEnterprise" in page and "<code>plan</code>" in page
    assert client.post(desk.url(f"fields/{plan}"), data={
        "label": "Subscription plan", "key": "ignored", "field_type": "dropdown",
        "options": "Free\nPaid"}).status_code == 302
    client.post(desk.url(f"fields/{plan}/move/up"))
    assert fields_of(in_org, desk.org) == [
        ("plan", "Subscription plan", "dropdown", ["Free", "Paid"]),
        ("order_number", "Order number", "number", [])]
    with in_org(desk.org.id):  # the definitions are what tickets are checked against
        assert services.clean_custom_fields({"plan": "Paid", "order_number": "42"},
                                            desk.org.id) == {
            "plan": "Paid", "order_number": 42}
    assert client.post(desk.url(f"fields/{plan}/delete")).status_code == 302
    assert [f[0] for f in fields_of(in_org, desk.org)] == ["order_number"]


def test_custom_field_validation(client, desk, in_org):
    desk.as_(desk.owner)
    client.post(desk.url("fields/new"), data={"label": "Plan", "field_type": "text"})
    duplicate = client.post(desk.url("fields/new"),
                            data={"label": "Other", "key": "plan", "field_type": "text"})
    assert duplicate.status_code == 409
    assert "A field with the key “plan” already exists." in duplicate.get_data(as_text=True)
    cases = [({"label": "X", "key": "Bad Key!", "field_type": "text"}, "Use lowercase letters"),
             ({"label": "X", "field_type": "dropdown", "options": " \n"}, "at least one option"),
             ({"label": " ", "field_type": "text"}, "Give the field a label."),
             ({"label": "X", "field_type": "colour"}, "Not a valid choice")]
    for data, message in cases:
        response = client.post(desk.url("fields/new"), data=data)
        assert response.status_code == 422 and message in response.get_data(as_text=True), data
    assert [f[0] for f in fields_of(in_org, desk.org)] == ["plan"]


def test_custom_fields_are_admin_only_and_per_org(client, desk, make_org, in_org):
    other = make_org()
    with in_org(other.id) as session:
        session.add(CustomField(key="secret", label="Secret", field_type="text"))
    foreign = field_id(in_org, other, "secret")
    desk.as_(desk.owner)
    # Keys are unique per org only: the same key in another org is fine.
    assert client.post(desk.url("fields/new"),
                       data={"label": "Secret", "field_type": "text"}).status_code == 302
    assert client.get(desk.url(f"fields/{foreign}")).status_code == 404
    for path in (f"fields/{foreign}", f"fields/{foreign}/move/up", f"fields/{foreign}/delete"):
        assert client.post(desk.url(path), data={"label": "Mine", "field_type": "text"}
                           ).status_code == 404
    mine = field_id(in_org, desk.org, "secret")
    desk.as_(desk.agent)
    assert client.post(desk.url(f"fields/{mine}/delete")).status_code == 403
    assert fields_of(in_org, other) == [("secret", "Secret", "text", [])]
    assert fields_of(in_org, desk.org) == [("secret", "Secret", "text", [])]


def test_teams_create_rename_delete(client, desk, in_org):
    desk.as_(desk.admin)
    assert client.post(desk.url("teams"), data={"name": "  Billing  "}).status_code == 302
    assert client.post(desk.url("teams"), data={"name": "Returns"}).status_code == 302
    (billing, _), (returns, _) = teams_of(in_org, desk.org)
    duplicate = client.post(desk.url("teams"), data={"name": "billing"})
    assert duplicate.status_code == 409
    assert "There is already a team called “Billing”." in duplicate.get_data(as_text=True)
    empty = client.post(desk.url("teams"), data={"name": " "})
    assert empty.status_code == 422 and "Name the team." in empty.get_data(as_text=True)
    clash = client.post(desk.url(f"teams/{returns}/rename"), data={"name": "BILLING"})
    assert clash.status_code == 409 and f'id="team-{returns}-error"' in clash.get_data(
        as_text=True)
    assert client.post(desk.url(f"teams/{returns}/rename"),
                       data={"name": "Returns & refunds"}).status_code == 302
    assert teams_of(in_org, desk.org) == [(billing, "Billing"), (returns, "Returns & refunds")]
    with in_org(desk.org.id):
        customer = services.find_or_create_customer("buyer@example.com")
        number = services.create_ticket(None, subject="Invoice", customer=customer,
                                        channel=Channel.EMAIL, body_text="Hi",
                                        team_id=billing).number
    response = client.post(desk.url(f"teams/{billing}/delete"), follow_redirects=True)
    assert "1 ticket(s) now have no team." in response.get_data(as_text=True)
    assert teams_of(in_org, desk.org) == [(returns, "Returns & refunds")]
    with in_org(desk.org.id) as session:
        ticket = services.get_ticket(number)
        assert ticket.team_id is None
        assert session.scalar(select(TicketEvent.data).where(
            TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "team")) == {
            "old": billing, "new": None}


def test_teams_are_admin_only_and_per_org(client, desk, make_org, in_org):
    other = make_org()
    with in_org(other.id) as session:
        session.add(Team(name="Theirs"))
    [(foreign, _)] = teams_of(in_org, other)
    desk.as_(desk.owner)
    assert client.post(desk.url(f"teams/{foreign}/rename"), data={"name": "Mine"}
                       ).status_code == 404
    assert client.post(desk.url(f"teams/{foreign}/delete")).status_code == 404
    client.post(desk.url("teams"), data={"name": "Theirs"})  # names are unique per org only
    [(mine, _)] = teams_of(in_org, desk.org)
    desk.as_(desk.agent)
    assert client.post(desk.url("teams"), data={"name": "Agents"}).status_code == 403
    assert client.post(desk.url(f"teams/{mine}/rename"), data={"name": "X"}).status_code == 403
    assert client.post(desk.url(f"teams/{mine}/delete")).status_code == 403
    assert teams_of(in_org, other) == [(foreign, "Theirs")]
    assert teams_of(in_org, desk.org) == [(mine, "Theirs")]
