"""The API docs page runs Swagger UI in Chromium under the strict CSP, with no outside requests,
and can call the API with a token."""

import json

from playwright.sync_api import expect


def test_api_docs_render_under_the_csp_with_local_assets_only(live_server, page, make_org,
                                                               make_token):
    base = live_server.url
    org = make_org()
    token = make_token(org, org.owner_id)
    problems, outside = [], []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("request", lambda r: None if r.url.startswith(base) or r.url.startswith("data:")
            else outside.append(r.url))

    page.goto(f"{base}/api/v1/docs")
    expect(page.get_by_role("heading", name="Helpdesk REST API")).to_be_visible()
    tickets = page.locator("#operations-tickets-tickets_list")
    expect(tickets).to_contain_text("/api/v1/tickets")
    expect(page.locator("#operations-messages-attachment_download")).to_be_visible()

    # Authorize with the token, then "Try it out" on GET /api/v1/me.
    page.get_by_role("button", name="Authorize").first.click()
    page.locator(".modal-ux input[type=text], .modal-ux input[type=password]").first.fill(token)
    page.locator(".modal-ux button.modal-btn.authorize").click()
    page.locator(".modal-ux button.modal-btn.btn-done").click()
    me = page.locator("#operations-account-me")
    me.locator(".opblock-summary").click()
    me.get_by_role("button", name="Try it out").click()
    me.get_by_role("button", name="Execute").click()
    body = me.locator(".live-responses-table .response-col_description pre").first
    expect(body).to_contain_text(org.slug)
    assert json.loads(body.inner_text())["org"]["slug"] == org.slug

    assert outside == []
    assert [p for p in problems if "Content Security Policy" in p or "Refused" in p] == []
    assert problems == []
