import re

import pytest
from sqlalchemy import func, select

from helpdesk.accounts.models import User
from helpdesk.orgs.models import Membership, Organization, Role

SIGNUP = {
    "org_name": "Bright Bikes",
    "slug": "",
    "name": "Bea Bright",
    "email": "Bea@BrightBikes.test",
    "password": "a-long-password",
}


def count(session, model):
    return session.scalar(select(func.count()).select_from(model))


def test_signup_creates_org_owner_and_trial(client, as_system):
    response = client.post("/signup", data=SIGNUP)
    assert response.status_code == 302
    assert response.headers["Location"] == "/bright-bikes/desk/"
    page = client.get("/bright-bikes/desk/")
    assert page.status_code == 200
    assert "Trial of the Starter plan: 14 days left" in page.get_data(as_text=True)
    with as_system() as session:
        org = session.scalar(select(Organization).where(Organization.slug == "bright-bikes"))
        assert org.plan == "starter"
        assert 13.9 < (org.trial_ends_at - org.created_at).total_seconds() / 86400 <= 14.01
        membership = session.scalar(select(Membership).where(Membership.org_id == org.id))
        assert membership.role is Role.OWNER
        assert membership.user.email == "bea@brightbikes.test"
        assert membership.user.password_hash.startswith("scrypt:")


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"email": "not-an-email"}, "email", "valid email"),
        ({"password": "short"}, "password", "8 to 200"),
        ({"org_name": ""}, "org_name", "Name your organization"),
        ({"slug": "Bad Slug!"}, "slug", "lowercase letters"),
        ({"slug": "api"}, "slug", "reserved"),
    ],
)
def test_signup_rejects_bad_fields_and_writes_nothing(client, as_system, change, field, message):
    with as_system() as session:
        before = (count(session, Organization), count(session, User))
    response = client.post("/signup", data={**SIGNUP, **change})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'id="{field}-error"' in html and message in html
    with as_system() as session:
        assert (count(session, Organization), count(session, User)) == before


def test_signup_with_taken_slug_or_email_says_so(client, make_org):
    org = make_org("taken")
    response = client.post("/signup", data={**SIGNUP, "slug": "taken"})
    assert response.status_code == 422
    assert "already taken" in response.get_data(as_text=True)
    response = client.post("/signup", data={**SIGNUP, "email": org.owner_email})
    assert response.status_code == 422
    assert "already exists" in response.get_data(as_text=True)


def test_signed_in_user_creates_a_second_org(client, make_org, login):
    org = make_org()
    login(org.owner_email)
    response = client.post("/signup", data={"org_name": "Second Shop", "slug": "second-shop"})
    assert response.status_code == 302
    page = client.get("/second-shop/desk/").get_data(as_text=True)
    # The org switcher lists both.
    assert "Second Shop" in page and f"/{org.slug}/desk/" in page


def test_login_goes_to_the_only_org_or_to_the_picker(client, make_org, make_member, login):
    a, b = make_org(), make_org()
    response = login(a.owner_email)
    assert response.status_code == 302 and response.headers["Location"] == f"/{a.slug}/desk/"
    client.post("/logout")
    make_member(b, "agent", email=a.owner_email)
    response = login(a.owner_email)
    assert response.headers["Location"] == "/orgs"
    picker = client.get("/orgs").get_data(as_text=True)
    assert f"/{a.slug}/desk/" in picker and f"/{b.slug}/desk/" in picker


def test_wrong_password_is_401_with_a_message(client, make_org, login):
    org = make_org()
    response = login(org.owner_email, "wrong-password")
    assert response.status_code == 401
    assert "Wrong email or password." in response.get_data(as_text=True)
    assert client.get(f"/{org.slug}/desk/").status_code == 302  # still anonymous


def test_login_is_rate_limited_in_redis(app, client, make_org, login, redis_client):
    org = make_org()
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert login(org.owner_email, "nope-nope").status_code == 401
    response = login(org.owner_email)  # even the right password is refused now
    assert response.status_code == 429
    assert "Too many failed sign-in attempts" in response.get_data(as_text=True)
    assert list(redis_client.scan_iter("login-fail:*"))
    redis_client.flushdb()
    assert login(org.owner_email).status_code == 302


def test_logout_needs_post_and_ends_the_session(client, make_org, login):
    org = make_org()
    login(org.owner_email)
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 302
    assert client.get(f"/{org.slug}/desk/").status_code == 302


