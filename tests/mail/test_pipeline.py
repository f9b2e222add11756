"""The inbound chain against the real database: threading, loops, bounces, quarantine."""

from __future__ import annotations

from email import message_from_bytes, policy

import pytest
from sqlalchemy import select

from helpdesk.customers.models import Customer
from helpdesk.extensions import db
from helpdesk.mail.models import InboundEmail, Outbox, OutboxKind
from helpdesk.tickets.models import Message, Status, Ticket
from tests.mail.conftest import make_mail


def _tickets(in_org, org):
    with in_org(org.id):
        return [(t.number, t.subject, t.status.value, t.tags, t.id)
                for t in db.session.scalars(select(Ticket).order_by(Ticket.id))]


def _outbox(in_org, org, kind=None):
    with in_org(org.id):
        query = select(Outbox).order_by(Outbox.id)
        if kind:
            query = query.where(Outbox.kind == kind)
        return [message_from_bytes(o.raw, policy=policy.default) for o in db.session.scalars(query)]


def test_new_mail_opens_a_ticket_and_is_acknowledged(mail_org, deliver, in_org):
    org = mail_org()
    [row] = deliver(org, make_mail(message_id="<first@client.example>"))
    assert row["status"] == "processed" and row["outcome"] == "new_ticket"
    [(number, subject, status, tags, ticket_id)] = _tickets(in_org, org)
    assert (number, subject, status) == (1, "My printer is on fire", "new")
    with in_org(org.id):
        message = db.session.scalar(select(Message))
        assert message.message_id == "<first@client.example>"
        assert db.session.scalar(select(Customer)).email == "casey@example.com"
    [ack] = _outbox(in_org, org, OutboxKind.ACK)
    assert ack["Auto-Submitted"] == "auto-replied"
    assert ack["In-Reply-To"] == "<first@client.example>"
    assert "[#1]" in ack["Subject"] and "#1" in ack.get_content()
    assert ack["Reply-To"].startswith("support+t") and ack["X-Helpdesk-Loop"]


def test_replies_thread_by_in_reply_to_references_and_comments(mail_org, deliver, in_org):
    org = mail_org()
    deliver(org, make_mail(message_id="<a@client.example>"))
    rows = deliver(
        org,
        make_mail(subject="Re: My printer", in_reply_to="<a@client.example>"),
        make_mail(subject="other words", references="<x@y> <a@client.example>"),
        make_mail(subject="third", in_reply_to='<a@client.example> (Casey\'s message of "Mon")'),
    )
    assert [r["outcome"] for r in rows] == ["reply", "reply", "reply"]
    assert len(_tickets(in_org, org)) == 1


def test_a_reply_to_our_acknowledgement_threads_by_our_message_id(mail_org, deliver, in_org):
    org = mail_org()
    deliver(org, make_mail())
    [ack] = _outbox(in_org, org, OutboxKind.ACK)
    [row] = deliver(org, make_mail(subject="whatever", in_reply_to=ack["Message-ID"]))
    assert row["outcome"] == "reply"


def test_reply_address_token_threads_and_a_forged_one_does_not(mail_org, deliver, in_org):
    org = mail_org()
    deliver(org, make_mail())
    [ack] = _outbox(in_org, org, OutboxKind.ACK)
    token_address = ack["Reply-To"].addresses[0].addr_spec
    [row] = deliver(org, make_mail(to=token_address, subject="no headers at all"))
    assert row["outcome"] == "reply"
    forged = token_address.replace("+t", "+t9")
    [row] = deliver(org, make_mail(to=forged, subject="forged"))
    assert row["outcome"] == "new_ticket"


def test_subject_token_only_from_the_customer_or_a_participant(mail_org, deliver, in_org):
    org = mail_org()
    deliver(org, make_mail())
    [row] = deliver(org, make_mail(subject="RE: printer [#1]"))  # Outlook, no headers
    assert row["outcome"] == "reply"
    [row] = deliver(org, make_mail(sender="mallory@evil.example", subject="Re: [#1]"))
    assert row["outcome"] == "new_ticket"


