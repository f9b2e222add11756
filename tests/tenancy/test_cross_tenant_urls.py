"""Another tenant's URL or object id is a 404, in pages and in the API."""

from sqlalchemy import select

from helpdesk.orgs.models import Invitation, Membership


def test_desk_of_an_org_you_are_not_in_is_404(client, make_org, login):
    a, b = make_org(), make_org()
    login(a.owner_email)
    assert client.get(f"/{a.slug}/desk/").status_code == 200
    for path in ("/desk/", "/desk/settings/team", "/desk/settings/tokens"):
        assert client.get(f"/{b.slug}{path}").status_code == 404


def test_unknown_org_slug_is_404(client, make_org, login):
    a = make_org()
    login(a.owner_email)
    assert client.get("/no-such-org/desk/").status_code == 404
    assert client.get("/no-such-org/shop/").status_code == 404


def test_another_orgs_customer_id_is_404(client, make_org, make_customer, login):
    a, b = make_org(), make_org()
    own = make_customer(a, "c@example.com")
    theirs = make_customer(b, "c@example.com")
    login(a.owner_email)
    assert client.get(f"/{a.slug}/desk/customers/{own.id}").status_code == 200
    assert client.get(f"/{a.slug}/desk/customers/{theirs.id}").status_code == 404


def test_another_orgs_member_and_invitation_ids_are_404(client, make_org, make_member, login,
                                                         in_org, as_system):
    a, b = make_org(), make_org()
    victim = make_member(b, "agent")
    login(b.owner_email)
    client.post(f"/{b.slug}/desk/settings/team/invitations", data={"email": "v@example.com",
                                                                   "role": "agent"})
    client.post("/logout")
    with in_org(b.id) as session:
        member_id = session.scalar(select(Membership.id).where(Membership.user_id == victim.id))
        invitation_id = session.scalar(select(Invitation.id))
    login(a.owner_email)
    base = f"/{a.slug}/desk/settings/team"
    assert client.post(f"{base}/members/{member_id}/remove").status_code == 404
    assert client.post(f"{base}/members/{member_id}/role", data={"role": "admin"}).status_code \
        == 404
    assert client.post(f"{base}/invitations/{invitation_id}/revoke").status_code == 404
    with as_system() as session:
        assert session.get(Membership, member_id) is not None
        assert session.get(Invitation, invitation_id) is not None


def test_invitation_token_only_works_under_its_own_org(client, make_org, login, smtp, run_jobs):
    import re

    a, b = make_org(), make_org()
    login(a.owner_email)
    client.post(f"/{a.slug}/desk/settings/team/invitations", data={"email": "n@example.com",
                                                                   "role": "agent"})
    run_jobs()
    path = re.search(r"http://localhost(/\S+)", smtp.wait_for(1)[0].get_content()).group(1)
    token = path.rsplit("/", 1)[1]
    client.post("/logout")
    assert client.get(f"/{b.slug}/invite/{token}").status_code == 404
    assert client.get(path).status_code == 200
