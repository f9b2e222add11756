"""Outbound mail through the Outbox on a real SMTP server: retries, failures, attachments."""

from __future__ import annotations

import io
from datetime import timedelta

import time_machine
from sqlalchemy import select

from helpdesk.core.models import utcnow
from helpdesk.extensions import db
from helpdesk.mail import delivery
from helpdesk.mail.models import Outbox
from helpdesk.tickets import services
from helpdesk.tickets.models import Ticket
from tests.servers import free_port


def _reply(in_org, org, ticket_number, text="It ships tomorrow.", attachments=()):
    with in_org(org.id):
        ticket = db.session.scalar(select(Ticket).where(Ticket.number == ticket_number))
        services.add_reply(org.owner_id, ticket, body_text=text, attachments=attachments)


def _rows(in_org, org):
    with in_org(org.id):
        return [(o.status.value, o.attempts, o.last_error, o.message_id, o.next_attempt_at)
                for o in db.session.scalars(select(Outbox).order_by(Outbox.id))]


def test_smtp_down_for_an_hour_loses_nothing(app, make_org, make_ticket, in_org, smtp,
                                             run_jobs):
    org = make_org()
    t = make_ticket(org)
    live_url = app.config["SMTP_URL"]
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{free_port()}"  # nothing listens there
    _reply(in_org, org, t.number)
    run_jobs()
    [(status, attempts, error, message_id, due)] = _rows(in_org, org)
    assert (status, attempts) == ("queued", 1) and "refused" in error
    assert due > utcnow()
    # An hour of outage: every retry the scheduler makes fails too, nothing is given up.
    start = utcnow()
    with time_machine.travel(start, tick=True) as traveller:
        for minutes in range(5, 65, 5):
            traveller.move_to(start + timedelta(minutes=minutes))
            with app.app_context():
                delivery.enqueue_due()
            run_jobs()
        [(status, attempts, _, _, _)] = _rows(in_org, org)
        assert status == "queued" and attempts >= 6
        app.config["SMTP_URL"] = live_url  # the server is back
        traveller.move_to(start + timedelta(hours=2))
        with app.app_context():
            delivery.enqueue_due()
        run_jobs()
    [mail] = smtp.wait_for(1)
    [(status, _, error, sent_id, _)] = _rows(in_org, org)
    assert status == "sent" and error == "" and mail["Message-ID"] == sent_id == message_id


def test_a_refused_recipient_fails_with_the_smtp_error_and_can_be_sent_again(
        app, make_org, make_ticket, in_org, run_jobs):
    from aiosmtpd.controller import Controller

    class Refusing:
        accept = False
        received = []

        async def handle_RCPT(self, server, session, envelope, address, options):  # noqa: N802
            if not self.accept:
                return "550 5.1.1 no such user here"
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            self.received.append(envelope.content)
            return "250 OK"

    handler = Refusing()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    previous = app.config["SMTP_URL"]
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{port}"
    try:
        org = make_org()
        t = make_ticket(org)
        _reply(in_org, org, t.number)
        run_jobs()
        [(status, attempts, error, _, _)] = _rows(in_org, org)
        assert status == "failed" and attempts == 1 and "550" in error and "no such user" in error
        handler.accept = True
        with in_org(org.id):
            delivery.retry_failed(db.session.scalar(select(Outbox.id)))
        run_jobs()
        [(status, _, _, _, _)] = _rows(in_org, org)
        assert status == "sent" and len(handler.received) == 1
    finally:
        controller.stop()
        app.config["SMTP_URL"] = previous


def test_attachments_go_out_as_attachments(make_org, make_ticket, in_org, smtp, run_jobs):
    org = make_org()
    t = make_ticket(org)
    _reply(in_org, org, t.number, attachments=[("label.pdf", io.BytesIO(b"%PDF-1.4 fake"),
                                                "application/pdf")])
    run_jobs()
    [mail] = smtp.wait_for(1)
    [part] = list(mail.iter_attachments())
    assert part.get_filename() == "label.pdf" and part.get_content() == b"%PDF-1.4 fake"


def test_notifications_to_staff_go_through_the_outbox(make_org, make_member, make_ticket, in_org,
                                                     smtp, run_jobs):
    org = make_org()
    agent = make_member(org, email="sam@shop.example")
    t = make_ticket(org)
    with in_org(org.id):
        ticket = db.session.scalar(select(Ticket).where(Ticket.number == t.number))
        services.add_note(org.owner_id, ticket, body_text="@sam@shop.example can you check?")
        [row] = db.session.scalars(select(Outbox)).all()
        assert row.kind.value == "notification" and row.recipient == agent.email
    run_jobs()
    [mail] = smtp.wait_for(1)
    assert mail["Auto-Submitted"] == "auto-generated"


def test_another_orgs_outbox_is_invisible(make_org, make_ticket, in_org):
    a, b = make_org(), make_org()
    t = make_ticket(a)
    _reply(in_org, a, t.number)
    with in_org(a.id):
        outbox_id = db.session.scalar(select(Outbox.id))
    with in_org(b.id):
        assert db.session.get(Outbox, outbox_id) is None
        assert delivery.retry_failed(outbox_id) is None
