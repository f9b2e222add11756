"""Saved searches in the desk: save from the results page, open, edit, delete; who sees and who
changes which view; the inbox sidebar; another org's or another user's personal view is a 404."""

from __future__ import annotations

import re
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from helpdesk.search.models import SavedView


@pytest.fixture
def team(app, make_org, make_member):
    org = make_org()
    members = {role: make_member(org, role) for role in ("agent", "manager", "admin")}
    members["colleague"] = make_member(org, "agent")

    def as_user(name: str):
        client = app.test_client()
        user = members[name]
        client.post("/login", data={"email": user.email, "password": user.password})
        return client

    return SimpleNamespace(org=org, members=members, as_user=as_user,
                           url=lambda path: f"/{org.slug}/desk/{path}")


def save(client, team, name="Urgent refunds", status=303, **fields):
    data = {"name": name, "q": "refund", "priority": "urgent", "status": "new,open", **fields}
    response = client.post(team.url("views"), data=data)
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    return response


def view_id(response) -> int:
    return int(re.search(r"/views/(\d+)$", response.headers["Location"]).group(1))


def views_in_db(in_org, org) -> list[tuple[str, bool]]:
    with in_org(org.id) as session:
        return [(view.name, view.is_shared) for view in
                session.scalars(select(SavedView).order_by(SavedView.id))]


def test_save_open_edit_delete(team, in_org):
    agent = team.as_user("agent")
    created = save(agent, team)
    number = view_id(created)
    opened = agent.get(created.headers["Location"])
    assert opened.status_code == 302
    args = parse_qs(urlsplit(opened.headers["Location"]).query)
    assert args == {"q": ["refund"], "priority": ["urgent"], "status": ["new,open"],
                    "view": [str(number)]}
    html = agent.get(opened.headers["Location"]).get_data(as_text=True)
    assert "Urgent refunds" in html and 'aria-current="page"' in html
    assert 'data-testid="search-note"' not in html  # the saved filters are all valid

    # The inbox sidebar lists it.
    inbox = agent.get(team.url("tickets/")).get_data(as_text=True)
    assert f'href="/{team.org.slug}/desk/views/{number}"' in inbox and "Urgent refunds" in inbox

    form = agent.get(team.url(f"views/{number}/edit"))
    assert form.status_code == 200 and 'value="Urgent refunds"' in form.get_data(as_text=True)
    assert 'name="shared"' not in form.get_data(as_text=True)  # agents do not share
    edited = agent.post(team.url(f"views/{number}/edit"),
                        data={"name": "Mine, renamed", "q": "kettle", "type": "tickets",
                              "assignee": "me", "sort": "relevance"})
    assert edited.status_code == 303
    opened = agent.get(team.url(f"views/{number}"))
    args = parse_qs(urlsplit(opened.headers["Location"]).query)
    assert args == {"q": ["kettle"], "type": ["tickets"], "assignee": ["me"],
                    "sort": ["relevance"], "view": [str(number)]}

    assert agent.post(team.url(f"views/{number}/delete")).status_code == 303
    assert views_in_db(in_org, team.org) == []
    assert agent.get(team.url(f"views/{number}")).status_code == 404


def test_saving_needs_a_name_and_something_to_search(team, in_org):
    agent = team.as_user("agent")
    html = save(agent, team, name="  ", status=422).get_data(as_text=True)
    assert "Give the view a name." in html
    assert 'data-testid="save-view-form"' in html and 'value="refund"' in html  # kept
    response = agent.post(team.url("views"), data={"name": "Nothing", "q": " "})
    assert response.status_code == 422
    assert "A view needs words to search for" in response.get_data(as_text=True)
    # Filters that the search does not take are not kept.
    created = save(agent, team, name="Odd", priority="lost", page="3")
    args = parse_qs(urlsplit(agent.get(created.headers["Location"]).headers["Location"]).query)
    assert "priority" not in args and "page" not in args and args["status"] == ["new,open"]
    assert views_in_db(in_org, team.org) == [("Odd", False)]


