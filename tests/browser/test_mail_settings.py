"""An owner connects a mailbox in Chromium (with CSRF on): a refused port is not saved, the
real Dovecot account is; mail polled from it shows in the mail log, the quarantine can be
reprocessed, and the ticket page folds the quoted text and tells the reply's delivery."""

import os
from pathlib import Path

from playwright.sync_api import expect
from sqlalchemy import select

from helpdesk.core import tenancy
from helpdesk.extensions import db
from helpdesk.mail import jobs
from helpdesk.mail.models import Mailbox
from helpdesk.orgs.models import Organization
from tests.mail.conftest import make_mail
from tests.servers import free_port
from worker.main import run_worker


def poll(app, slug: str) -> dict:
    with app.app_context():
        org_id = db.session.scalar(select(Organization.id).where(Organization.slug == slug))
        tenancy.set_current_org(org_id)
        result = jobs.poll_now(db.session.scalar(select(Mailbox)), helpers=False)
        db.session.commit()
        return result


def test_owner_connects_a_mailbox_and_works_its_mail(live_server, smtp_server, dovecot, page,
                                                     tmp_path):
    _, sent_mail = smtp_server
    base = live_server.url
    shots = Path(os.environ.get("DESK_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    problems = []
    # (The refused connection's page is a 422 on purpose: Chromium logs that one.)
    page.on("console", lambda message: message.type == "error" and "status of 422"
            not in message.text and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.set_viewport_size({"width": 1280, "height": 900})
    address, password = dovecot.new_account("quill")

    page.goto(f"{base}/signup")
    page.get_by_label("Organization name").fill("Quill Paper")
    page.get_by_label("Your name").fill("Quinn Owner")
    page.get_by_label("Work email").fill("quinn@quill.test")
    page.get_by_label("Password").fill("owner-password")
    page.get_by_role("button", name="Create organization").click()
    expect(page).to_have_url(f"{base}/quill-paper/desk/")

    # 1. A port where nothing listens: the test fails and nothing is saved.
    page.goto(f"{base}/quill-paper/desk/settings/")
    page.get_by_role("link", name="Mailboxes").click()
    expect(page.get_by_text("No mailbox connected yet")).to_be_visible()
    page.get_by_role("link", name="Connect a mailbox").click()
    page.get_by_label("Address").fill(address)
    page.get_by_label("IMAP server").fill(dovecot.host)
    page.get_by_label("IMAP port").fill(str(free_port()))
    page.get_by_label("IMAP security").select_option("none")
    page.get_by_label("IMAP user name").fill(address)
    page.get_by_label("IMAP password").fill(password)
    page.get_by_role("button", name="Connect mailbox").click()
    expect(page.get_by_test_id("test-error")).to_contain_text("refused: is the port right?")
    expect(page.get_by_label("IMAP password")).to_have_value("")  # never sent back
    page.screenshot(path=str(shots / "mailbox-refused.png"), full_page=True)

    # 2. The right port: tested, saved, listed.
    page.get_by_label("IMAP port").fill(str(dovecot.port))
    page.get_by_label("IMAP password").fill(password)
    page.get_by_role("button", name="Connect mailbox").click()
    expect(page.get_by_text(f"Mailbox {address} saved. Connected to")).to_be_visible()
    expect(page.get_by_test_id("mailbox-row")).to_contain_text("active")
    page.get_by_role("button", name="Test connection").click()
    expect(page.get_by_text("folder “INBOX” has 0 messages")).to_be_visible()

    # 3. Mail arrives: one reply with a quote, one without a sender (quarantined).
    dovecot.append(address, password, make_mail(
        to=address, subject="Paper jam",
        body="It jams again.\n\nOn Mon, 3 Mar 2025, Support <help@quill.test> wrote:\n"
             "> Open the tray and pull gently.\n"))
    dovecot.append(address, password, make_mail(to=address, sender=None, subject="Anonymous"))
    assert poll(live_server.app, "quill-paper")["processed"] == 2
    page.get_by_role("link", name="Mail log and quarantine").click()
    expect(page.get_by_test_id("inbound-row")).to_have_count(2)
    page.get_by_role("link", name="Quarantined").click()
    expect(page.get_by_test_id("inbound-row")).to_have_count(1)
    expect(page.get_by_test_id("inbound-error")).to_contain_text("no sender address")
    page.get_by_role("button", name="Reprocess").click()
    expect(page.get_by_text("is still quarantined: no sender address")).to_be_visible()
    page.screenshot(path=str(shots / "mail-log.png"), full_page=True)

    # 4. The ticket: the new text shown, the quote folded; the reply is queued, then sent.
    page.get_by_role("link", name="Processed").click()
    page.get_by_role("link", name="#1").click()
    expect(page.get_by_test_id("visible-text")).to_have_text("It jams again.")
    quoted = page.get_by_text("Open the tray and pull gently.")
    expect(quoted).to_be_hidden()
    page.get_by_text("Show quoted text").click()
    expect(quoted).to_be_visible()
    page.get_by_label("Message", exact=True).fill("Please try the other tray.")
    page.get_by_role("button", name="Send reply").click()
    expect(page.get_by_test_id("delivery")).to_have_text("queued")
    with live_server.app.app_context():
        run_worker(burst=True)
    assert any("Please try the other tray." in m.get_body(("plain",)).get_content()
               for m in sent_mail.wait_for(2))
    page.reload()
    expect(page.get_by_test_id("delivery")).to_have_text("sent just now")
    page.screenshot(path=str(shots / "ticket-mail.png"), full_page=True)
    assert problems == []
