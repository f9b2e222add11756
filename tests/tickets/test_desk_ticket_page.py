"""The ticket page over HTTP: thread, composer, properties, merge, split, canned responses,
attachments, and the cross-tenant walls around each."""

import io
import re

import pytest
from sqlalchemy import select
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import stream_encode_multipart

from helpdesk.tickets import services
from helpdesk.tickets.models import (
    Attachment,
    CannedResponse,
    CustomField,
    CustomFieldType,
    Message,
    MessageKind,
    Notification,
    Priority,
    Status,
    Ticket,
)


@pytest.fixture(autouse=True)
def _attachments_in_tmp(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "ATTACHMENTS_DIR", str(tmp_path / "attachments"))


def post_files(client, path, data):
    """A multipart POST encoded in memory (the test client spools big bodies to a temporary
    file it never closes)."""
    fields = MultiDict()
    for key, value in data.items():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, tuple):
                item = FileStorage(stream=item[0], filename=item[1])
            fields.add(key, item)
    stream, length, boundary = stream_encode_multipart(fields, use_tempfile=False)
    return client.post(path, input_stream=stream, content_length=length,
                       content_type=f"multipart/form-data; boundary={boundary}")


def url(org, number, rest=""):
    return f"/{org.slug}/desk/tickets/{number}{rest}"


def load(in_org, org, number) -> dict:
    """The ticket and its messages as plain values."""
    with in_org(org.id) as session:
        ticket = services.get_ticket(number)
        messages = session.scalars(select(Message).where(Message.ticket_id == ticket.id)
                                   .order_by(Message.id)).unique().all()
        return {"status": ticket.status, "priority": ticket.priority, "tags": ticket.tags,
                "assignee_id": ticket.assignee_id, "merged_into_id": ticket.merged_into_id,
                "custom_fields": ticket.custom_fields, "id": ticket.id,
                "messages": [(m.kind, m.body_text) for m in messages]}


def test_ticket_page_shows_thread_events_and_sidebar(client, make_org, make_member, make_ticket,
                                                     in_org, login):
    org = make_org()
    sam = make_member(org)
    t = make_ticket(org, subject="Tent pole snapped", body="The pole broke on day one.",
                    customer_email="ada@example.com")
    older = make_ticket(org, subject="Earlier question", customer_email="ada@example.com")
    with in_org(org.id):
        ticket = services.get_ticket(t.number)
        services.add_note(org.owner_id, ticket, body_text="Check the batch number.")
        services.update_ticket(org.owner_id, ticket, priority=Priority.HIGH, assignee_id=sam.id,
                               tags=["warranty"])
        services.add_reply(org.owner_id, ticket, body_text="We are sending a new pole.",
                           send=False)
    login(org.owner_email)
    response = client.get(url(org, t.number))
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    owner = re.search(r"Owner \d+", page).group(0)
    order = [page.index(text) for text in (
        "Ticket created via email", "The pole broke on day one.", "Check the batch number.",
        f"{owner} changed priority from normal to high",
        f"{owner} assigned the ticket to Agent", f"{owner} added tags warranty",
        "We are sending a new pole.", f"{owner} changed status from new to open")]
    assert order == sorted(order)
    assert 'class="msg msg-note"' in page and 'class="msg msg-reply"' in page
    assert 'class="msg msg-customer"' in page
    # Sidebar: properties preselected, the customer card with the other ticket.
    assert re.search(r'<option selected value="high">', page)
    assert re.search(rf'<option selected value="{sam.id}">', page)
    assert 'value="warranty"' in page
    assert "ada@example.com" in page and f"#{older.number} Earlier question" in page
    assert f'href="/{org.slug}/desk/customers/{t.customer_id}"' in page


def test_script_in_a_customer_message_is_shown_sanitized(client, make_org, make_ticket, login):
    org = make_org()
    t = make_ticket(org, body=None, subject="<script>alert('subject')</script>",
                    body_html='<p>Hello<script>alert("x")</script>'
                              '<img src="/x.png" onerror="alert(1)"><a href="javascript:alert(2)">'
                              'link</a></p>')
    login(org.owner_email)
    page = client.get(url(org, t.number)).get_data(as_text=True)
    assert "Hello" in page
    scripts = re.findall(r"<script[^>]*>", page)
    assert scripts and all(re.fullmatch(r'<script src="/static/js/\w+\.js" defer>', s)
                           for s in scripts)
    assert "onerror" not in page and "javascript:" not in page and 'alert("x")' not in page
    assert "&lt;script&gt;alert(&#39;subject&#39;)" in page  # the subject is text, escaped
    inbox = client.get(f"/{org.slug}/desk/tickets/").get_data(as_text=True)
    assert "<script>alert" not in inbox


