"""A manager sets up SLA in Chromium (CSRF on): a policy through the form, a mistake shown next
to its field with the input kept, the new policy listed and moved up; a split-shift calendar."""

import os
from pathlib import Path

from playwright.sync_api import expect
from sqlalchemy import select

from helpdesk.accounts import services as accounts
from helpdesk.core import tenancy
from helpdesk.extensions import db
from helpdesk.orgs import services as orgs
from helpdesk.orgs.models import Membership, Role
from helpdesk.sla.models import SlaPolicy

PASSWORD = "sla-manager-password"


def seed(app) -> str:
    with app.app_context(), tenancy.system_scope():
        owner = accounts.create_user(email="olga@harbor.test", name="Olga Owner",
                                     password=PASSWORD)
        org = orgs.create_org(name="Harbor Goods", slug="harbor", owner=owner,
                              plan="professional")
        manager = accounts.create_user(email="max@harbor.test", name="Max Manager",
                                       password=PASSWORD)
        db.session.add(Membership(org_id=org.id, user=manager, role=Role.MANAGER))
        db.session.commit()
        return org.slug


def test_manager_creates_a_policy_and_a_calendar(live_server, page, tmp_path):
    base = live_server.url
    slug = seed(live_server.app)
    shots = Path(os.environ.get("DESK_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    problems = []
    # (The form sent back with a mistake is a 422 on purpose: Chromium logs that one.)
    page.on("console", lambda message: message.type == "error" and "status of 422"
            not in message.text and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.set_viewport_size({"width": 1280, "height": 900})

    page.goto(f"{base}/login")
    page.get_by_label("Email").fill("max@harbor.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{base}/{slug}/desk/")
    page.goto(f"{base}/{slug}/desk/settings/")
    page.get_by_role("link", name="SLA policies and business hours").click()
    rows = page.get_by_test_id("policy-row")
    expect(rows).to_have_count(4)
    expect(rows.first).to_contain_text("First reply 1 h business hours")

    # A policy without any target is sent back with the reason and the input kept.
    page.get_by_role("link", name="New policy").click()
    page.get_by_label("Name").fill("Big clients")
    page.get_by_label("Urgent").check()
    page.get_by_label("Email", exact=True).check()
    page.get_by_label("Tagged with any of").fill("vip, key account")
    page.get_by_label("Calendar hours").check()
    page.get_by_role("button", name="Save policy").click()
    expect(page.get_by_test_id("target-first_reply")).to_contain_text("set at least one target")
    expect(page.get_by_label("Name")).to_have_value("Big clients")
    expect(page.get_by_label("Tagged with any of")).to_have_value("vip, key account")
    expect(page.get_by_label("Urgent")).to_be_checked()
    expect(page.get_by_label("Calendar hours")).to_be_checked()

    page.get_by_label("First reply hours").fill("2")
    page.get_by_label("Resolution hours").fill("24")
    page.get_by_label("Resolution minutes").fill("30")
    page.get_by_label("Warn at this percentage").fill("90")
    page.screenshot(path=str(shots / "sla-policy-form.png"), full_page=True)
    page.get_by_role("button", name="Save policy").click()
    expect(page.get_by_text("Policy “Big clients” saved.")).to_be_visible()
    row = rows.last
    expect(rows).to_have_count(5)
    expect(row).to_contain_text("Big clients")
    expect(row).to_contain_text("Tickets where priority is Urgent and channel is Email and "
                                "tagged vip or key account")
    expect(row).to_contain_text("First reply 2 h calendar hours")
    expect(row).to_contain_text("Next reply: no target")
    expect(row).to_contain_text("Resolution 24 h 30 min calendar hours")
    expect(row).to_contain_text("Warning at 90 %")

    # First match wins: move it up one place.
    page.get_by_role("button", name="Move “Big clients” up").click()
    expect(rows.nth(3)).to_contain_text("Big clients")
    expect(rows.last).to_contain_text("Low")

    # A calendar with a lunch break and a custom day off.
    page.get_by_role("link", name="New calendar").click()
    page.get_by_label("Name").fill("Lisbon desk")
    page.get_by_label("Time zone").select_option("Europe/Lisbon")
    page.get_by_label("Monday").fill("09:00-12:30, 14:00-18:00")
    page.get_by_label("Tuesday").fill("09:00-12:30, 14:00-18:00")
    page.get_by_label("Public holidays of").select_option("PT")
    page.get_by_label("Other days off").fill("2026-12-24 Shop closed")
    page.get_by_role("button", name="Save calendar").click()
    calendar = page.get_by_test_id("calendar-row").filter(has_text="Lisbon desk")
    expect(calendar).to_contain_text("Europe/Lisbon")
    expect(calendar).to_contain_text("09:00-12:30, 14:00-18:00")
    expect(calendar).to_contain_text("Public holidays of Portugal (PT)")
    expect(calendar).to_contain_text("2026-12-24 Shop closed")
    page.screenshot(path=str(shots / "sla-settings.png"), full_page=True)

    with live_server.app.app_context(), tenancy.system_scope():
        saved = db.session.scalar(select(SlaPolicy).where(SlaPolicy.name == "Big clients"))
        assert (saved.first_reply_minutes, saved.resolution_minutes, saved.business_hours,
                saved.warn_percent) == (120, 24 * 60 + 30, False, 90)
    assert problems == []
