import re

from sqlalchemy import select

from helpdesk.orgs.models import Invitation, Membership, Role


def invite(client, org, email, role="agent"):
    return client.post(f"/{org.slug}/desk/settings/team/invitations",
                       data={"email": email, "role": role})


def test_invite_mails_a_link_that_creates_the_agent(client, make_org, login, smtp, run_jobs,
                                                    as_system):
    org = make_org()
    login(org.owner_email)
    response = invite(client, org, "New.Agent@Example.com")
    assert response.status_code == 302
    run_jobs()
    [mail] = smtp.wait_for(1)
    assert mail["To"] == "new.agent@example.com"
    path = re.search(r"http://localhost(/\S+/invite/\S+)", mail.get_content()).group(1)
    client.post("/logout")
    page = client.get(path)
    assert page.status_code == 200 and "as <strong>agent</strong>" in page.get_data(as_text=True)
    bad = client.post(path, data={"name": "", "password": "x"})
    assert bad.status_code == 422
    response = client.post(path, data={"name": "Nia Agent", "password": "agent-password"})
    assert response.status_code == 302 and response.headers["Location"] == f"/{org.slug}/desk/"
    assert client.get(f"/{org.slug}/desk/").status_code == 200
    # The link is spent.
    assert client.get(path).status_code == 404
    with as_system() as session:
        membership = session.scalar(
            select(Membership).where(Membership.org_id == org.id, Membership.role == Role.AGENT)
        )
        assert membership.user.email == "new.agent@example.com"


def test_existing_user_signs_in_then_accepts(client, make_org, login, smtp, run_jobs):
    org, other = make_org(), make_org()
    login(org.owner_email)
    invite(client, org, other.owner_email, "manager")
    run_jobs()
    path = re.search(r"http://localhost(/\S+)", smtp.wait_for(1)[0].get_content()).group(1)
    client.post("/logout")
    assert "Sign in to accept" in client.get(path).get_data(as_text=True)
    login(other.owner_email)
    assert client.post(path).status_code == 302
    assert client.get(f"/{org.slug}/desk/").status_code == 200


def test_agent_limit_of_the_plan_is_enforced_with_a_clear_message(client, make_org, make_member,
                                                                  login):
    org = make_org()  # Starter: 3 agents
    make_member(org, "agent")
    login(org.owner_email)
    assert invite(client, org, "third@example.com").status_code == 302
    response = invite(client, org, "fourth@example.com")
    assert response.status_code == 403
    html = response.get_data(as_text=True)
    assert "Starter plan includes 3 agents" in html and "Upgrade to Growing" in html


def test_reinviting_replaces_the_open_invitation(client, make_org, login, in_org):
    org = make_org()
    login(org.owner_email)
    invite(client, org, "again@example.com")
    invite(client, org, "again@example.com", "admin")
    with in_org(org.id) as session:
        rows = session.scalars(select(Invitation)).all()
        assert [(i.email, i.role) for i in rows] == [("again@example.com", Role.ADMIN)]


def test_inviting_a_member_again_is_a_conflict(client, make_org, login):
    org = make_org()
    login(org.owner_email)
    response = invite(client, org, org.owner_email)
    assert response.status_code == 409
    assert "already on the team" in response.get_data(as_text=True)


def test_agents_cannot_invite_and_admins_cannot_make_owners(client, make_org, make_member, login):
    org = make_org()
    agent = make_member(org, "agent")
    admin = make_member(org, "admin")
    login(agent.email)
    assert invite(client, org, "x@example.com").status_code == 403
    client.post("/logout")
    login(admin.email)
    response = invite(client, org, "y@example.com", "owner")
    assert response.status_code == 403
    assert "Only an owner" in response.get_data(as_text=True)


def test_change_role_and_last_owner_protection(client, make_org, make_member, login, in_org):
    org = make_org()
    agent = make_member(org, "agent")
    login(org.owner_email)
    with in_org(org.id) as session:
        ids = {m.user_id: m.id for m in session.scalars(select(Membership))}
    response = client.post(f"/{org.slug}/desk/settings/team/members/{ids[agent.id]}/role",
                           data={"role": "manager"}, follow_redirects=True)
    assert "is now manager" in response.get_data(as_text=True)
    # An admin cannot remove an owner at all.
    admin = make_member(org, "admin")
    client.post("/logout")
    login(admin.email)
    response = client.post(f"/{org.slug}/desk/settings/team/members/{ids[org.owner_id]}/remove",
                           follow_redirects=True)
    assert "Only an owner can make someone an owner or change an owner." in \
        response.get_data(as_text=True)
    # The only owner cannot demote or remove themselves: the org needs an owner.
    client.post("/logout")
    login(org.owner_email)
    for action, data in (("role", {"role": "admin"}), ("remove", {})):
        response = client.post(
            f"/{org.slug}/desk/settings/team/members/{ids[org.owner_id]}/{action}",
            data=data, follow_redirects=True)
        assert "An organization needs at least one owner." in response.get_data(as_text=True)
    with in_org(org.id) as session:
        owner = session.get(Membership, ids[org.owner_id])
        assert owner is not None and owner.role.value == "owner"


def test_remove_member_frees_the_seat(client, make_org, make_member, login, in_org):
    org = make_org()
    agent = make_member(org, "agent")
    login(org.owner_email)
    with in_org(org.id) as session:
        membership_id = session.scalar(select(Membership.id).where(Membership.user_id == agent.id))
    response = client.post(f"/{org.slug}/desk/settings/team/members/{membership_id}/remove",
                           follow_redirects=True)
    assert "was removed" in response.get_data(as_text=True)
    client.post("/logout")
    login(agent.email)
    assert client.get(f"/{org.slug}/desk/").status_code == 404


def test_team_page_lists_members(client, make_org, make_member, login):
    org = make_org()
    agent = make_member(org, "agent")
    login(agent.email)
    html = client.get(f"/{org.slug}/desk/settings/team").get_data(as_text=True)
    assert org.owner_email in html and agent.email in html
    assert "Invite a teammate" not in html  # agents see the team but cannot manage it


def test_signed_in_as_someone_else_can_switch_to_accept(client, make_org, login, smtp,
                                                        run_jobs):
    org, invited, bystander = make_org(), make_org(), make_org()
    login(org.owner_email)
    invite(client, org, invited.owner_email)
    run_jobs()
    path = re.search(r"http://localhost(/\S+)", smtp.wait_for(1)[0].get_content()).group(1)
    client.post("/logout")
    login(bystander.owner_email)
    page = client.get(path).get_data(as_text=True)
    assert "Sign out and switch account" in page
    response = client.post("/logout", data={"next": path})
    assert response.headers["Location"].startswith("/login?next=")
    response = client.post(response.headers["Location"],
                           data={"email": invited.owner_email, "password": invited.password})
    assert response.headers["Location"] == path
    assert client.post(path).status_code == 302
    assert client.get(f"/{org.slug}/desk/").status_code == 200


def test_an_admin_leaving_lands_on_the_org_picker(client, make_org, make_member, login, in_org):
    org = make_org()
    admin = make_member(org, "admin")
    login(admin.email)
    with in_org(org.id) as session:
        own_id = session.scalar(select(Membership.id).where(Membership.user_id == admin.id))
    response = client.post(f"/{org.slug}/desk/settings/team/members/{own_id}/remove")
    assert response.headers["Location"] == "/orgs"
