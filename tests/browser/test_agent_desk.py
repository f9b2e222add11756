"""An agent works the desk in Chromium: inbox, keyboard, canned response, reply, a note that
mentions a colleague (in-app and by mail), solving, and merging two tickets."""

import os
import re
from pathlib import Path
from types import SimpleNamespace

from playwright.sync_api import expect
from sqlalchemy import select

from helpdesk.accounts import services as accounts
from helpdesk.core import tenancy
from helpdesk.extensions import db
from helpdesk.orgs import services as orgs
from helpdesk.orgs.models import Membership, Role
from helpdesk.tickets import services
from helpdesk.tickets.models import CannedResponse, Channel, Notification, Ticket
from worker.main import run_worker

PASSWORD = "desk-password-1"


def seed(app) -> SimpleNamespace:
    """A tenant with two agents, a customer with three tickets and a shared canned response."""
    with app.app_context():
        with tenancy.system_scope():
            sam = accounts.create_user(email="sam@trail.test", name="Sam Rivera",
                                       password=PASSWORD)
            org = orgs.create_org(name="Trail Supply", slug="trail", owner=sam)
            nia = accounts.create_user(email="nia.park@trail.test", name="Nia Park",
                                       password=PASSWORD)
            db.session.add(Membership(org_id=org.id, user=nia, role=Role.AGENT))
            db.session.flush()
        tenancy.set_current_org(org.id)
        ada = services.find_or_create_customer("ada@example.com", "Ada Lovelace")
        numbers = [services.create_ticket(None, subject=subject, body_text=body, customer=ada,
                                          channel=Channel.EMAIL).number
                   for subject, body in (
                       ("Tent pole snapped", "The front pole broke on the first night."),
                       ("Order 1042 late", "My order has not arrived."),
                       ("Still no order 1042", "Any news about my order?"))]
        db.session.add(CannedResponse(title="Replacement part", owner_user_id=None,
                                      body="Hi {{ customer.name }}, a replacement is on its way."))
        db.session.commit()
        return SimpleNamespace(slug=org.slug, org_id=org.id, nia_id=nia.id, numbers=numbers)


def nav(page, name):
    return page.get_by_role("navigation", name="Desk").get_by_role("link", name=name)