def test_login_ignores_offsite_next(client, make_org, login):
    org = make_org()
    response = client.post("/login?next=https://evil.example/", data={
        "email": org.owner_email, "password": org.password})
    assert response.headers["Location"] == f"/{org.slug}/desk/"


def test_password_reset_by_emailed_link(client, make_org, smtp, run_jobs, login):
    org = make_org()
    response = client.post("/password/forgot", data={"email": org.owner_email})
    assert response.status_code == 302
    run_jobs()
    [mail] = smtp.wait_for(1)
    assert mail["To"] == org.owner_email
    link = re.search(r"http://localhost(/password/reset/\S+)", mail.get_content()).group(1)
    assert client.get(link).status_code == 200
    mismatch = client.post(link, data={"password": "new-password-1", "confirm": "other-one-2"})
    assert mismatch.status_code == 422
    response = client.post(link, data={"password": "new-password-1", "confirm": "new-password-1"})
    assert response.status_code == 302
    client.post("/logout")
    assert login(org.owner_email, org.password).status_code == 401
    assert login(org.owner_email, "new-password-1").status_code == 302
    # The link worked once.
    assert client.get(link).status_code == 404


def test_password_reset_for_unknown_email_sends_nothing(client, smtp, run_jobs):
    response = client.post("/password/forgot", data={"email": "nobody@example.com"},
                           follow_redirects=True)
    assert "If an account exists" in response.get_data(as_text=True)
    run_jobs()
    assert smtp.messages == []


def test_forged_reset_token_is_404(client):
    assert client.get("/password/reset/not-a-token").status_code == 404


def test_logout_ends_the_session_even_for_a_copied_cookie(app, client, make_org, login):
    org = make_org()
    login(org.owner_email)
    copy = app.test_client()
    copy.set_cookie("session", client.get_cookie("session").value)
    assert copy.get(f"/{org.slug}/desk/").status_code == 200
    client.post("/logout")
    assert copy.get(f"/{org.slug}/desk/").status_code == 302  # back to the login page


def test_password_reset_signs_out_every_other_session(app, client, make_org, login, smtp,
                                                      run_jobs):
    org = make_org()
    other_device = app.test_client()
    other_device.post("/login", data={"email": org.owner_email, "password": org.password})
    assert other_device.get(f"/{org.slug}/desk/").status_code == 200
    client.post("/password/forgot", data={"email": org.owner_email})
    run_jobs()
    link = re.search(r"http://localhost(/password/reset/\S+)",
                     smtp.wait_for(1)[0].get_content()).group(1)
    client.post(link, data={"password": "new-password-1", "confirm": "new-password-1"})
    assert client.get(f"/{org.slug}/desk/").status_code == 200  # the resetting browser stays in
    assert other_device.get(f"/{org.slug}/desk/").status_code == 302


def test_the_same_email_in_two_unicode_spellings_is_one_account(client):
    composed = {**SIGNUP, "email": "jos\u00e9@example.com", "slug": "one"}
    decomposed = {**SIGNUP, "email": "jose\u0301@example.com", "slug": "two"}
    assert client.post("/signup", data=composed).status_code == 302
    client.post("/logout")
    response = client.post("/signup", data=decomposed)
    assert response.status_code == 422 and "already exists" in response.get_data(as_text=True)


def test_blank_names_and_space_passwords_are_field_errors(client):
    response = client.post("/signup", data={**SIGNUP, "org_name": "   ", "name": "  "})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="org_name-error"' in html and 'id="name-error"' in html
    response = client.post("/signup", data={**SIGNUP, "password": " " * 12})
    assert response.status_code == 422 and "not only spaces" in response.get_data(as_text=True)


def test_sessions_expire_one_by_one_and_inactive_users_are_signed_out(
        app, client, make_org, login, as_system, redis_client):
    from helpdesk.accounts import sessions
    from helpdesk.accounts.models import User

    org = make_org()
    login(org.owner_email)
    assert client.get(f"/{org.slug}/desk/").status_code == 200
    key = f"staff-sessions:{org.owner_id}"
    [(session_id, started)] = redis_client.zrange(key, 0, -1, withscores=True)
    redis_client.zadd(key, {session_id: started - sessions.MAX_AGE - 1})  # 30 days old
    assert client.get(f"/{org.slug}/desk/").status_code == 302
    login(org.owner_email)
    with as_system() as session:
        session.get(User, org.owner_id).is_active_account = False
    assert client.get(f"/{org.slug}/desk/").status_code == 302
