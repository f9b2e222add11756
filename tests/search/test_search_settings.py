"""The search settings page: admins choose the org's search language (its index is rebuilt by a
`search` job); agents and managers are refused as on the other admin settings pages."""

from __future__ import annotations

from helpdesk.orgs.models import Organization


def test_admin_changes_the_search_language(client, make_org, login, in_org, redis_client):
    org = make_org()
    login(org.owner_email)
    index = client.get(f"/{org.slug}/desk/settings/").get_data(as_text=True)
    assert f'href="/{org.slug}/desk/settings/search"' in index
    page = client.get(f"/{org.slug}/desk/settings/search")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert '<option selected value="simple">' in html and 'value="english"' in html
    assert "refunds" in html  # the stemming example

    response = client.post(f"/{org.slug}/desk/settings/search",
                           data={"search_language": "english"}, follow_redirects=True)
    assert response.status_code == 200
    assert "rebuilt in the background" in response.get_data(as_text=True)
    with in_org(org.id) as session:
        assert session.get(Organization, org.id).search_language == "english"
    assert redis_client.llen("rq:queue:search") == 1  # the rebuild job

    again = client.post(f"/{org.slug}/desk/settings/search",
                        data={"search_language": "english"}, follow_redirects=True)
    assert "already set" in again.get_data(as_text=True)
    assert redis_client.llen("rq:queue:search") == 1


def test_an_unknown_language_is_refused(client, make_org, login, in_org):
    org = make_org()
    login(org.owner_email)
    for language in ("klingon", "", "english'; --"):
        response = client.post(f"/{org.slug}/desk/settings/search",
                               data={"search_language": language})
        assert response.status_code == 422
    with in_org(org.id) as session:
        assert session.get(Organization, org.id).search_language == "simple"


def test_agents_and_managers_are_refused(app, make_org, make_member, in_org):
    org = make_org()
    for role in ("agent", "manager"):
        member = make_member(org, role)
        client = app.test_client()
        client.post("/login", data={"email": member.email, "password": member.password})
        assert client.get(f"/{org.slug}/desk/settings/search").status_code == 403
        response = client.post(f"/{org.slug}/desk/settings/search",
                               data={"search_language": "english"})
        assert response.status_code == 403
        index = client.get(f"/{org.slug}/desk/settings/").get_data(as_text=True)
        assert "/desk/settings/search" not in index
    with in_org(org.id) as session:
        assert session.get(Organization, org.id).search_language == "simple"
