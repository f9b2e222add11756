"""A new tenant signs up, invites an agent, and the agent joins and signs in: in Chromium."""

import re

from playwright.sync_api import expect

from worker.main import run_worker


def test_signup_invite_and_agent_login(live_server, smtp_server, page, tmp_path):
    _, mailbox = smtp_server
    base = live_server.url

    # 1. Sign up: the address is suggested from the organization name.
    page.goto(f"{base}/signup")
    page.get_by_label("Organization name").fill("Sunrise Ceramics")
    expect(page.get_by_label("Address")).to_have_value("sunrise-ceramics")
    page.get_by_label("Your name").fill("Sol Owner")
    page.get_by_label("Work email").fill("sol@sunrise.test")
    page.get_by_label("Password").fill("owner-password")
    page.get_by_role("button", name="Create organization").click()
    expect(page).to_have_url(f"{base}/sunrise-ceramics/desk/")
    expect(page.get_by_role("heading", name="Welcome, Sol Owner")).to_be_visible()
    expect(page.get_by_text("Trial of the Starter plan: 14 days left.")).to_be_visible()

    # 2. Invite an agent from the team settings.
    page.get_by_role("link", name="Team", exact=True).click()
    page.get_by_label("Email").fill("nia@sunrise.test")
    page.get_by_label("Role").select_option("agent")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_text("Invitation sent to nia@sunrise.test.")).to_be_visible()
    expect(page.get_by_test_id("invitation-row")).to_contain_text("nia@sunrise.test")

    # The worker delivers the invitation through the real SMTP server.
    with live_server.app.app_context():
        run_worker(burst=True)
    [mail] = mailbox.wait_for(1)
    link = re.search(r"(http://127\.0\.0\.1:\d+/\S+/invite/\S+)", mail.get_content()).group(1)

    # 3. Sign out, accept the invitation as the new agent.
    page.get_by_text("Sol Owner", exact=True).click()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    page.goto(link)
    page.get_by_label("Your name").fill("Nia Agent")
    page.get_by_label("Choose a password").fill("agent-password")
    page.get_by_role("button", name="Accept invitation").click()
    expect(page.get_by_role("heading", name="Welcome, Nia Agent")).to_be_visible()

    # 4. Sign out and sign in again with the new login.
    page.get_by_text("Nia Agent", exact=True).click()
    page.get_by_role("button", name="Sign out").click()
    page.get_by_label("Email").fill("nia@sunrise.test")
    page.get_by_label("Password").fill("agent-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{base}/sunrise-ceramics/desk/")
    page.get_by_role("link", name="Team", exact=True).click()
    rows = page.get_by_test_id("member-row")
    expect(rows).to_have_count(2)
    expect(rows.filter(has_text="nia@sunrise.test")).to_contain_text("agent")
    expect(page.get_by_test_id("invite-form")).to_have_count(0)  # agents cannot invite
    page.screenshot(path=str(tmp_path / "team.png"), full_page=True)


def test_wrong_password_shows_an_error_in_the_page(live_server, page):
    page.goto(f"{live_server.url}/login")
    page.get_by_label("Email").fill("nobody@sunrise.test")
    page.get_by_label("Password").fill("whatever-1")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Wrong email or password.")).to_be_visible()
