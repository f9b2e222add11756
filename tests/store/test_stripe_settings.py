"""Settings → Connect Stripe: admins and owners connect the shop's Stripe account (acct_...),
checked with Stripe (localstripe) when a key is set; others are refused; another org's page is
not there."""

from __future__ import annotations

from sqlalchemy import update

from helpdesk.customers.models import Customer
from helpdesk.orgs.models import Organization

PAGE = "/{slug}/desk/settings/stripe"


def _account(in_org, org):
    with in_org(org.id) as session:
        return session.get(Organization, org.id).stripe_account_id


def test_without_a_key_the_page_says_cash_on_delivery_only(client, make_org, login, in_org):
    org = make_org()
    login(org.owner_email)
    page = client.get(PAGE.format(slug=org.slug))
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'data-testid="stripe-disabled"' in html and "cash on delivery only" in html
    assert "2 %" in html  # the Starter plan's fee

    # The format is still checked; Stripe cannot be asked.
    response = client.post(PAGE.format(slug=org.slug), data={"account_id": " acct_1Abc2Def3Ghi "})
    assert response.status_code == 303
    assert _account(in_org, org) == "acct_1Abc2Def3Ghi"


def test_malformed_account_ids_are_refused(client, make_org, login, in_org):
    org = make_org()
    login(org.owner_email)
    for value in ("", "acct_", "acct_12", "cus_1234567890", "acct_12345678; drop",
                  "acct_" + "x" * 300, "sk_test_12345678"):
        response = client.post(PAGE.format(slug=org.slug), data={"account_id": value})
        assert response.status_code == 422, value
        assert 'class="field-error"' in response.get_data(as_text=True)
    assert _account(in_org, org) is None


def test_with_a_key_stripe_must_know_the_account(client, make_org, login, in_org, stripe_keys):
    org = make_org()
    login(org.owner_email)
    refused = client.post(PAGE.format(slug=org.slug), data={"account_id": "acct_unknown123456"})
    assert refused.status_code == 422
    assert "Stripe does not know acct_unknown123456" in refused.get_data(as_text=True)
    assert _account(in_org, org) is None

    stripe_keys.server.register_account("acct_known1234567")
    saved = client.post(PAGE.format(slug=org.slug), data={"account_id": "acct_known1234567"},
                        follow_redirects=True)
    html = saved.get_data(as_text=True)
    assert saved.status_code == 200 and "acct_known1234567 connected" in html
    assert 'data-testid="stripe-connected"' in html
    assert _account(in_org, org) == "acct_known1234567"
    again = client.post(PAGE.format(slug=org.slug), data={"account_id": "acct_known1234567"},
                        follow_redirects=True)
    assert "connected already" in again.get_data(as_text=True)


def test_a_new_account_forgets_the_customers_stripe_ids(client, make_org, make_customer, login,
                                                        in_org, stripe_keys):
    org = make_org()
    customer = make_customer(org)
    with in_org(org.id) as session:
        session.get(Organization, org.id).stripe_account_id = "acct_first1234567"
        session.execute(update(Customer).values(stripe_customer_id="cus_onfirst"))
    stripe_keys.server.register_account("acct_second123456")
    login(org.owner_email)
    response = client.post(PAGE.format(slug=org.slug), data={"account_id": "acct_second123456"})
    assert response.status_code == 303
    with in_org(org.id) as session:
        assert session.get(Customer, customer.id).stripe_customer_id is None


def test_an_account_of_another_org_is_refused(client, make_org, login, in_org):
    first, second = make_org(), make_org()
    with in_org(first.id) as session:
        session.get(Organization, first.id).stripe_account_id = "acct_taken12345678"
    login(second.owner_email)
    response = client.post(PAGE.format(slug=second.slug), data={"account_id": "acct_taken12345678"})
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "connected to another organization" in html and first.slug not in html
    assert _account(in_org, second) is None


def test_disconnect(client, make_org, login, in_org):
    org = make_org()
    with in_org(org.id) as session:
        session.get(Organization, org.id).stripe_account_id = "acct_leaving123456"
    login(org.owner_email)
    page = client.get(PAGE.format(slug=org.slug)).get_data(as_text=True)
    assert 'data-testid="stripe-disconnect-form"' in page
    response = client.post(PAGE.format(slug=org.slug) + "/disconnect", follow_redirects=True)
    assert "acct_leaving123456 disconnected" in response.get_data(as_text=True)
    assert _account(in_org, org) is None


def test_only_admins_and_owners(app, make_org, make_member, in_org):
    org = make_org()
    for role, status in (("agent", 403), ("manager", 403), ("admin", 200)):
        member = make_member(org, role)
        client = app.test_client()
        client.post("/login", data={"email": member.email, "password": member.password})
        assert client.get(PAGE.format(slug=org.slug)).status_code == status, role
        posted = client.post(PAGE.format(slug=org.slug), data={"account_id": "acct_byrole123456"})
        assert posted.status_code == (403 if status == 403 else 303), role
        if status == 403:
            assert _account(in_org, org) is None
            assert client.post(PAGE.format(slug=org.slug) + "/disconnect").status_code == 403
    anonymous = app.test_client().get(PAGE.format(slug=org.slug))
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


def test_another_orgs_page_is_not_found(client, make_org, login, in_org):
    mine, theirs = make_org(), make_org()
    with in_org(theirs.id) as session:
        session.get(Organization, theirs.id).stripe_account_id = "acct_theirs1234567"
    login(mine.owner_email)
    assert client.get(PAGE.format(slug=theirs.slug)).status_code == 404
    assert client.post(PAGE.format(slug=theirs.slug),
                       data={"account_id": "acct_mine12345678"}).status_code == 404
    assert client.post(PAGE.format(slug=theirs.slug) + "/disconnect").status_code == 404
    assert _account(in_org, theirs) == "acct_theirs1234567"
    assert _account(in_org, mine) is None