def test_same_subject_reply_from_the_same_customer_only(mail_org, deliver, in_org):
    org = mail_org()
    deliver(org, make_mail(subject="Invoice 42 is wrong"))
    [row] = deliver(org, make_mail(subject="AW: RE : Invoice 42 is wrong"))
    assert row["outcome"] == "reply"
    [row] = deliver(org, make_mail(sender="other@example.com", subject="Re: Invoice 42 is wrong"))
    assert row["outcome"] == "new_ticket"
    [row] = deliver(org, make_mail(subject="Invoice 42 is wrong"))  # not a reply: a new request
    assert row["outcome"] == "new_ticket"


def test_solved_reopens_closed_gets_a_follow_up_merged_forwards(mail_org, deliver, in_org):
    from helpdesk.tickets import services

    org = mail_org()
    deliver(org, make_mail(message_id="<one@c>", subject="one"),
            make_mail(message_id="<two@c>", subject="two"),
            make_mail(message_id="<three@c>", subject="three"))
    with in_org(org.id):
        one, two, three = db.session.scalars(select(Ticket).order_by(Ticket.id)).all()
        services.update_ticket(None, one, status=Status.SOLVED)
        services.update_ticket(None, two, status=Status.CLOSED)
    rows = deliver(org, make_mail(in_reply_to="<one@c>"), make_mail(in_reply_to="<two@c>"))
    assert [r["outcome"] for r in rows] == ["reply", "follow_up"]
    with in_org(org.id):
        one = db.session.get(Ticket, rows[0]["ticket_id"])
        assert one.status is Status.OPEN
        follow_up = db.session.get(Ticket, rows[1]["ticket_id"])
        assert follow_up.follow_up_of_id is not None and follow_up.mailbox_id == org.mailbox_id


def test_the_same_mail_twice_is_one_message(mail_org, deliver, in_org):
    org = mail_org()
    raw = make_mail(message_id="<dup@c>")
    deliver(org, raw)
    assert deliver(org, raw) == []  # the (mailbox, Message-ID) key drops it at storage
    # The same mail through another of our mailboxes (Cc to both addresses): one message.
    from helpdesk.mail import services

    with in_org(org.id):
        other = services.create_mailbox(address="sales@acme.test", imap_host="imap.invalid",
                                        imap_user="sales", imap_password="x").id
    [row] = deliver(org, raw, mailbox_id=other)
    assert row["outcome"] == "duplicate"
    with in_org(org.id):
        assert db.session.query(Message).count() == 1


def test_automatic_mail_is_kept_but_never_acknowledged_nor_reopens(mail_org, deliver, in_org):
    from helpdesk.tickets import services

    org = mail_org()
    rows = deliver(
        org,
        make_mail(sender="alerts@monitor.example", headers={"Auto-Submitted": "auto-generated"}),
        make_mail(sender="news@list.example", subject="Digest",
                  headers={"List-Id": "<news.list.example>"}),
        make_mail(sender="noreply@shop.example", subject="Your receipt"),
        make_mail(sender="sam@example.com", subject="Out of office",
                  headers={"X-Autoreply": "yes"}),
        make_mail(sender="pat@example.com", subject="Bulk", headers={"Precedence": "bulk"}),
    )
    assert {r["classification"] for r in rows} == {"automatic"}
    assert all(r["outcome"] == "new_ticket" for r in rows)
    assert _outbox(in_org, org, OutboxKind.ACK) == []
    assert all("auto" in t[3] for t in _tickets(in_org, org))
    [human] = deliver(org, make_mail(message_id="<human@c>", sender="kim@example.com"))
    with in_org(org.id):
        ticket = db.session.get(Ticket, human["ticket_id"])
        services.update_ticket(None, ticket, status=Status.PENDING)
    [row] = deliver(org, make_mail(sender="kim@example.com", in_reply_to="<human@c>",
                                   headers={"Auto-Submitted": "auto-replied"}))
    assert row["outcome"] == "reply"
    with in_org(org.id):
        assert db.session.get(Ticket, row["ticket_id"]).status is Status.PENDING