def test_an_agent_cannot_share(team, in_org):
    agent = team.as_user("agent")
    html = agent.get(team.url("search"), query_string={"q": "refund"}).get_data(as_text=True)
    assert 'data-testid="save-view-form"' in html and 'name="shared"' not in html
    response = save(agent, team, shared="y", status=422)
    assert "Only managers and admins can share views." in response.get_data(as_text=True)
    number = view_id(save(agent, team))
    response = agent.post(team.url(f"views/{number}/edit"),
                          data={"name": "Shared now?", "q": "refund", "shared": "y"})
    assert response.status_code == 422
    assert views_in_db(in_org, team.org) == [("Urgent refunds", False)]


def test_who_sees_and_changes_which_view(team):
    manager, colleague, admin = (team.as_user(name) for name in ("manager", "colleague",
                                                                 "admin"))
    html = manager.get(team.url("search"), query_string={"q": "refund"}).get_data(as_text=True)
    assert 'name="shared"' in html
    shared = view_id(save(manager, team, name="Team refunds", shared="y"))
    personal = view_id(save(team.as_user("agent"), team, name="Agent's own"))

    inbox = colleague.get(team.url("tickets/")).get_data(as_text=True)
    assert "Team refunds" in inbox and "shared" in inbox and "Agent's own" not in inbox
    assert colleague.get(team.url(f"views/{shared}")).status_code == 302
    for path in (f"views/{personal}", f"views/{personal}/edit"):
        assert colleague.get(team.url(path)).status_code == 404
        assert admin.get(team.url(path)).status_code == 404  # personal even for admins
    assert colleague.post(team.url(f"views/{personal}/delete")).status_code == 404
    # A shared view is the manager's to change (or an admin's), not another agent's.
    assert colleague.get(team.url(f"views/{shared}/edit")).status_code == 404
    assert colleague.post(team.url(f"views/{shared}/delete")).status_code == 404
    response = admin.post(team.url(f"views/{shared}/edit"),
                          data={"name": "Refunds (team)", "q": "refund", "shared": "y"})
    assert response.status_code == 303
    edit_links = re.findall(r'/views/(\d+)/edit', admin.get(team.url("search")).get_data(
        as_text=True))
    assert edit_links == [str(shared)]
    # Unsharing makes it personal to its owner again.
    assert manager.post(team.url(f"views/{shared}/edit"),
                        data={"name": "Back to me", "q": "refund"}).status_code == 303
    assert colleague.get(team.url(f"views/{shared}")).status_code == 404


def test_bad_filters_on_the_edit_form_are_field_errors(team):
    agent = team.as_user("agent")
    number = view_id(save(agent, team))
    response = agent.post(team.url(f"views/{number}/edit"),
                          data={"name": "Dates", "q": "refund", "from": "yesterday",
                                "status": "lost"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="v-from-error"' in html and 'id="v-status-error"' in html
    assert 'value="yesterday"' in html  # shown back to be corrected


def test_another_orgs_view_is_not_found(team, make_org, make_member, app):
    number = view_id(save(team.as_user("manager"), team, shared="y"))
    other_org = make_org()
    outsider = make_member(other_org, "admin")
    client = app.test_client()
    client.post("/login", data={"email": outsider.email, "password": outsider.password})
    base = f"/{other_org.slug}/desk/views/{number}"
    assert client.get(base).status_code == 404
    assert client.get(base + "/edit").status_code == 404
    assert client.post(base + "/edit", data={"name": "x", "q": "y"}).status_code == 404
    assert client.post(base + "/delete").status_code == 404
    html = client.get(f"/{other_org.slug}/desk/tickets/").get_data(as_text=True)
    assert "Urgent refunds" not in html
    # And the view's own org does not exist for a non-member.
    assert client.get(team.url(f"views/{number}")).status_code == 404


def test_the_inbox_lists_views_with_one_query(team, app):
    """The sidebar's saved views cost the inbox a single statement."""
    from sqlalchemy import event

    from helpdesk.extensions import db

    agent = team.as_user("agent")
    for n in range(3):
        save(agent, team, name=f"View {n}")
    statements = []

    def count(conn, cursor, statement, *args):
        if "saved_views" in statement:
            statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        html = agent.get(team.url("tickets/")).get_data(as_text=True)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert all(f"View {n}" in html for n in range(3))
    assert len(statements) == 1