def test_reply_and_note_through_the_composer(client, make_org, make_member, make_ticket, in_org,
                                             login):
    org = make_org()
    make_member(org, email="sam.carter@example.com")
    t = make_ticket(org)
    login(org.owner_email)
    response = client.post(url(org, t.number, "/messages"),
                           data={"kind": "reply", "body": "On its way!", "then_status": ""})
    assert response.status_code == 303
    assert response.headers["Location"] == url(org, t.number, "#composer")
    state = load(in_org, org, t.number)
    assert state["status"] is Status.OPEN and state["messages"][-1] == (MessageKind.REPLY,
                                                                         "On its way!")
    response = client.post(url(org, t.number, "/messages"),
                           data={"kind": "note", "body": "@sam.carter please follow up",
                                 "then_status": "pending"})
    assert response.status_code == 303
    state = load(in_org, org, t.number)
    assert state["status"] is Status.PENDING
    assert state["messages"][-1] == (MessageKind.NOTE, "@sam.carter please follow up")
    with in_org(org.id) as session:
        [notification] = session.scalars(select(Notification)).all()
        assert notification.kind == "mention"
    response = client.post(url(org, t.number, "/messages"),
                           data={"kind": "reply", "body": "Solved it", "then_status": "solved"})
    assert response.status_code == 303 and load(in_org, org, t.number)["status"] is Status.SOLVED
    assert "Reply sent." in client.get(url(org, t.number)).get_data(as_text=True)


def test_composer_errors_keep_the_text_and_change_nothing(app, client, make_org, make_ticket,
                                                          in_org, login, monkeypatch):
    org = make_org()
    t = make_ticket(org)
    login(org.owner_email)
    response = client.post(url(org, t.number, "/messages"), data={"kind": "reply", "body": " "})
    assert response.status_code == 422 and "Write a message." in response.get_data(as_text=True)
    monkeypatch.setitem(app.config, "MAX_ATTACHMENT_SIZE", 1024 * 1024)
    response = post_files(client, url(org, t.number, "/messages"), {
        "kind": "reply", "body": "See the photo", "then_status": "solved",
        "attachments": [(io.BytesIO(b"ok"), "small.txt"),
                        (io.BytesIO(b"x" * (1024 * 1024 + 1)), "huge.jpg")]})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "huge.jpg is too large: attachments may be at most 1 MB." in page
    assert "See the photo</textarea>" in page
    state = load(in_org, org, t.number)
    assert state["status"] is Status.NEW and len(state["messages"]) == 1
    response = client.post(url(org, t.number, "/messages"), data={"kind": "shout", "body": "x"})
    assert response.status_code == 422


def test_attachments_download_with_safe_headers(client, make_org, make_ticket, in_org, login):
    org, other = make_org(), make_org()
    t = make_ticket(org)
    login(org.owner_email)
    response = post_files(client, url(org, t.number, "/messages"), {
        "kind": "note", "body": "files",
        "attachments": [(io.BytesIO(b"plain words"), "notes.txt"),
                        (io.BytesIO(b"<html><script>alert(1)</script>"), "page.html")]})
    assert response.status_code == 303
    with in_org(org.id) as session:
        ids = {a.filename: a.id for a in session.scalars(select(Attachment))}
    page = client.get(url(org, t.number)).get_data(as_text=True)
    assert f'/{org.slug}/desk/tickets/attachments/{ids["notes.txt"]}' in page
    text = client.get(f"/{org.slug}/desk/tickets/attachments/{ids['notes.txt']}")
    assert text.status_code == 200 and text.data == b"plain words"
    assert text.headers["Content-Disposition"].startswith("inline")
    assert text.headers["X-Content-Type-Options"] == "nosniff"
    html_file = client.get(f"/{org.slug}/desk/tickets/attachments/{ids['page.html']}")
    assert html_file.headers["Content-Disposition"].startswith("attachment")
    assert html_file.headers["Content-Type"].startswith("text/html")
    assert "no-store" in html_file.headers["Cache-Control"]
    text.close()
    html_file.close()
    # The other org: its own URL does not know this id; and it is not even staff there.
    make_ticket(other)
    client.post("/logout")
    login(other.owner_email)
    assert client.get(f"/{other.slug}/desk/tickets/attachments/{ids['notes.txt']}") \
        .status_code == 404
    assert client.get(f"/{org.slug}/desk/tickets/attachments/{ids['notes.txt']}") \
        .status_code == 404