def test_our_own_mail_coming_back_is_a_loop(mail_org, deliver, in_org):
    org, other = mail_org(), mail_org(address="help@other.test")
    deliver(org, make_mail(subject="seed"))
    [ack] = _outbox(in_org, org, OutboxKind.ACK)
    rows = deliver(org, make_mail(headers={"X-Helpdesk-Loop": ack["X-Helpdesk-Loop"]}),
                   make_mail(sender="support@acme.test", subject="from us"),
                   make_mail(sender="support+t1-aaaabbbbccccdddd@acme.test", subject="tagged"))
    assert [r["outcome"] for r in rows] == ["loop", "loop", "loop"]
    assert len(_tickets(in_org, org)) == 1
    # Another tenant's (or another installation's) mail is a person writing, not a loop.
    [row] = deliver(other, make_mail(headers={"X-Helpdesk-Loop": ack["X-Helpdesk-Loop"]},
                                     to="help@other.test"))
    assert row["outcome"] == "new_ticket"


def test_automatic_mail_to_one_address_is_rate_limited(mail_org, deliver, in_org):
    org = mail_org()
    deliver(org, *[make_mail(subject=f"Request {n}") for n in range(6)])
    assert len(_tickets(in_org, org)) == 6
    assert len(_outbox(in_org, org, OutboxKind.ACK)) == 3


def test_mail_without_sender_is_quarantined_and_can_be_reprocessed(mail_org, deliver, in_org):
    from helpdesk.mail import services

    org = mail_org()
    rows = deliver(org, make_mail(sender=None), make_mail(subject="fine"))
    assert rows[0]["status"] == "quarantined" and "no sender" in rows[0]["error"]
    assert rows[1]["status"] == "processed"  # the bad one never stops the others
    with in_org(org.id):
        inbound = db.session.get(InboundEmail, rows[0]["id"])
        inbound.raw = make_mail(subject="fixed")  # e.g. after a fix in the code
        services.reprocess_inbound(inbound.id)
        assert inbound.status.value == "processed" and inbound.ticket_id is not None


def test_a_crash_in_a_step_quarantines_only_that_mail(mail_org, deliver, in_org, monkeypatch):
    from helpdesk.mail import content

    real = content.visible_part

    def explode(text, *args):
        if "boom" in text:
            raise RuntimeError("reply parser exploded")
        return real(text, *args)

    monkeypatch.setattr(content, "visible_part", explode)
    rows = deliver(org := mail_org(), make_mail(body="boom"), make_mail(body="calm"))
    assert rows[0]["status"] == "quarantined" and "RuntimeError" in rows[0]["error"]
    assert rows[1]["status"] == "processed"
    assert len(_tickets(in_org, org)) == 1


def test_inline_cid_images_point_at_the_stored_attachment(mail_org, deliver, in_org):
    from email.message import EmailMessage

    message = EmailMessage()
    message["From"] = "casey@example.com"
    message["To"] = "support@acme.test"
    message["Subject"] = "Screenshot"
    message["Message-ID"] = "<cid@c>"
    message.set_content("see the picture")
    message.add_alternative('<p>Look:<img src="cid:shot1@c"></p>', subtype="html")
    message.get_payload()[1].add_related(b"\x89PNG\r\n\x1a\nfake", maintype="image",
                                         subtype="png", cid="<shot1@c>")
    org = mail_org()
    [row] = deliver(org, bytes(message))
    with in_org(org.id):
        stored = db.session.get(Message, row["message_row_id"])
        [attachment] = stored.attachments
        assert attachment.content_id == "shot1@c"
        assert f"/attachments/{attachment.id}" in stored.body_html
        assert "cid:" not in stored.body_html and "_inline" not in stored.body_html


