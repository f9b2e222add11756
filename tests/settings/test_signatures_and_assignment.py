import re

from sqlalchemy import select

from helpdesk.mail.outbound import signature_for
from helpdesk.orgs.models import Membership, Organization
from helpdesk.tickets import services
from helpdesk.tickets.models import Channel


def membership_of(in_org, org, user_id):
    with in_org(org.id) as session:
        m = session.scalar(select(Membership).where(Membership.user_id == user_id))
        return m.signature, m.is_away


def org_settings(as_system, org):
    with as_system() as session:
        return dict(session.get(Organization, org.id).settings)


def test_agent_sets_their_signature(client, desk, in_org):
    desk.as_(desk.agent)
    response = client.post(desk.url("profile"), data={"signature": "Sam  \nSupport team\n"})
    assert response.status_code == 302
    assert membership_of(in_org, desk.org, desk.agent.id) == ("Sam\nSupport team", False)
    assert "Support team" in client.get(desk.url("profile")).get_data(as_text=True)
    too_long = client.post(desk.url("profile"), data={"signature": "x" * 2001})
    assert too_long.status_code == 422
    assert "2000 characters" in too_long.get_data(as_text=True)
    assert membership_of(in_org, desk.org, desk.agent.id)[0] == "Sam\nSupport team"


def test_agent_marks_themselves_away_and_back(client, desk, in_org):
    desk.as_(desk.agent)
    assert client.post(desk.url("profile/away/on")).status_code == 302
    assert membership_of(in_org, desk.org, desk.agent.id)[1] is True
    assert "I'm back" in client.get(desk.url("profile")).get_data(as_text=True)
    assert membership_of(in_org, desk.org, desk.colleague.id)[1] is False
    client.post(desk.url("profile/away/off"))
    assert membership_of(in_org, desk.org, desk.agent.id)[1] is False


def test_owner_sets_assignment_and_org_signature(client, desk, in_org, as_system):
    with as_system() as session:  # the round-robin pointer lives in the same JSON
        org = session.get(Organization, desk.org.id)
        org.settings = {**org.settings, "round_robin_last": 7}
    desk.as_(desk.owner)
    page = client.get(desk.url("assignment")).get_data(as_text=True)
    assert "Round-robin" in page and "Load-balanced" in page and "away" in page
    response = client.post(desk.url("assignment"), data={"assignment": "load_balanced",
                                                         "signature": "Acme Support"})
    assert response.status_code == 302
    settings = org_settings(as_system, desk.org)
    assert (settings["assignment"], settings["signature"], settings["round_robin_last"]) == (
        "load_balanced", "Acme Support", 7)
    page = client.get(desk.url("assignment")).get_data(as_text=True)
    assert re.search(r'<input [^>]*checked [^>]*value="load_balanced"', page)
    bad = client.post(desk.url("assignment"), data={"assignment": "random", "signature": ""})
    assert bad.status_code == 422
    assert org_settings(as_system, desk.org)["assignment"] == "load_balanced"
    desk.as_(desk.agent)
    assert client.post(desk.url("assignment"), data={"assignment": "manual"}).status_code == 403
    client.post(desk.url("profile"), data={"signature": "Sam"})
    with in_org(desk.org.id) as session:
        org = session.get(Organization, desk.org.id)
        assert signature_for(desk.agent.id, org) == "Sam\n\nAcme Support"


def test_round_robin_from_the_page_skips_agents_marked_away(client, desk, in_org):
    desk.as_(desk.owner)
    client.post(desk.url("assignment"), data={"assignment": "round_robin", "signature": ""})
    for person in (desk.owner, desk.admin, desk.colleague):
        desk.as_(person)
        client.post(desk.url("profile/away/on"))
    with in_org(desk.org.id):
        customer = services.find_or_create_customer("buyer@example.com")
        assignees = {services.create_ticket(None, subject=f"Help {n}", customer=customer,
                                            channel=Channel.EMAIL, body_text="Hi").assignee_id
                     for n in range(3)}
    assert assignees == {desk.agent.id}
