"""A ticket's thread through the API: read it, reply (mailed), note (not mailed), download."""

import pytest


def test_thread_is_oldest_first_with_authors_and_attachments(client, api_org, new_ticket,
                                                             attach):
    tenant = api_org()
    new_ticket(tenant, customer_name="Buyer")
    attachment_id = attach(tenant, 1, "receipt.pdf", b"%PDF-1.4 test", "application/pdf")
    client.post("/api/v1/tickets/1/messages", headers=tenant.headers,
                json={"body": "Looking into it.", "internal": False})
    response = client.get("/api/v1/tickets/1/messages", headers=tenant.headers)
    assert response.status_code == 200
    first, note, reply = response.json["data"]
    assert [m["kind"] for m in (first, note, reply)] == ["customer", "note", "reply"]
    assert first["author"]["type"] == "customer"
    assert first["author"]["email"] == "buyer@example.com"
    assert first["body_text"] == "It has not arrived yet."
    assert first["body_html"] == "<p>It has not arrived yet.</p>"
    assert note["author"] == {"type": "user", "id": tenant.owner_id,
                              "name": note["author"]["name"], "email": tenant.org.owner_email}
    assert note["attachments"] == [{
        "id": attachment_id, "filename": "receipt.pdf", "content_type": "application/pdf",
        "size": 13, "url": f"/api/v1/attachments/{attachment_id}",
    }]
    assert first["created_at"] <= note["created_at"] <= reply["created_at"]


def test_reply_is_mailed_to_the_customer_and_opens_the_ticket(client, api_org, new_ticket,
                                                               smtp, run_jobs):
    tenant = api_org()
    new_ticket(tenant)
    response = client.post("/api/v1/tickets/1/messages", headers=tenant.headers,
                           json={"body": "It ships tomorrow."})
    assert response.status_code == 201
    assert response.json["kind"] == "reply" and response.json["author"]["id"] == tenant.owner_id
    run_jobs()
    [mail] = smtp.wait_for(1)
    assert mail["To"] == "buyer@example.com" and "[#1]" in mail["Subject"]
    assert "It ships tomorrow." in mail.get_body(("plain",)).get_content()
    ticket = client.get("/api/v1/tickets/1", headers=tenant.headers).json
    assert ticket["status"] == "open" and ticket["first_response_at"] is not None


def test_reply_may_set_the_status(client, api_org, new_ticket):
    tenant = api_org()
    new_ticket(tenant)
    response = client.post("/api/v1/tickets/1/messages", headers=tenant.headers,
                           json={"body": "Done.", "status": "solved"})
    assert response.status_code == 201
    ticket = client.get("/api/v1/tickets/1", headers=tenant.headers).json
    assert ticket["status"] == "solved" and ticket["solved_at"] is not None
    response = client.post("/api/v1/tickets/1/messages", headers=tenant.headers,
                           json={"body": "Note.", "internal": True, "status": "open"})
    assert response.status_code == 422 and "status" in response.json["error"]["fields"]


def test_note_is_not_mailed_and_does_not_count_as_a_response(client, api_org, new_ticket,
                                                              smtp, run_jobs):
    tenant = api_org()
    new_ticket(tenant)
    response = client.post("/api/v1/tickets/1/messages", headers=tenant.headers,
                           json={"body_html": "<p>Customer is <b>VIP</b></p>", "internal": True})
    assert response.status_code == 201
    assert response.json["kind"] == "note" and response.json["body_text"] == "Customer is VIP"
    run_jobs()
    assert smtp.messages == []
    ticket = client.get("/api/v1/tickets/1", headers=tenant.headers).json
    assert ticket["status"] == "new" and ticket["first_response_at"] is None


