"""The whole email loop on real servers: Dovecot (IMAP) in, aiosmtpd (SMTP) out, and back in."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from helpdesk.extensions import db
from helpdesk.mail import imap, jobs, services
from helpdesk.mail.models import InboundEmail, Mailbox
from helpdesk.tickets import services as ticket_services
from helpdesk.tickets.models import Message, MessageKind, Ticket
from tests.mail.conftest import make_mail
from tests.servers import free_port


@pytest.fixture
def imap_org(make_org, in_org, dovecot):
    """An org whose mailbox is a fresh account on the test Dovecot."""

    def _imap_org(slug=None, **options):
        address, password = dovecot.new_account()
        org = make_org(slug)
        with in_org(org.id):
            mailbox = services.create_mailbox(
                address=address, imap_host=dovecot.host, imap_port=dovecot.port,
                imap_security="none", imap_user=address, imap_password=password, **options)
            org.mailbox_id, org.address, org.password = mailbox.id, address, password
        return org

    return _imap_org


def poll(in_org, org) -> dict:
    with in_org(org.id):
        return jobs.poll_now(db.session.get(Mailbox, org.mailbox_id), helpers=False)


def test_mail_in_reply_out_answer_back_in(imap_org, in_org, dovecot, smtp, run_jobs):
    org = imap_org()
    dovecot.append(org.address, org.password,
                   make_mail(to=org.address, message_id="<start@client.example>"))
    assert poll(in_org, org)["processed"] == 1
    run_jobs()
    [ack] = smtp.wait_for(1)
    assert ack["Auto-Submitted"] == "auto-replied" and "[#1]" in ack["Subject"]
    with in_org(org.id):
        ticket = db.session.scalar(select(Ticket))
        ticket_services.add_reply(org.owner_id, ticket, body_text="Unplug it, please.")
    run_jobs()
    reply = smtp.wait_for(2)[1]
    assert reply["In-Reply-To"] == "<start@client.example>"
    assert "<start@client.example>" in reply["References"]
    assert reply["Subject"] == "Re: My printer is on fire [#1]"
    assert reply["Reply-To"].startswith(org.address.split("@")[0] + "+t")
    assert "Auto-Submitted" not in reply and reply["X-Helpdesk-Loop"]
    assert "Unplug it" in reply.get_body(("plain",)).get_content()
    with in_org(org.id):
        sent = db.session.scalar(select(Message).where(Message.kind == MessageKind.REPLY))
        assert sent.message_id == reply["Message-ID"]
    # The customer answers the reply: threads by In-Reply-To into the same ticket.
    answer = make_mail(to=reply["Reply-To"], subject="Re: " + reply["Subject"],
                       in_reply_to=reply["Message-ID"],
                       references=f"{reply['References']} {reply['Message-ID']}",
                       body="Done, it works now.")
    dovecot.append(org.address, org.password, answer)
    assert poll(in_org, org)["processed"] == 1
    with in_org(org.id):
        assert db.session.query(Ticket).count() == 1
        messages = db.session.scalars(select(Message).order_by(Message.id)).all()
        assert [m.kind.value for m in messages] == ["customer", "reply", "customer"]
        assert messages[-1].body_text.startswith("Done, it works now.")
    run_jobs()
    assert len(smtp.messages) == 2  # no acknowledgement for a reply


def test_polling_never_flags_mail_unless_asked(imap_org, in_org, dovecot):
    quiet = imap_org()
    for n in range(3):
        dovecot.append(quiet.address, quiet.password, make_mail(subject=f"m{n}"))
    assert poll(in_org, quiet)["processed"] == 3
    assert all(flags == () for flags in dovecot.seen_flags(quiet.address, quiet.password).values())
    assert len(dovecot.messages(quiet.address, quiet.password)) == 3  # nothing deleted
    assert poll(in_org, quiet)["stored"] == 0  # UID-based: nothing fetched twice
    marking = imap_org(mark_as_read=True)
    dovecot.append(marking.address, marking.password, make_mail())
    poll(in_org, marking)
    flags = dovecot.seen_flags(marking.address, marking.password)
    assert all(b"\\Seen" in f for f in flags.values())


def test_uidvalidity_change_resyncs_without_duplicates(imap_org, in_org, dovecot):
    org = imap_org()
    for n in range(2):
        dovecot.append(org.address, org.password, make_mail(subject=f"before {n}"))
    poll(in_org, org)
    old, new = dovecot.change_uidvalidity(org.address, org.password)
    assert old != new
    dovecot.append(org.address, org.password, make_mail(subject="after"))
    result = poll(in_org, org)
    assert result["stored"] == 1 and result["processed"] == 1
    with in_org(org.id):
        assert db.session.query(InboundEmail).count() == 3
        assert db.session.query(Ticket).count() == 3
        assert db.session.get(Mailbox, org.mailbox_id).uidvalidity == new


@pytest.mark.parametrize("change, expected", [
    ({"imap_port": "refused"}, "refused"),
    ({"imap_password": "wrong"}, "login"),
    ({"folder": "Nope"}, "folder “Nope” not found"),
    ({"imap_host": "no-such-host.invalid"}, "not found (DNS)"),
    ({"imap_security": "ssl"}, "TLS"),
])
def test_test_connection_says_what_is_wrong(imap_org, in_org, dovecot, change, expected):
    org = imap_org()
    if change.get("imap_port") == "refused":
        change = {"imap_port": free_port()}
    with in_org(org.id):
        mailbox = db.session.get(Mailbox, org.mailbox_id)
        services.update_mailbox(mailbox, **change)
        with pytest.raises(imap.MailboxError, match=re.escape(expected)):
            services.test_mailbox(mailbox)
    assert "Connected" in _test_ok(in_org, imap_org())


def _test_ok(in_org, org) -> str:
    with in_org(org.id):
        return services.test_mailbox(db.session.get(Mailbox, org.mailbox_id))


def test_scheduler_polls_each_due_mailbox_once_and_a_broken_one_stops_nobody(
        app, imap_org, in_org, dovecot, run_jobs, redis_client):
    good, broken = imap_org(), imap_org()
    with in_org(broken.id):
        services.update_mailbox(db.session.get(Mailbox, broken.mailbox_id), imap_password="bad")
    dovecot.append(good.address, good.password, make_mail(to=good.address))
    with app.app_context():
        assert jobs.enqueue_due_polls() == 2
        assert jobs.enqueue_due_polls() == 0  # already queued: not twice
    run_jobs()
    with in_org(good.id):
        assert db.session.query(Ticket).count() == 1
    with in_org(broken.id):
        assert "login" in db.session.get(Mailbox, broken.mailbox_id).last_error
    with app.app_context():
        assert jobs.enqueue_due_polls() == 0  # both just polled; next time after the interval


def test_a_mail_over_the_size_limit_is_quarantined_with_its_headers(imap_org, in_org, dovecot,
                                                                   app):
    org = imap_org()
    big = make_mail(subject="huge", body="x" * 200_000)
    dovecot.append(org.address, org.password, big)
    dovecot.append(org.address, org.password, make_mail(subject="small"))
    previous = app.config["MAX_INBOUND_MAIL_SIZE"]
    app.config["MAX_INBOUND_MAIL_SIZE"] = 100_000
    try:
        result = poll(in_org, org)
    finally:
        app.config["MAX_INBOUND_MAIL_SIZE"] = previous
    assert result["stored"] == 2 and result["processed"] == 1
    with in_org(org.id):
        rows = db.session.scalars(select(InboundEmail).order_by(InboundEmail.id)).all()
        assert rows[0].status.value == "quarantined" and "too large" in rows[0].error
        assert b"Subject: huge" in rows[0].raw and len(rows[0].raw) < 10_000
        assert rows[1].status.value == "processed"


def test_cli_add_mailbox_tests_first_then_polls(app, imap_org, dovecot, make_org, in_org):
    org = make_org("cli-shop")
    address, password = dovecot.new_account()
    runner = app.test_cli_runner()
    base = ["mail", "add-mailbox", "--org", "cli-shop", "--address", address,
            "--imap-host", dovecot.host, "--imap-port", str(dovecot.port), "--imap-user",
            address, "--no-tls"]
    result = runner.invoke(args=base + ["--imap-password", "wrong"])
    assert result.exit_code != 0 and "login" in result.output
    result = runner.invoke(args=base + ["--imap-password", password])
    assert result.exit_code == 0, result.output
    assert "connected" in result.output
    dovecot.append(address, password, make_mail(to=address))
    result = runner.invoke(args=["mail", "poll", "--once", "--org", "cli-shop"])
    assert result.exit_code == 0 and "processed 1" in result.output
    with in_org(org.id):
        assert db.session.query(Ticket).count() == 1


def test_cli_import_eml_mbox_and_maildir_once(app, make_org, in_org, tmp_path):
    import mailbox as mailboxes

    org = make_org("importer")
    eml = tmp_path / "one.eml"
    eml.write_bytes(make_mail(message_id="<imp1@c>", subject="from eml"))
    mbox = mailboxes.mbox(tmp_path / "box.mbox")
    for n in range(3):
        mbox.add(make_mail(message_id=f"<mb{n}@c>", subject=f"mbox {n}"))
    mbox.close()
    maildir = mailboxes.Maildir(tmp_path / "maildir")
    maildir.add(make_mail(message_id="<md1@c>", subject="maildir"))
    maildir.add(make_mail(message_id="<md2@c>", in_reply_to="<md1@c>", subject="Re: maildir"))
    runner = app.test_cli_runner()
    for path, stored in ((eml, 1), (tmp_path / "box.mbox", 3), (tmp_path / "maildir", 2)):
        result = runner.invoke(args=["mail", "import", str(path), "--org", "importer"])
        assert result.exit_code == 0, result.output
        assert f"stored {stored}" in result.output
    result = runner.invoke(args=["mail", "import", str(eml), "--org", "importer"])
    assert "stored 0" in result.output and "duplicates 1" in result.output
    result = runner.invoke(args=["mail", "import", str(tmp_path / "missing"), "--org",
                                 "importer"])
    assert result.exit_code != 0 and "does not exist" in result.output
    with in_org(org.id):
        assert db.session.query(Ticket).count() == 5  # the maildir reply threaded
        assert db.session.query(Message).count() == 6


def test_an_autoresponder_gets_at_most_the_rate_limit(imap_org, in_org, dovecot, smtp,
                                                      run_jobs):
    """A robot that answers every mail, with no auto headers and a new subject each time: each
    answer is a new ticket, so only the automatic-mail rate limit stops the loop."""
    org = imap_org()
    robot = "robot@answers.example"
    dovecot.append(org.address, org.password, make_mail(sender=robot, to=org.address,
                                                        subject="Hello"))
    for round_number in range(8):
        poll(in_org, org)
        run_jobs()
        to_robot = [m for m in smtp.messages if robot in str(m["To"])]
        answered = getattr(smtp, "answered", 0)
        for index, _mail in enumerate(to_robot[answered:]):
            dovecot.append(org.address, org.password, make_mail(
                sender=robot, to=org.address, subject=f"Thanks {round_number}.{index}"))
        smtp.answered = len(to_robot)
    assert len([m for m in smtp.messages if robot in str(m["To"])]) == 3
    with in_org(org.id):
        assert db.session.query(Ticket).count() == 4  # the first mail and 3 answers; then quiet