def test_update_properties_and_custom_fields(client, make_org, make_member, make_ticket, in_org,
                                             login):
    org = make_org()
    sam = make_member(org)
    with in_org(org.id) as session:
        session.add_all([CustomField(key="order", label="Order number", position=0,
                                     field_type=CustomFieldType.NUMBER),
                         CustomField(key="gift", label="Gift", position=1,
                                     field_type=CustomFieldType.CHECKBOX)])
    t = make_ticket(org)
    login(org.owner_email)
    form = {"status": "open", "priority": "urgent", "assignee": str(sam.id), "team": "none",
            "tags": "Returns, vip", "cf_present": ["order", "gift"], "cf_order": "1234",
            "cf_gift": "on"}
    response = client.post(url(org, t.number, "/update"), data=form)
    assert response.status_code == 303
    state = load(in_org, org, t.number)
    assert (state["status"], state["priority"], state["assignee_id"], state["tags"]) == \
        (Status.OPEN, Priority.URGENT, sam.id, ["returns", "vip"])
    assert state["custom_fields"] == {"order": 1234, "gift": True}
    page = client.get(url(org, t.number)).get_data(as_text=True)
    assert "changed priority from normal to urgent" in page
    assert "Order number to 1234" in page and "Gift to yes" in page
    # A bad value: 422, the message by its field, nothing changed (priority included).
    response = client.post(url(org, t.number, "/update"), data={
        **form, "priority": "low", "cf_order": "lots", "cf_gift": None})
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "must be a number" in page
    assert load(in_org, org, t.number)["priority"] is Priority.URGENT
    # A move the status machine refuses: 409 with the reason.
    response = client.post(url(org, t.number, "/update"), data={"status": "new"})
    assert response.status_code == 409 and "cannot go from open to new" in \
        response.get_data(as_text=True)
    # The Solve button sends the status alone; nothing else changes.
    response = client.post(url(org, t.number, "/update"), data={"status": "solved"})
    assert response.status_code == 303
    state = load(in_org, org, t.number)
    assert state["status"] is Status.SOLVED and state["tags"] == ["returns", "vip"]
    assert state["assignee_id"] == sam.id
    response = client.post(url(org, t.number, "/update"), data={"assignee": "99999"})
    assert response.status_code == 422
    # Spam and back, from the buttons by the title.
    assert client.post(url(org, t.number, "/update"), data={"is_spam": "1"}).status_code == 303
    page = client.get(f"/{org.slug}/desk/tickets/?view=spam").get_data(as_text=True)
    assert f'value="{t.number}"' in page and "marked the ticket as spam" in \
        client.get(url(org, t.number)).get_data(as_text=True)
    assert client.post(url(org, t.number, "/update"), data={"is_spam": "0"}).status_code == 303
    with in_org(org.id):
        assert services.get_ticket(t.number).is_spam is False


def test_merge_and_split(client, make_org, make_ticket, in_org, login):
    org, other = make_org(), make_org()
    a = make_ticket(org, subject="First", body="one")
    b = make_ticket(org, subject="Second", body="two")
    theirs = make_ticket(other)
    login(org.owner_email)
    response = client.post(url(org, a.number, "/merge"), data={"target": str(theirs.number + 5)})
    assert response.status_code == 422
    response = client.post(url(org, a.number, "/merge"), data={"target": str(a.number)})
    assert response.status_code == 422 and "pick at least one other ticket" in \
        response.get_data(as_text=True)
    response = client.post(url(org, a.number, "/merge"), data={"target": str(b.number)})
    assert response.status_code == 303 and response.headers["Location"] == url(org, b.number)
    state = load(in_org, org, b.number)
    assert [body for _, body in state["messages"]] == ["one", "two"]
    assert load(in_org, org, a.number)["merged_into_id"] == state["id"]
    page = client.get(url(org, a.number)).get_data(as_text=True)
    assert "This ticket was merged into" in page
    page = client.get(url(org, b.number)).get_data(as_text=True)
    assert re.search(rf'merged <a href="[^"]+">#{a.number}</a> into this ticket', page)
    # Split the first customer message off again.
    with in_org(org.id) as session:
        first, second = session.scalars(select(Message.id).where(
            Message.ticket_id == state["id"]).order_by(Message.id)).all()
    response = client.post(url(org, b.number, f"/messages/{first}/split"))
    assert response.status_code == 303
    new_number = int(response.headers["Location"].rsplit("/", 1)[1])
    assert load(in_org, org, new_number)["messages"] == [(MessageKind.CUSTOMER, "one")]
    assert [body for _, body in load(in_org, org, b.number)["messages"]] == ["two"]
    # The only message left cannot be split; a message of another ticket is not found.
    response = client.post(url(org, b.number, f"/messages/{second}/split"))
    assert response.status_code == 422
    assert client.post(url(org, new_number, f"/messages/{second}/split")).status_code == 404