def test_quoted_text_is_split_off_but_kept(mail_org, deliver, in_org):
    org = mail_org()
    body = ("Thanks, that worked.\n\nOn Mon, 3 Mar 2025 at 10:00, Support <support@acme.test> "
            "wrote:\n> Try turning it off and on.\n> Bye\n")
    [row] = deliver(org, make_mail(body=body))
    with in_org(org.id):
        message = db.session.get(Message, row["message_row_id"])
        assert message.body_visible == "Thanks, that worked."
        assert "Try turning it off" in message.body_text


def test_wrong_and_unknown_charsets_never_crash(mail_org, deliver, in_org):
    org = mail_org()
    latin = (b"From: a@example.com\r\nTo: support@acme.test\r\nSubject: caf\xe9\r\n"
             b"Message-ID: <cs1@c>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
             b"Gr\xfc\xdfe aus K\xf6ln\r\n")
    unknown = (b"From: b@example.com\r\nTo: support@acme.test\r\nSubject: x\r\n"
               b"Message-ID: <cs2@c>\r\nContent-Type: text/plain; charset=x-martian\r\n\r\n"
               b"hello \xff\xfe\r\n")
    rows = deliver(org, latin, unknown)
    assert [r["status"] for r in rows] == ["processed", "processed"]


def test_tenants_never_thread_into_each_other(mail_org, deliver, in_org):
    a, b = mail_org("tenant-a"), mail_org("tenant-b", address="help@bee.test")
    deliver(a, make_mail(message_id="<shared@c>"))
    [ack] = _outbox(in_org, a, OutboxKind.ACK)
    token_address = ack["Reply-To"].addresses[0].addr_spec
    rows = deliver(b, make_mail(in_reply_to="<shared@c>", to="help@bee.test"),
                   make_mail(to=token_address.replace("support", "help"), subject="x"))
    # (B's #1 exists once that batch is in: the customer learns its number from our answer)
    rows += deliver(b, make_mail(subject="Re: [#1]", sender="casey@example.com"))
    # The third mail is a reply to tenant B's own #1 (same customer address): never A's #1.
    assert [r["outcome"] for r in rows] == ["new_ticket", "new_ticket", "reply"]
    assert len(_tickets(in_org, a)) == 1 and len(_tickets(in_org, b)) == 2
    with in_org(a.id):
        assert db.session.query(Message).count() == 1
    with in_org(b.id):
        assert db.session.get(InboundEmail, rows[0]["id"]) is not None
    with in_org(a.id):
        assert db.session.get(InboundEmail, rows[0]["id"]) is None  # another org's: invisible


@pytest.fixture(params=["bulk", "one_by_one"], autouse=True)
def path(request, monkeypatch):
    """Every test here runs twice: through the bulk fast path and through the one-mail path
    (which takes loops, bounces and any batch the bulk path fails on): same results."""
    if request.param == "one_by_one":
        from helpdesk.mail import pipeline

        monkeypatch.setattr(pipeline, "_fast_path", lambda rows, ctx: list(rows))
    return request.param


def _bounce_for(original_message_id: str, recipient: str, action="failed", status="5.1.1"):
    """A delivery status report (RFC 3464) as Postfix writes them."""
    return f"""From: Mail Delivery System <MAILER-DAEMON@mx.example.com>
To: support@acme.test
Subject: Undelivered Mail Returned to Sender
Message-ID: <bounce-{status}-{action}@mx.example.com>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B1"

--B1
Content-Type: text/plain; charset=us-ascii

I'm sorry to have to inform you that your message could not be delivered to {recipient}.

--B1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.com

Final-Recipient: rfc822; {recipient}
Action: {action}
Status: {status}
Diagnostic-Code: smtp; 550 {status} User unknown

--B1
Content-Type: text/rfc822-headers

Message-ID: {original_message_id}
Subject: Re: x

--B1--
""".replace("\n", "\r\n").encode()


