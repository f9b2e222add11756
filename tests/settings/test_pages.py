import pytest

ADMIN_PAGES = ["rules", "rules/new", "fields", "fields/new", "teams", "assignment"]
AGENT_PAGES = ["", "canned", "canned/new", "profile"]


@pytest.mark.parametrize("path", AGENT_PAGES + ADMIN_PAGES)
def test_owner_and_admin_see_every_page(client, desk, path):
    for person in (desk.owner, desk.admin):
        desk.as_(person)
        response = client.get(desk.url(path))
        assert response.status_code == 200, (person.email, path)
        assert "<script>" not in response.get_data(as_text=True)  # CSP: static scripts only


@pytest.mark.parametrize("path", AGENT_PAGES)
def test_agent_sees_personal_pages(client, desk, path):
    desk.as_(desk.agent)
    assert client.get(desk.url(path)).status_code == 200


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_agent_and_manager_get_403_on_admin_pages(client, desk, make_member, path):
    desk.as_(desk.agent)
    assert client.get(desk.url(path)).status_code == 403
    desk.as_(make_member(desk.org, "manager"))
    assert client.get(desk.url(path)).status_code == 403


def test_index_links_what_the_role_may_open(client, desk):
    desk.as_(desk.agent)
    html = client.get(desk.url()).get_data(as_text=True)
    for path in ("canned", "profile", "tokens", "team"):
        assert f'href="{desk.url(path)}"' in html
    for path in ("rules", "fields", "teams", "assignment"):
        assert f'href="{desk.url(path)}"' not in html
    desk.as_(desk.owner)
    html = client.get(desk.url()).get_data(as_text=True)
    for path in ("canned", "profile", "tokens", "team", "rules", "fields", "teams", "assignment"):
        assert f'href="{desk.url(path)}"' in html


def test_strangers_get_404_and_anonymous_users_the_login_page(client, desk, make_org, login):
    stranger = make_org()
    login(stranger.owner_email)
    assert client.get(desk.url()).status_code == 404
    assert client.get(desk.url("rules")).status_code == 404
    client.post("/logout")
    response = client.get(desk.url("canned"))
    assert response.status_code == 302 and "/login" in response.headers["Location"]