def test_notes_cannot_be_split(client, make_org, make_ticket, in_org, login):
    org = make_org()
    t = make_ticket(org)
    with in_org(org.id):
        note = services.add_note(org.owner_id, services.get_ticket(t.number), body_text="n")
        note_id = note.id
    login(org.owner_email)
    response = client.post(url(org, t.number, f"/messages/{note_id}/split"))
    assert response.status_code == 422
    assert "only customer messages can be split off" in response.get_data(as_text=True)


def test_canned_picker_endpoints(client, make_org, make_member, make_ticket, in_org, login):
    org, other = make_org(), make_org()
    sam = make_member(org)
    t = make_ticket(org, customer_email="ada@example.com")
    with in_org(org.id) as session:
        shared = CannedResponse(title="Refund policy", body="Hi {{ customer.name }}, refunds "
                                "take 5 days.", owner_user_id=None)
        mine = CannedResponse(title="My sign-off", body="Cheers", owner_user_id=org.owner_id)
        private = CannedResponse(title="Sam's secret", body="x", owner_user_id=sam.id)
        session.add_all([shared, mine, private])
        session.flush()
        ids = {"shared": shared.id, "mine": mine.id, "private": private.id}
    with in_org(other.id) as session:
        foreign = CannedResponse(title="Refund elsewhere", body="no", owner_user_id=None)
        session.add(foreign)
        session.flush()
        ids["foreign"] = foreign.id
    login(org.owner_email)
    base = f"/{org.slug}/desk/tickets"
    titles = [i["title"] for i in client.get(f"{base}/canned").get_json()["items"]]
    assert sorted(titles) == ["My sign-off", "Refund policy"]
    found = client.get(f"{base}/canned?q=refund").get_json()["items"]
    assert [i["title"] for i in found] == ["Refund policy"] and found[0]["shared"] is True
    response = client.post(f"{base}/{t.number}/canned/{ids['shared']}")
    assert response.status_code == 200
    assert response.get_json() == {"body": "Hi Buyer, refunds take 5 days."}
    assert client.post(f"{base}/{t.number}/canned/{ids['foreign']}").status_code == 404
    assert client.post(f"{base}/{t.number}/canned/{ids['private']}").status_code == 403
    with in_org(org.id) as session:
        assert session.get(CannedResponse, ids["shared"]).usage_count == 1


def test_another_orgs_ticket_number_is_404_everywhere(client, make_org, make_ticket, in_org,
                                                      login):
    org, other = make_org(), make_org()
    make_ticket(org)
    theirs = make_ticket(other)
    make_ticket(other)
    number = theirs.number + 1  # #2 exists only in the other org
    login(org.owner_email)
    assert client.get(url(org, number)).status_code == 404
    for rest, data in (("/messages", {"kind": "note", "body": "hi"}),
                       ("/update", {"priority": "urgent"}),
                       ("/merge", {"target": "1"}),
                       ("/canned/1", {})):
        assert client.post(url(org, number, rest), data=data).status_code == 404, rest
    with in_org(other.id) as session:
        ticket = session.scalar(select(Ticket).where(Ticket.number == number))
        message_id = session.scalar(select(Message.id).where(Message.ticket_id == ticket.id))
        assert ticket.priority is Priority.NORMAL
    assert client.post(url(org, 1, f"/messages/{message_id}/split")).status_code == 404
    assert client.get(url(other, 1)).status_code == 404  # not a member there