def test_a_bounce_lands_on_its_ticket_and_stops_automatic_mail(mail_org, deliver, in_org):
    from helpdesk.tickets.models import MessageKind, TicketEvent

    org = mail_org()
    [first] = deliver(org, make_mail(sender="gone@example.com", subject="First"))
    [ack] = _outbox(in_org, org, OutboxKind.ACK)
    [row] = deliver(org, _bounce_for(ack["Message-ID"], "gone@example.com"))
    assert row["classification"] == "bounce" and row["outcome"] == "bounce"
    assert row["ticket_id"] == first["ticket_id"]
    with in_org(org.id):
        note = db.session.get(Message, row["message_row_id"])
        assert note.kind is MessageKind.NOTE and "could not be delivered" in note.body_text
        assert {a.filename for a in note.attachments} >= {"delivery-status.txt"}
        [event] = db.session.scalars(select(TicketEvent).where(TicketEvent.kind == "bounce"))
        assert event.data["permanent"] is True and "5.1.1" in event.data["status"]
        customer = db.session.scalar(select(Customer).where(Customer.email == "gone@example.com"))
        assert customer.undeliverable_at is not None and "5.1.1" in customer.undeliverable_reason
        assert db.session.get(Ticket, first["ticket_id"]).status is Status.NEW  # not reopened
    deliver(org, make_mail(sender="gone@example.com", subject="Second"))
    assert len(_outbox(in_org, org, OutboxKind.ACK)) == 1  # no acknowledgement to a dead address


def test_a_delay_report_is_noted_but_keeps_the_address(mail_org, deliver, in_org):
    org = mail_org()
    deliver(org, make_mail(sender="slow@example.com"))
    [ack] = _outbox(in_org, org, OutboxKind.ACK)
    [row] = deliver(org, _bounce_for(ack["Message-ID"], "slow@example.com", action="delayed",
                                     status="4.4.7"))
    assert row["outcome"] == "bounce"
    with in_org(org.id):
        customer = db.session.scalar(select(Customer).where(Customer.email == "slow@example.com"))
        assert customer.undeliverable_at is None


def test_an_unmatched_bounce_is_kept_without_a_ticket(mail_org, deliver, in_org):
    org = mail_org()
    [row] = deliver(org, _bounce_for("<unknown@elsewhere>", "who@example.com"))
    assert row["status"] == "processed" and row["outcome"] == "bounce_unmatched"
    assert _tickets(in_org, org) == []


def test_a_reply_that_arrives_before_its_original_still_threads(mail_org, deliver, in_org):
    org = mail_org()
    rows = deliver(org, make_mail(subject="Re: Order", in_reply_to="<orig@c>"),
                   make_mail(subject="Order", message_id="<orig@c>"))
    assert rows[0]["ticket_id"] == rows[1]["ticket_id"]
    assert len(_tickets(in_org, org)) == 1


def _raw(headers: str, body: str = "hello") -> bytes:
    return (headers.strip().replace("\n", "\r\n") + "\r\n\r\n" + body).encode("utf-8",
                                                                            "surrogateescape")


def test_unusable_message_ids_are_dropped_not_fatal(mail_org, deliver, in_org):
    org = mail_org()
    long_id = "<" + "x" * 1500 + "@c>"
    rows = deliver(org, make_mail(message_id=long_id, subject="long id"),
                   b"From: a@example.com\r\nSubject: nul\r\nMessage-ID: <a\x00b@c>\r\n\r\nhi",
                   b"From: b@example.com\r\nSubject: 8bit\r\nMessage-ID: <\xe9t\xe9@c>\r\n\r\nhi")
    assert [r["outcome"] for r in rows] == ["new_ticket"] * 3
    with in_org(org.id):  # the NUL byte is dropped from the id; the others are no ids at all
        ids = [m.message_id for m in db.session.scalars(select(Message).order_by(Message.id))]
        assert ids == [None, "<ab@c>", None]


