import pytest
from sqlalchemy import select

from helpdesk.tickets import canned
from helpdesk.tickets.models import CannedResponse


def add_canned(in_org, org, owner_id, title="Refund policy", body="Hi {{ customer.name }}"):
    with in_org(org.id) as session:
        response = CannedResponse(title=title, body=body, owner_user_id=owner_id)
        session.add(response)
        session.flush()
        return response.id


def rows(in_org, org):
    with in_org(org.id) as session:
        return [(c.title, c.body, c.owner_user_id) for c in
                session.scalars(select(CannedResponse).order_by(CannedResponse.id))]


def test_agent_creates_edits_and_deletes_a_personal_response(client, desk, in_org):
    desk.as_(desk.agent)
    response = client.post(desk.url("canned/new"),
                           data={"title": "Shipping", "body": "It ships in {{ 2 }} days."})
    assert response.status_code == 302 and response.headers["Location"].endswith("/canned")
    [(title, body, owner)] = rows(in_org, desk.org)
    assert (title, owner) == ("Shipping", desk.agent.id)
    with in_org(desk.org.id) as session:
        canned_id = session.scalar(select(CannedResponse.id))
    page = client.get(desk.url("canned")).get_data(as_text=True)
    assert "Shipping" in page and "only you" in page
    assert client.post(desk.url(f"canned/{canned_id}"),
                       data={"title": "Shipping times", "body": "Two days."}).status_code == 302
    assert rows(in_org, desk.org) == [("Shipping times", "Two days.", desk.agent.id)]
    assert client.post(desk.url(f"canned/{canned_id}/delete")).status_code == 302
    assert rows(in_org, desk.org) == []


def test_missing_title_and_body_are_422_with_field_messages(client, desk, in_org):
    desk.as_(desk.agent)
    response = client.post(desk.url("canned/new"), data={"title": " ", "body": ""})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Give it a title." in html and "Write the response." in html
    assert rows(in_org, desk.org) == []


def test_only_admins_share_responses(client, desk, in_org):
    desk.as_(desk.agent)
    response = client.post(desk.url("canned/new"),
                           data={"title": "Team", "body": "x", "shared": "y"})
    assert response.status_code == 403
    assert rows(in_org, desk.org) == []
    desk.as_(desk.admin)
    assert client.post(desk.url("canned/new"),
                       data={"title": "Team", "body": "x", "shared": "y"}).status_code == 302
    assert rows(in_org, desk.org) == [("Team", "x", None)]


def test_agents_see_shared_responses_but_cannot_change_them(client, desk, in_org):
    shared_id = add_canned(in_org, desk.org, None, title="Welcome")
    with in_org(desk.org.id) as session:
        session.get(CannedResponse, shared_id).usage_count = 3
    desk.as_(desk.agent)
    page = client.get(desk.url("canned")).get_data(as_text=True)
    assert "Welcome" in page and "shared" in page and "3 times" in page
    view = client.get(desk.url(f"canned/{shared_id}"))
    assert view.status_code == 200 and "only admins and owners can change it" in view.get_data(
        as_text=True)
    assert client.post(desk.url(f"canned/{shared_id}"),
                       data={"title": "Mine now", "body": "x"}).status_code == 403
    assert client.post(desk.url(f"canned/{shared_id}/delete")).status_code == 403
    assert rows(in_org, desk.org) == [("Welcome", "Hi {{ customer.name }}", None)]
    desk.as_(desk.admin)
    assert client.post(desk.url(f"canned/{shared_id}"),
                       data={"title": "Welcome!", "body": "Hello", "shared": "y"}
                       ).status_code == 302
    assert client.post(desk.url(f"canned/{shared_id}/delete")).status_code == 302
    assert rows(in_org, desk.org) == []


def test_a_colleagues_personal_response_is_invisible(client, desk, in_org):
    theirs = add_canned(in_org, desk.org, desk.colleague.id, title="Colleague's secret")
    for person in (desk.agent, desk.owner):
        desk.as_(person)
        assert "Colleague's secret" not in client.get(desk.url("canned")).get_data(as_text=True)
        assert client.get(desk.url(f"canned/{theirs}")).status_code == 404
        assert client.post(desk.url(f"canned/{theirs}"),
                           data={"title": "x", "body": "y"}).status_code == 404
        assert client.post(desk.url(f"canned/{theirs}/delete")).status_code == 404
    assert rows(in_org, desk.org)[0][0] == "Colleague's secret"


def test_another_orgs_response_is_404(client, desk, make_org, in_org):
    other = make_org()
    foreign = add_canned(in_org, other, None)
    desk.as_(desk.owner)
    assert client.get(desk.url(f"canned/{foreign}")).status_code == 404
    assert client.post(desk.url(f"canned/{foreign}"),
                       data={"title": "x", "body": "y", "shared": "y"}).status_code == 404
    assert client.post(desk.url(f"canned/{foreign}/delete")).status_code == 404
    assert rows(in_org, other) == [("Refund policy", "Hi {{ customer.name }}", None)]


def test_preview_fills_placeholders_with_sample_data(client, desk, in_org):
    desk.as_(desk.agent)
    body = ("Hi {{ customer.name }}, ticket #{{ ticket.number }}. {{ unknown.thing }}"
            "-- {{ agent.name }}, {{ org.name }}")
    response = client.post(desk.url("canned/new"),
                           data={"title": "", "body": body, "preview": "1"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Hi Jane Doe, ticket #1042. -- Agent " in html and "Org " in html
    assert rows(in_org, desk.org) == []  # previewing saves nothing
    live = client.post(desk.url("canned/preview"), data={"body": body})
    assert live.status_code == 200 and live.mimetype == "text/plain"
    assert live.get_data(as_text=True).startswith("Hi Jane Doe, ticket #1042. -- Agent ")


def test_a_broken_template_is_shown_as_written(client, desk, in_org):
    desk.as_(desk.agent)
    for body in ("Hi {{ customer.name", "{% if %}", "{{ 1 / 0 }}", "{{ ticket.number + 'a' }}",
                 "{{ 99999999 ** 99999999 }}", "{{ 'x' * 1000000000 }}",
                 "{{ ''.__class__.__mro__[1].__subclasses__() }}"):
        live = client.post(desk.url("canned/preview"), data={"body": body})
        assert live.status_code == 200 and live.get_data(as_text=True) == body, body
    broken = add_canned(in_org, desk.org, desk.agent.id, body="{{ 1 / 0 }} {{ customer.name")
    page = client.get(desk.url(f"canned/{broken}"))
    assert page.status_code == 200 and "{{ 1 / 0 }} {{ customer.name" in page.get_data(
        as_text=True)
    # Arithmetic, loops and other filters are not part of the placeholder language at all.
    for body in ("{{ 2 ** 10 }}", "{% for i in range(3) %}x{% endfor %}", "{{ 'x'|center(9) }}"):
        assert canned.render(body, {}) == body
        with pytest.raises(canned.TemplateRejected):
            canned.check_template(body)
