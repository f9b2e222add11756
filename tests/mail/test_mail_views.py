"""The mail settings pages (mailboxes, mail log and quarantine, outbox) and the mail parts of
the ticket page, against the real database (and the real Dovecot for a working connection)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import event, select

from helpdesk.core.crypto import decrypt
from helpdesk.customers.models import Customer
from helpdesk.extensions import db
from helpdesk.mail.models import InboundEmail, Mailbox, Outbox, OutboxStatus
from helpdesk.tickets.models import Message, Ticket
from tests.mail.conftest import make_mail
from tests.servers import free_port

SECRET = "s3cret-Passw0rd"  # noqa: S105 - a test mailbox's password


@pytest.fixture
def mail_desk(mail_org, make_member, client, login):
    """An org with a mailbox, its owner, an admin and an agent; `as_(person)` signs in."""
    org = mail_org()
    people = SimpleNamespace(org=org, owner=SimpleNamespace(email=org.owner_email),
                             admin=make_member(org, "admin"), agent=make_member(org, "agent"))

    def sign_in_as(person):
        client.post("/logout")
        assert login(person.email).status_code == 302

    people.as_ = sign_in_as
    people.url = lambda path="": f"/{org.slug}/desk/settings/mail/{path}"
    return people


def mailbox_form(port: int, **changes) -> dict:
    data = {"address": "help@acme.test", "name": "Acme Help", "imap_host": "127.0.0.1",
            "imap_port": str(port), "imap_security": "none", "imap_user": "help@acme.test",
            "imap_password": SECRET, "folder": "INBOX", "poll_interval": "60",
            "smtp_host": "", "smtp_port": "587", "smtp_security": "starttls", "smtp_user": "",
            "smtp_password": "", "is_active": "y"}
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def stored_mailbox(in_org, org, address: str) -> Mailbox | None:
    with in_org(org.id) as session:
        mailbox = session.scalar(select(Mailbox).where(Mailbox.address == address))
        if mailbox is not None:
            session.expunge(mailbox)
        return mailbox


def ticket_number(in_org, org, ticket_id: int) -> int:
    with in_org(org.id) as session:
        return session.scalar(select(Ticket.number).where(Ticket.id == ticket_id))


def page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.get_data(as_text=True)


# Mailboxes -------------------------------------------------------------------------------------

def test_mailbox_list_shows_state_last_error_and_counts(client, mail_desk, deliver, in_org):
    deliver(mail_desk.org, make_mail(subject="fine"), make_mail(subject="also fine"),
            make_mail(sender=None))
    with in_org(mail_desk.org.id) as session:
        mailbox = session.get(Mailbox, mail_desk.org.mailbox_id)
        mailbox.last_error = "IMAP login as support@acme.test refused: check the password"
    mail_desk.as_(mail_desk.admin)
    html = page(client, mail_desk.url())
    assert "support@acme.test" in html and "INBOX" in html and "never" in html
    assert "refused: check the password" in html and 'data-testid="mailbox-error"' in html
    assert "2 processed" in html and "1 quarantined" in html
    assert client.post(mail_desk.url(f"{mail_desk.org.mailbox_id}/pause")).status_code == 302
    assert "paused" in page(client, mail_desk.url()) and "Resume" in page(client, mail_desk.url())
    assert not stored_mailbox(in_org, mail_desk.org, "support@acme.test").is_active
    client.post(mail_desk.url(f"{mail_desk.org.mailbox_id}/resume"))
    assert stored_mailbox(in_org, mail_desk.org, "support@acme.test").is_active
    assert "/desk/settings/mail/" in page(client, f"/{mail_desk.org.slug}/desk/settings/")


def test_new_mailbox_is_tested_first_and_an_unreachable_one_is_not_saved(client, mail_desk,
                                                                        in_org):
    mail_desk.as_(mail_desk.owner)
    port = free_port()  # nothing listens there
    response = client.post(mail_desk.url("new"), data=mailbox_form(port))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Not saved: the connection test failed." in html
    assert f"IMAP connection to 127.0.0.1:{port} refused" in html
    assert SECRET not in html  # not even the password just typed is sent back
    assert stored_mailbox(in_org, mail_desk.org, "help@acme.test") is None

    response = client.post(mail_desk.url("new"), data=mailbox_form(port, skip_test="y"))
    assert response.status_code == 302
    saved = stored_mailbox(in_org, mail_desk.org, "help@acme.test")
    assert saved.imap_port == port and saved.imap_security.value == "none"
    assert saved.imap_password != SECRET and SECRET not in saved.imap_password
    with client.application.app_context():
        assert decrypt(saved.imap_password) == SECRET

    html = page(client, mail_desk.url(str(saved.id)))
    assert SECRET not in html and saved.imap_password not in html
    assert 'value="help@acme.test"' in html and "Leave empty to keep the stored password" in html

    # The test button says what is wrong, and the mailbox stays as it is.
    response = client.post(mail_desk.url(f"{saved.id}/test"), follow_redirects=True)
    assert f"Connection test of help@acme.test failed: IMAP connection to 127.0.0.1:{port} " \
           "refused" in response.get_data(as_text=True)


def test_mailbox_form_validation_and_duplicates(client, mail_desk, in_org):
    mail_desk.as_(mail_desk.admin)
    response = client.post(mail_desk.url("new"), data=mailbox_form(
        free_port(), imap_port="99999", poll_interval="5", imap_host=""))
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "Enter the IMAP server." in html
    assert "Number must be between 10 and 86400." in html
    response = client.post(mail_desk.url("new"), data=mailbox_form(
        free_port(), address="support@acme.test", skip_test="y"))
    assert response.status_code == 409 and "already connected" in response.get_data(as_text=True)
    response = client.post(mail_desk.url("new"), data=mailbox_form(
        free_port(), imap_password="", skip_test="y"))
    assert response.status_code == 422 and "required" in response.get_data(as_text=True)
    assert stored_mailbox(in_org, mail_desk.org, "help@acme.test") is None


def test_mailbox_against_a_real_imap_server(client, mail_desk, in_org, dovecot):
    address, password = dovecot.new_account("desk")
    form = mailbox_form(dovecot.port, address=address, imap_host=dovecot.host,
                        imap_user=address, imap_password=password)
    mail_desk.as_(mail_desk.admin)
    response = client.post(mail_desk.url("new"), data=form, follow_redirects=True)
    assert f"Mailbox {address} saved. Connected to {dovecot.host}: folder “INBOX” has 0 " \
           "messages." in response.get_data(as_text=True)
    saved = stored_mailbox(in_org, mail_desk.org, address)
    response = client.post(mail_desk.url(f"{saved.id}/test"), data={"back": "edit"})
    assert response.headers["Location"].endswith(f"/desk/settings/mail/{saved.id}")
    assert "Connected to" in page(client, mail_desk.url(str(saved.id)))

    # Other settings change with the password field left empty: the password stays.
    response = client.post(mail_desk.url(str(saved.id)),
                           data={**form, "imap_password": "", "poll_interval": "300"})
    assert response.status_code == 302
    changed = stored_mailbox(in_org, mail_desk.org, address)
    assert changed.poll_interval == 300 and changed.imap_password == saved.imap_password

    # A new wrong password is tested before it replaces the working one.
    response = client.post(mail_desk.url(str(saved.id)), data={**form, "imap_password": "nope"})
    assert response.status_code == 422
    assert f"IMAP login as {address} refused" in response.get_data(as_text=True)
    assert stored_mailbox(in_org, mail_desk.org, address).imap_password == saved.imap_password


@pytest.mark.parametrize("role", ["agent", "manager"])
def test_mail_settings_are_for_admins_and_owners(client, mail_desk, make_member, role, deliver):
    [row] = deliver(mail_desk.org, make_mail(sender=None))
    person = mail_desk.agent if role == "agent" else make_member(mail_desk.org, "manager")
    mail_desk.as_(person)
    box = mail_desk.org.mailbox_id
    for path in ("", "new", str(box), "log", "outbox", f"log/{row['id']}.eml"):
        assert client.get(mail_desk.url(path)).status_code == 403, path
    for path in ("new", str(box), f"{box}/test", f"{box}/pause", f"log/{row['id']}/reprocess"):
        assert client.post(mail_desk.url(path), data=mailbox_form(1)).status_code == 403, path
    html = page(client, f"/{mail_desk.org.slug}/desk/settings/")
    assert "/desk/settings/mail/" not in html and "mailboxes are managed by admins" in html


# Mail log and quarantine -----------------------------------------------------------------------

def test_quarantine_list_reprocess_and_download(client, mail_desk, deliver, in_org):
    bad, good = deliver(mail_desk.org, make_mail(sender=None, subject="Who am I"),
                        make_mail(subject="Fine mail"))
    mail_desk.as_(mail_desk.admin)
    html = page(client, mail_desk.url("log?status=quarantined"))
    assert html.count('data-testid="inbound-row"') == 1
    assert "no sender address" in html and "Reprocess" in html
    html = page(client, mail_desk.url("log"))
    assert html.count('data-testid="inbound-row"') == 2
    rows = html.split('data-testid="inbound-row"')[1:]
    assert "Fine mail" in rows[0] and "no sender address" in rows[1]  # newest first
    number = ticket_number(in_org, mail_desk.org, good["ticket_id"])
    assert f"/desk/tickets/{number}" in html and "new ticket" in html
    html = page(client, mail_desk.url("log?status=processed"))
    assert "Fine mail" in html and "Who am I" not in html

    response = client.get(mail_desk.url(f"log/{bad['id']}.eml"))
    assert response.status_code == 200 and response.mimetype == "message/rfc822"
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert f"mail-{bad['id']}.eml" in response.headers["Content-Disposition"]
    with in_org(mail_desk.org.id) as session:
        raw = session.get(InboundEmail, bad["id"]).raw
        assert response.data == raw
        # Still no sender: reprocessing quarantines it again, and says why.
    response = client.post(mail_desk.url(f"log/{bad['id']}/reprocess"),
                           data={"status": "quarantined"}, follow_redirects=True)
    assert "is still quarantined: no sender address" in response.get_data(as_text=True)

    with in_org(mail_desk.org.id) as session:  # e.g. after a fix in the code
        session.get(InboundEmail, bad["id"]).raw = make_mail(subject="Fixed now")
    response = client.post(mail_desk.url(f"log/{bad['id']}/reprocess"),
                           data={"status": "quarantined"})
    assert response.headers["Location"].endswith("/log?status=quarantined")
    html = page(client, mail_desk.url("log?status=quarantined"))
    assert "reprocessed: new ticket" in html and "Nothing in quarantine." in html
    with in_org(mail_desk.org.id) as session:
        inbound = session.get(InboundEmail, bad["id"])
        assert inbound.status.value == "processed" and inbound.ticket_id is not None

    response = client.post(mail_desk.url(f"log/{good['id']}/reprocess"), follow_redirects=True)
    assert "Only quarantined mail can be reprocessed." in response.get_data(as_text=True)


def test_quarantined_mail_shows_its_sender_and_subject(client, mail_desk, deliver,
                                                       monkeypatch):
    from helpdesk.mail import content

    def explode(text, *args):
        raise RuntimeError("reply parser exploded")

    monkeypatch.setattr(content, "visible_part", explode)
    deliver(mail_desk.org, make_mail(sender="Bob <bob@example.com>", subject="Broken one"))
    mail_desk.as_(mail_desk.admin)
    html = page(client, mail_desk.url("log?status=quarantined"))
    assert "reply parser exploded" in html
    assert "bob@example.com" in html and "Broken one" in html


def test_mail_log_pages_older_and_newer(client, mail_desk, deliver, monkeypatch):
    from helpdesk.mail import views

    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    deliver(mail_desk.org, *[make_mail(subject=f"Mail number {n}") for n in range(5)])
    mail_desk.as_(mail_desk.admin)
    html = page(client, mail_desk.url("log"))
    assert "Mail number 4" in html and "Mail number 3" in html and "Mail number 2" not in html
    older = html.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    html = page(client, older)
    assert "Mail number 2" in html and "Mail number 1" in html and "Mail number 4" not in html
    assert 'rel="prev"' in html and 'rel="next"' in html


# Outbox and the ticket page --------------------------------------------------------------------

def _reply(client, org, number: int, body: str) -> None:
    response = client.post(f"/{org.slug}/desk/tickets/{number}/messages",
                           data={"kind": "reply", "body": body})
    assert response.status_code in (302, 303)


def _outbox_of(in_org, org, number: int) -> list[tuple[int, str]]:
    with in_org(org.id) as session:
        return [(row.id, row.status.value) for row in session.scalars(
            select(Outbox).join(Ticket, Ticket.id == Outbox.ticket_id)
            .where(Ticket.number == number, Outbox.kind == "reply").order_by(Outbox.id))]


def test_ticket_page_quoted_text_and_reply_delivery(client, app, mail_desk, deliver, in_org):
    body = ("Thanks, that worked.\nOne more thing: <b>the tray</b>.\n\n"
            "On Mon, 3 Mar 2025 at 10:00, Support <support@acme.test> wrote:\n"
            "> Try turning it off and on.\n> Bye\n")
    [row] = deliver(mail_desk.org, make_mail(body=body))
    number = ticket_number(in_org, mail_desk.org, row["ticket_id"])
    mail_desk.as_(mail_desk.agent)
    url = f"/{mail_desk.org.slug}/desk/tickets/{number}"
    html = page(client, url)
    visible = html.split('data-testid="visible-text"')[1].split("</div>")[0]
    assert "Thanks, that worked.<br>One more thing: &lt;b&gt;the tray&lt;/b&gt;." in visible
    assert "Try turning it off" not in visible
    quoted = html.split("<summary>Show quoted text</summary>")[1].split("</details>")[0]
    assert "Try turning it off" in quoted

    for n in range(3):
        _reply(client, mail_desk.org, number, f"Reply {n}")
    [(first, _), (second, _), (third, _)] = _outbox_of(in_org, mail_desk.org, number)
    with in_org(mail_desk.org.id) as session:
        session.get(Outbox, second).status = OutboxStatus.SENT
        session.get(Outbox, second).sent_at = session.get(Outbox, second).created_at
        failed = session.get(Outbox, third)
        failed.status, failed.last_error = OutboxStatus.FAILED, "550 5.1.1 mailbox unavailable"

    statements = []

    def count(conn, cursor, statement, *args):
        if "FROM outbox" in statement:
            statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        html = page(client, url)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == 1  # one query for all replies, not one per reply
    states = [part.split("</span>")[0] for part in html.split('data-testid="delivery">')[1:]]
    assert [s.split("<time")[0].strip() for s in states] == ["queued", "sent", "failed"]
    assert "failed: 550 5.1.1 mailbox unavailable" in html and "Send again" in html

    response = client.post(f"/{mail_desk.org.slug}/desk/settings/mail/outbox/{third}/retry",
                           data={"back": "ticket"})
    assert response.status_code == 303
    assert response.headers["Location"].split("#")[0].endswith(f"/desk/tickets/{number}")
    assert _outbox_of(in_org, mail_desk.org, number)[2] == (third, "queued")
    response = client.post(f"/{mail_desk.org.slug}/desk/settings/mail/outbox/{first}/retry",
                           follow_redirects=False)
    assert response.status_code == 302  # nothing to do: it has not failed


def test_outbox_page_lists_queued_and_failed_and_sends_again(client, mail_desk, deliver,
                                                              in_org):
    [row] = deliver(mail_desk.org, make_mail(subject="Where is my order"))  # acknowledged
    with in_org(mail_desk.org.id) as session:
        ack = session.scalar(select(Outbox).where(Outbox.ticket_id == row["ticket_id"]))
        ack.status, ack.last_error = OutboxStatus.FAILED, "SMTP server said 554 go away"
        ack_id = ack.id
    mail_desk.as_(mail_desk.admin)
    html = page(client, mail_desk.url("outbox"))
    assert "casey@example.com" in html and "SMTP server said 554 go away" in html
    assert "Send again" in html
    assert "Nothing sent yet." in page(client, mail_desk.url("outbox?status=sent"))
    response = client.post(mail_desk.url(f"outbox/{ack_id}/retry"), follow_redirects=True)
    assert "is queued to be sent again" in response.get_data(as_text=True)
    with in_org(mail_desk.org.id) as session:
        again = session.get(Outbox, ack_id)
        assert again.status is OutboxStatus.QUEUED and again.attempts == 0


def _bounce(original_message_id: str, recipient: str) -> bytes:
    return (
        "From: MAILER-DAEMON@mx.example.com\r\nTo: support@acme.test\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn-1@mx.example.com>\r\n"
        f"In-Reply-To: {original_message_id}\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nYour mail could not be delivered.\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.com\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n"
        "--b--\r\n").encode()


def test_bounce_note_event_and_undeliverable_warning(client, mail_desk, deliver, in_org):
    [row] = deliver(mail_desk.org, make_mail(sender="gone@example.com"))
    number = ticket_number(in_org, mail_desk.org, row["ticket_id"])
    mail_desk.as_(mail_desk.agent)
    _reply(client, mail_desk.org, number, "Here is the answer")
    with in_org(mail_desk.org.id) as session:
        [reply_mail] = session.scalars(select(Outbox.message_id).where(Outbox.kind == "reply"))
    [bounce] = deliver(mail_desk.org, _bounce(reply_mail, "gone@example.com"))
    assert bounce["outcome"] == "bounce"
    with in_org(mail_desk.org.id) as session:
        customer = session.scalar(select(Customer).where(Customer.email == "gone@example.com"))
        assert customer.undeliverable_at is not None
        note = session.get(Message, bounce["message_row_id"])
        assert note.kind.value == "note" and note.author_user_id is None
    html = page(client, f"/{mail_desk.org.slug}/desk/tickets/{number}")
    note_html = html.split(f'id="message-{bounce["message_row_id"]}"')[1].split("</li>")[0]
    assert "<strong>Mail system</strong>" in note_html
    assert "Mail to gone@example.com could not be delivered (failed 5.1.1 550 5.1.1 " \
           "user unknown)" in html
    warning = html.split('data-testid="undeliverable"')[1].split("</p>")[0]
    assert "mail to this address bounced: failed 5.1.1" in warning


# Tenants ---------------------------------------------------------------------------------------

def test_another_orgs_mail_is_not_found(client, mail_org, make_member, login, deliver,
                                        in_org):
    a = mail_org("mail-a")
    b = mail_org("mail-b", address="help@bee.test")
    [inbound] = deliver(a, make_mail(sender=None))
    [ticket_mail] = deliver(a, make_mail(subject="A's ticket"))
    with in_org(a.id) as session:
        outbox_id = session.scalar(select(Outbox.id).where(
            Outbox.ticket_id == ticket_mail["ticket_id"]))
        session.get(Outbox, outbox_id).status = OutboxStatus.FAILED
    b_admin = make_member(b, "admin")
    assert login(b_admin.email).status_code == 302
    box = a.mailbox_id
    gets = [str(box), f"log/{inbound['id']}.eml"]
    posts = [str(box), f"{box}/test", f"{box}/pause", f"log/{inbound['id']}/reprocess",
             f"outbox/{outbox_id}/retry"]
    for slug in (b.slug, a.slug):  # A's ids under B's URLs, and A's URLs themselves
        for path in gets:
            assert client.get(f"/{slug}/desk/settings/mail/{path}").status_code == 404, path
        for path in posts:
            assert client.post(f"/{slug}/desk/settings/mail/{path}",
                               data=mailbox_form(1)).status_code == 404, path
    with in_org(a.id) as session:
        assert session.get(InboundEmail, inbound["id"]).status.value == "quarantined"
        assert session.get(Outbox, outbox_id).status is OutboxStatus.FAILED
        assert session.get(Mailbox, box).is_active
    html = page(client, f"/{b.slug}/desk/settings/mail/log")
    assert "A&#39;s ticket" not in html and "A's ticket" not in html