def test_a_mail_answering_itself_or_its_answer_is_processed(mail_org, deliver):
    org = mail_org()
    rows = deliver(org, make_mail(message_id="<self@c>", in_reply_to="<self@c>"),
                   make_mail(message_id="<p@c>", in_reply_to="<q@c>", subject="ping"),
                   make_mail(message_id="<q@c>", in_reply_to="<p@c>", subject="pong"))
    assert all(r["status"] == "processed" for r in rows)
    assert rows[1]["ticket_id"] == rows[2]["ticket_id"]


def test_inline_images_with_prefix_ids_each_find_their_own(mail_org, deliver, in_org):
    from email.message import EmailMessage

    message = EmailMessage()
    message["From"] = "casey@example.com"
    message["Subject"] = "two shots"
    message["Message-ID"] = "<two@c>"
    message.set_content("see")
    message.add_alternative('<p><img src="cid:1"><img src="cid:12"></p>', subtype="html")
    html = message.get_payload()[1]
    html.add_related(b"\x89PNG one", maintype="image", subtype="png", cid="<1>")
    html.add_related(b"\x89PNG twelve", maintype="image", subtype="png", cid="<12>")
    org = mail_org()
    [row] = deliver(org, bytes(message))
    with in_org(org.id):
        stored = db.session.get(Message, row["message_row_id"])
        ids = {a.content_id: a.id for a in stored.attachments}
        assert f'/attachments/{ids["1"]}"' in stored.body_html
        assert f'/attachments/{ids["12"]}"' in stored.body_html
        assert "_inline" not in stored.body_html


def test_an_out_of_office_to_a_closed_ticket_opens_nothing(mail_org, deliver, in_org):
    from helpdesk.tickets import services

    org = mail_org()
    [first] = deliver(org, make_mail(message_id="<closed@c>"))
    with in_org(org.id):
        services.update_ticket(None, db.session.get(Ticket, first["ticket_id"]),
                               status=Status.CLOSED)
    [row] = deliver(org, make_mail(in_reply_to="<closed@c>", subject="Out of office",
                                   headers={"Auto-Submitted": "auto-replied"}))
    assert row["outcome"] == "automatic_to_closed" and row["ticket_id"] == first["ticket_id"]
    assert len(_tickets(in_org, org)) == 1


def test_mail_from_before_the_mailbox_was_connected_gets_no_acknowledgement(
        mail_org, deliver, in_org):
    org = mail_org()
    old = make_mail(subject="from last year",
                    headers={"X-Old": "1"}).replace(b"Date: ", b"X-Original-Date: ", 1)
    old = b"Date: Mon, 03 Mar 2025 10:00:00 +0000\r\n" + old
    [row] = deliver(org, old)
    assert row["outcome"] == "new_ticket"
    assert _outbox(in_org, org, OutboxKind.ACK) == []


def test_a_forged_report_marks_nobody(mail_org, deliver, in_org, make_customer):
    org = mail_org()
    make_customer(org, email="alice@example.com")
    [row] = deliver(org, _bounce_for("<not-ours@elsewhere>", "alice@example.com"))
    assert row["outcome"] == "bounce_unmatched"
    with in_org(org.id):
        alice = db.session.scalar(select(Customer).where(Customer.email == "alice@example.com"))
        assert alice.undeliverable_at is None


def test_line_breaks_in_names_never_reach_our_headers(mail_org, deliver, in_org):
    org = mail_org()
    raw = _raw("From: =?utf-8?q?Eve=0D=0ABcc=3A_victim=40example=2Ecom?= <eve@example.com>\n"
               "To: support@acme.test\nSubject: hi\nMessage-ID: <eve@c>")
    [row] = deliver(org, raw)
    assert row["outcome"] == "new_ticket"
    [ack] = _outbox(in_org, org, OutboxKind.ACK)
    assert ack["Bcc"] is None and "victim" not in str(ack["To"].addresses[0].addr_spec)