def sign_in(page, base, email):
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_agent_works_a_ticket_from_the_inbox(live_server, smtp_server, page, tmp_path):
    _, mailbox = smtp_server
    base = live_server.url
    data = seed(live_server.app)
    pole, late, later = data.numbers
    shots = Path(os.environ.get("DESK_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    csp_errors = []
    page.on("console", lambda m: csp_errors.append(m.text)
            if "Content Security Policy" in m.text else None)
    page.set_viewport_size({"width": 1280, "height": 900})

    # 1. The desk opens on the inbox; j/j/Enter opens the second-newest ticket.
    sign_in(page, base, "sam@trail.test")
    expect(page.get_by_role("heading", name="Welcome, Sam Rivera")).to_be_visible()
    nav(page, "Inbox").click()
    expect(page).to_have_url(re.compile(r"/trail/desk/tickets/$"))
    expect(page.get_by_test_id("count-open")).to_have_text("3")
    expect(page.get_by_test_id("ticket-row")).to_have_count(3)
    page.screenshot(path=str(shots / "inbox.png"), full_page=True)
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("j")
    expect(page.get_by_test_id("ticket-row").nth(2)).to_have_class(re.compile("is-current"))
    page.keyboard.press("k")
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{base}/trail/desk/tickets/{late}")
    nav(page, "Inbox").click()
    page.get_by_role("link", name="Tent pole snapped").click()
    expect(page.get_by_role("heading", name=f"Tent pole snapped #{pole}")).to_be_visible()

    # 2. The canned picker filters as you type and inserts the rendered text.
    page.get_by_label("Insert canned response").fill("replace")
    page.get_by_role("button", name=re.compile("Replacement part")).click()
    body = page.get_by_label("Message", exact=True)
    expect(body).to_have_value("Hi Ada Lovelace, a replacement is on its way.")
    body.press("End")
    body.type(" It ships today.")
    page.get_by_role("button", name="Send reply").click()
    expect(page.get_by_text("Reply sent.")).to_be_visible()
    expect(page.get_by_test_id("message-reply")).to_contain_text(
        "Hi Ada Lovelace, a replacement is on its way. It ships today.")
    expect(page.get_by_test_id("thread")).to_contain_text(
        "Sam Rivera changed status from new to open")

    # 3. "n" starts a note; the mention notifies Nia in the desk and by mail.
    page.keyboard.press("n")
    expect(page.get_by_label("Internal note")).to_be_checked()
    expect(body).to_be_focused()
    page.keyboard.type("@nia can you check the stock of front poles?")
    page.get_by_role("button", name="Add note").click()
    expect(page.get_by_text("Note added.")).to_be_visible()
    expect(page.get_by_test_id("message-note")).to_contain_text("@nia can you check")
    page.screenshot(path=str(shots / "ticket.png"), full_page=True)
    with live_server.app.app_context():
        tenancy.set_current_org(data.org_id)
        notes = db.session.scalars(select(Notification).where(
            Notification.user_id == data.nia_id)).all()
        assert [n.kind for n in notes] == ["mention"]
        run_worker(burst=True)
    mails = mailbox.wait_for(2)  # the reply to Ada and the mention for Nia
    [mention] = [m for m in mails if m["To"].addresses[0].addr_spec == "nia.park@trail.test"]
    assert "Sam Rivera mentioned you" in mention["Subject"]
    assert f"/trail/desk/tickets/{pole}" in mention.get_content()
    assert any(m["To"].addresses[0].addr_spec == "ada@example.com"
               and "It ships today." in m.get_body(("plain",)).get_content()
               for m in mails)

    # 4. "e" solves the ticket.
    page.keyboard.press("e")
    expect(page.get_by_text(f"Ticket #{pole} solved.")).to_be_visible()
    expect(page.locator(".ticket-meta .status-badge")).to_have_text("solved")

    # 5. Merge the two order tickets from the inbox's bulk bar.
    nav(page, "Inbox").click()
    expect(page.get_by_test_id("ticket-row")).to_have_count(2)
    page.get_by_label(f"Check ticket #{late}").check()
    page.get_by_label(f"Check ticket #{later}").check()
    expect(page.get_by_text("2 checked:")).to_be_visible()
    page.get_by_label("Action").select_option("merge")
    expect(page.get_by_label("Assign to")).to_be_hidden()
    page.get_by_label("Merge into #").fill(str(late))
    page.get_by_role("button", name="Apply to checked").click()
    expect(page.get_by_text(f"Merged 1 ticket into #{late}.")).to_be_visible()
    expect(page.get_by_test_id("ticket-row")).to_have_count(1)
    page.get_by_role("link", name="Order 1042 late").click()
    expect(page.get_by_test_id("thread")).to_contain_text("Any news about my order?")
    expect(page.get_by_test_id("thread")).to_contain_text(f"merged #{later} into this ticket")
    with live_server.app.app_context():
        tenancy.set_current_org(data.org_id)
        merged = db.session.scalar(select(Ticket).where(Ticket.number == later))
        assert merged.merged_into_id is not None

    # 6. The shortcut help opens with "?".
    page.keyboard.press("?")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_be_hidden()
    assert csp_errors == []


def test_colleague_sees_the_mention_and_the_desk_fits_a_phone(live_server, page, tmp_path):
    base = live_server.url
    data = seed(live_server.app)
    pole = data.numbers[0]
    with live_server.app.app_context():
        tenancy.set_current_org(data.org_id)
        sam = db.session.scalar(select(Membership).where(Membership.user_id != data.nia_id))
        services.add_note(sam.user_id, services.get_ticket(pole), body_text="@nia please look")
        db.session.commit()
    shots = Path(os.environ.get("DESK_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 420, "height": 860})
    sign_in(page, base, "nia.park@trail.test")
    badge = page.get_by_test_id("nav-notifications")
    expect(badge).to_contain_text("1 unread")
    badge.click()
    expect(page.get_by_test_id("notification")).to_contain_text("Sam Rivera mentioned you")
    page.screenshot(path=str(shots / "notifications-420.png"), full_page=True)
    page.get_by_role("button", name=f"Open #{pole}").click()
    expect(page).to_have_url(f"{base}/trail/desk/tickets/{pole}")
    expect(badge).not_to_contain_text("unread")
    page.screenshot(path=str(shots / "ticket-420.png"), full_page=True)
    # Nothing is wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 420
    nav(page, "Inbox").click()
    expect(page.get_by_role("heading", name="All open")).to_be_visible()
    page.screenshot(path=str(shots / "inbox-420.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 420
