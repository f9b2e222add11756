"""Desk settings in Chromium: the rule builder's rows, the live canned preview, no CSP errors."""

from playwright.sync_api import expect


def test_rule_builder_and_canned_preview(live_server, page, tmp_path):
    problems = []
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(str(error)))
    base = live_server.url
    page.goto(f"{base}/signup")
    page.get_by_label("Organization name").fill("Tide Books")
    page.get_by_label("Your name").fill("Tia Owner")
    page.get_by_label("Work email").fill("tia@tide.test")
    page.get_by_label("Password").fill("owner-password")
    page.get_by_role("button", name="Create organization").click()
    expect(page).to_have_url(f"{base}/tide-books/desk/")

    # A canned response previews with sample data while typing.
    page.goto(f"{base}/tide-books/desk/settings/")
    page.get_by_role("link", name="Canned responses").click()
    page.get_by_role("link", name="New canned response").click()
    page.get_by_label("Title").fill("Thanks")
    page.get_by_label("Response").fill("Hi {{ customer.name }}, this is {{ agent.name }}.")
    expect(page.get_by_test_id("canned-preview")).to_have_text("Hi Jane Doe, this is Tia Owner.")
    page.get_by_label("Shared with the whole team").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("canned-row")).to_contain_text("shared")

    # A rule: one condition, a second action row added with the button, values from lists.
    page.goto(f"{base}/tide-books/desk/settings/rules/new")
    page.get_by_label("Name").fill("Refunds are urgent")
    page.locator("#conditions-0-field").select_option("subject")
    page.locator("#conditions-0-op").select_option("contains")
    page.locator("#conditions-0-value").fill("refund")
    page.locator("#actions-0-type").select_option("set_priority")
    page.locator("#actions-0-value").select_option("urgent")
    page.get_by_role("button", name="Add action").click()
    page.locator("#actions-1-type").select_option("send_canned")
    expect(page.locator("#actions-1-value")).to_have_value(
        page.locator("#actions-1-value option", has_text="Thanks").get_attribute("value"))
    page.get_by_role("button", name="Add condition").click()
    page.get_by_role("button", name="Remove").nth(1).click()  # the blank condition row
    page.screenshot(path=str(tmp_path / "rule.png"), full_page=True)
    page.get_by_role("button", name="Save rule").click()
    row = page.get_by_test_id("rule-row")
    expect(row).to_contain_text("Refunds are urgent")
    expect(row).to_contain_text("Subject contains “refund”")
    expect(row).to_contain_text("Set priority Urgent; Reply with canned response Thanks")

    # Custom fields: the options box only shows for dropdowns.
    page.goto(f"{base}/tide-books/desk/settings/fields/new")
    expect(page.get_by_label("Options")).to_be_hidden()
    page.get_by_label("Type").select_option("dropdown")
    expect(page.get_by_label("Options")).to_be_visible()
    page.screenshot(path=str(tmp_path / "field.png"), full_page=True)
    assert problems == []