def test_script_and_event_handlers_are_sanitized_out(client, api_org, new_ticket):
    tenant = api_org()
    new_ticket(tenant, body_html='<p onclick="steal()">Hi<script>alert(1)</script></p>'
                                 '<img src="x" onerror="alert(2)"><a href="javascript:alert(3)">'
                                 'link</a>')
    client.post("/api/v1/tickets/1/messages", headers=tenant.headers, json={
        "body_html": '<b>ok</b><svg onload="alert(4)"></svg><iframe src="//evil"></iframe>',
        "internal": True})
    messages = client.get("/api/v1/tickets/1/messages", headers=tenant.headers).json["data"]
    for message in messages:
        html = message["body_html"].lower()
        for bad in ("<script", "onerror", "onclick", "onload", "javascript:", "<iframe", "<svg",
                    "alert("):
            assert bad not in html, (bad, html)
    assert "<p>Hi</p>" in messages[0]["body_html"]
    assert messages[1]["body_html"] == "<b>ok</b>"


def test_message_validation(client, api_org, new_ticket):
    tenant = api_org()
    new_ticket(tenant)
    cases = [({}, "body"), ({"body": "   "}, "body"), ({"body": "x", "internal": "maybe"},
             "internal"), ({"body": "x", "cc": "a@b.c"}, "cc"), ({"body": 5}, "body")]
    for payload, field in cases:
        response = client.post("/api/v1/tickets/1/messages", headers=tenant.headers,
                               json=payload)
        assert response.status_code == 422, payload
        assert field in response.json["error"]["fields"], response.json
    response = client.post("/api/v1/tickets/2/messages", headers=tenant.headers,
                           json={"body": "x"})
    assert response.status_code == 404


def test_merged_ticket_takes_no_reply(client, api_org, new_ticket, in_org):
    from helpdesk.tickets import merge, services

    tenant = api_org()
    new_ticket(tenant)
    new_ticket(tenant)
    with in_org(tenant.id):
        merge.merge_tickets(None, services.get_ticket(2), [services.get_ticket(1)])
    response = client.post("/api/v1/tickets/1/messages", headers=tenant.headers,
                           json={"body": "hello"})
    assert response.status_code == 409 and "merged" in response.json["error"]["message"]


@pytest.mark.parametrize("filename, stored_type, served_type, disposition", [
    ("photo.png", "image/png", "image/png", "inline"),
    ("notes.txt", "text/plain", "text/plain; charset=utf-8", "inline"),
    ("page.html", "text/html", "application/octet-stream", "attachment"),
    ("logo.svg", "image/svg+xml", "application/octet-stream", "attachment"),
    ("data.bin", None, "application/octet-stream", "attachment"),
])
def test_attachment_download_is_safe(client, api_org, new_ticket, attach, filename,
                                     stored_type, served_type, disposition):
    tenant = api_org()
    new_ticket(tenant)
    data = b"<html><script>alert(1)</script></html>"
    attachment_id = attach(tenant, 1, filename, data, stored_type)
    with client.get(f"/api/v1/attachments/{attachment_id}", headers=tenant.headers) as response:
        assert response.status_code == 200 and response.data == data
    assert response.headers["Content-Type"] == served_type
    assert response.headers["Content-Disposition"].startswith(disposition)
    assert filename in response.headers["Content-Disposition"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response.headers["Cache-Control"]
    assert client.get(f"/api/v1/attachments/{attachment_id}").status_code == 401


def test_attachment_with_a_missing_file_is_404(client, api_org, new_ticket, attach, in_org):
    from helpdesk.extensions import db
    from helpdesk.tickets.attachments import attachment_path
    from helpdesk.tickets.models import Attachment

    tenant = api_org()
    new_ticket(tenant)
    attachment_id = attach(tenant, 1, "gone.txt", b"bye", "text/plain")
    with in_org(tenant.id):
        attachment_path(db.session.get(Attachment, attachment_id)).unlink()
    response = client.get(f"/api/v1/attachments/{attachment_id}", headers=tenant.headers)
    assert response.status_code == 404 and response.json["error"]["code"] == "not_found"
    assert client.get("/api/v1/attachments/987654321", headers=tenant.headers).status_code == 404
