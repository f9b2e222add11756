"""What must not stall a mailbox or mislead: early jobs, crashing mail, polling errors,
addresses claimed twice, oversized mail, a bounced address that works again."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from helpdesk.core.exceptions import Conflict
from helpdesk.core.jobs import enqueue_after_commit, get_queue
from helpdesk.extensions import db
from helpdesk.mail import crashes, jobs, pipeline, poller, services
from helpdesk.mail.models import InboundEmail, Mailbox
from helpdesk.tickets.models import Ticket
from tests.mail.conftest import make_mail


def _noop() -> None:
    """A job that is only ever queued here."""


def test_jobs_wait_for_the_real_commit_not_a_savepoint(app, in_org, make_org, redis_client):
    org = make_org()
    with in_org(org.id):
        savepoint = db.session.begin_nested()
        enqueue_after_commit(_noop, queue="default")
        savepoint.commit()
        assert get_queue("default").count == 0  # a released savepoint is no commit
    with app.app_context():
        assert get_queue("default").count == 1  # the unit of work committed


def _store(in_org, org, *raws) -> list[int]:
    with in_org(org.id):
        poller.store(org.id, org.mailbox_id, [(None, raw) for raw in raws])
        return list(db.session.scalars(select(InboundEmail.id).order_by(InboundEmail.id)))


def test_mail_that_keeps_killing_the_worker_runs_alone_then_is_set_aside(mail_org, in_org,
                                                                         redis_client):
    org = mail_org()
    first, second = _store(in_org, org, make_mail(subject="poison"), make_mail(subject="fine"))
    # Two claims of `first` never committed: the worker died twice while it was in the batch.
    # (Counted in Redis: a rollback cannot undo them.)
    redis_client.set(f"mail:claims:{first}", crashes.SUSPECT_AFTER)
    with in_org(org.id):
        batch = pipeline.process_batch(org.id)
        assert batch.handled == [first]  # alone this time
        assert db.session.get(InboundEmail, second).status.value == "received"
        crashes.forget()
    redis_client.set(f"mail:claims:{second}", crashes.GIVE_UP_AFTER)
    with in_org(org.id):
        pipeline.process_pending(org.id)
        row = db.session.get(InboundEmail, second)
        assert row.status.value == "quarantined" and "stopped the worker" in row.error
        services.reprocess_inbound(second)  # an admin looked at it: a clean slate
        assert row.status.value == "processed"


def test_a_polling_failure_is_recorded_on_the_mailbox(mail_org, in_org, monkeypatch):
    org = mail_org()

    def broken(mailbox, on_chunk=None):
        raise RuntimeError("disk full")

    monkeypatch.setattr(poller, "fetch_new", broken)
    with in_org(org.id):
        mailbox = db.session.get(Mailbox, org.mailbox_id)
        result = jobs.poll_now(mailbox, helpers=False)
        assert "disk full" in result["error"] and "disk full" in mailbox.last_error
        assert mailbox.last_polled_at is not None  # the scheduler waits its interval again


def test_an_address_belongs_to_one_help_desk_only(mail_org, make_org, in_org):
    mail_org(address="support@acme.test")
    intruder = make_org()
    with in_org(intruder.id), pytest.raises(Conflict, match="another account"):
        services.create_mailbox(address="support@acme.test", imap_host="imap.invalid",
                                imap_user="x", imap_password="x")


def test_oversized_mail_shows_who_wrote_and_cannot_be_reprocessed_empty(mail_org, in_org, app):
    org = mail_org()
    previous = app.config["MAX_INBOUND_MAIL_SIZE"]
    app.config["MAX_INBOUND_MAIL_SIZE"] = 10_000
    try:
        [inbound_id] = _store(in_org, org, make_mail(sender="Big <big@example.com>",
                                                     subject="huge", body="x" * 20_000))
    finally:
        app.config["MAX_INBOUND_MAIL_SIZE"] = previous
    with in_org(org.id):
        row = db.session.get(InboundEmail, inbound_id)
        assert (row.sender, row.subject, row.status.value) == ("big@example.com", "huge",
                                                                "quarantined")
        assert "0.0 MB" not in row.error
        with pytest.raises(Conflict, match="too large"):
            services.reprocess_inbound(inbound_id)
        assert db.session.query(Ticket).count() == 0


def test_an_agent_marks_a_bounced_address_as_working_again(client, login, mail_org, deliver,
                                                          in_org, make_member):
    from helpdesk.customers.models import Customer

    org = mail_org()
    [row] = deliver(org, make_mail(sender="gone@example.com"))
    with in_org(org.id):
        customer = db.session.scalar(select(Customer))
        customer.undeliverable_at, customer.undeliverable_reason = db.func.now(), "bounce: x"
        customer_id, number = customer.id, db.session.get(Ticket, row["ticket_id"]).number
    agent = make_member(org)
    login(agent.email)
    page = client.get(f"/{org.slug}/desk/tickets/{number}").get_data(as_text=True)
    assert "Address works again" in page
    response = client.post(f"/{org.slug}/desk/settings/mail/customers/{customer_id}/deliverable",
                           data={"number": number})
    assert response.status_code == 303
    with in_org(org.id):
        assert db.session.get(Customer, customer_id).undeliverable_at is None
    other = mail_org("elsewhere", address="help@elsewhere.test")
    assert client.post(f"/{other.slug}/desk/settings/mail/customers/{customer_id}/deliverable"
                       ).status_code == 404
