"""Exactly once: kill a real worker process (SIGKILL) mid-batch, again and again; every mail
still becomes exactly one message in exactly one ticket."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from helpdesk.core import tenancy
from helpdesk.extensions import db
from helpdesk.mail import services
from helpdesk.mail.jobs import poll_mailbox
from helpdesk.mail.models import InboundEmail, InboundStatus
from helpdesk.tickets.models import Message, Ticket
from tests.mail.conftest import make_mail
from tests.servers import truncate_all

ROOT = Path(__file__).resolve().parents[2]
THREADS = 150  # x 3 mails each
LOCK_TTL = 2  # seconds: how soon a killed worker's mailbox lock expires


@pytest.fixture
def committing_app(migrated, server_urls, tmp_path):
    """The app committing for real (a separate worker process must see the data)."""
    from tests.conftest import close_app, make_test_app

    app = make_test_app(migrated, server_urls[1], tmp_path, MAIL_POLL_LOCK_TTL=LOCK_TTL)
    yield app
    close_app(app)
    truncate_all(migrated)


def _worker(app) -> subprocess.Popen:
    env = dict(os.environ, DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
               REDIS_URL=app.config["REDIS_URL"], SECRET_KEY=app.config["SECRET_KEY"],
               ENCRYPTION_KEY=app.config["ENCRYPTION_KEY"],
               INSTANCE_PATH=app.config["INSTANCE_DIR"], MAIL_POLL_LOCK_TTL=str(LOCK_TTL),
               MAIL_PROCESS_PARALLELISM="1", SMTP_URL="")
    log = Path(app.config["INSTANCE_DIR"]) / "worker.log"
    with open(log, "ab") as output:  # the child keeps its own copy of the descriptor
        return subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "worker",
                                 "--burst", "--queue", "mail"], cwd=ROOT, env=env,
                                stdout=output, stderr=subprocess.STDOUT)


def _log(app) -> str:
    return (Path(app.config["INSTANCE_DIR"]) / "worker.log").read_text()[-3000:]


def _counts(app, org_id) -> tuple[int, int]:
    with app.app_context(), tenancy.org_scope(org_id):
        stored = db.session.scalar(select(func.count()).select_from(InboundEmail))
        done = db.session.scalar(select(func.count()).select_from(InboundEmail).where(
            InboundEmail.status != InboundStatus.RECEIVED))
        db.session.rollback()
        return stored, done


def test_sigkill_mid_batch_loses_and_duplicates_nothing(committing_app, dovecot):
    app = committing_app
    address, password = dovecot.new_account()
    with app.app_context():
        from helpdesk.accounts import services as accounts
        from helpdesk.orgs import services as orgs

        with tenancy.system_scope():
            owner = accounts.create_user(email="o@killme.test", name="Owner",
                                         password="a-long-password-1")
            org = orgs.create_org(name="Kill Me", slug="killme", owner=owner)
            db.session.commit()
            org_id = org.id
        with tenancy.org_scope(org_id):
            mailbox_id = services.create_mailbox(
                address=address, imap_host=dovecot.host, imap_port=dovecot.port,
                imap_security="none", imap_user=address, imap_password=password).id
            db.session.commit()
    with dovecot.client(address, password) as client:
        for thread in range(THREADS):
            first = f"<t{thread}-0@client.example>"
            client.append("INBOX", make_mail(to=address, subject=f"Question {thread}",
                                             message_id=first, sender=f"c{thread}@example.com"))
            for n in (1, 2):
                client.append("INBOX", make_mail(
                    to=address, subject=f"Re: Question {thread}", sender=f"c{thread}@example.com",
                    message_id=f"<t{thread}-{n}@client.example>", in_reply_to=first,
                    references=first))
    total = THREADS * 3
    kills = []
    for threshold in (1, total // 3, 2 * total // 3):
        with app.app_context():
            from helpdesk.core.jobs import get_queue

            get_queue("mail").enqueue(poll_mailbox, org_id, mailbox_id)
        worker = _worker(app)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and worker.poll() is None:
            stored, done = _counts(app, org_id)
            if stored and done >= threshold:
                break
            time.sleep(0.005)
        assert worker.poll() is None, f"worker ended early: {_log(app)[-300:]}"
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        kills.append(_counts(app, org_id))
        time.sleep(LOCK_TTL + 0.5)  # the dead poll's lock expires
    # Every kill landed while mail was still waiting: mid-run, not after it.
    assert all(done < total for _, done in kills), kills
    with app.app_context():
        from helpdesk.core.jobs import get_queue

        get_queue("mail").enqueue(poll_mailbox, org_id, mailbox_id)
    finished = _worker(app)
    assert finished.wait(timeout=120) == 0, _log(app)
    with app.app_context(), tenancy.org_scope(org_id):
        assert db.session.scalar(select(func.count()).select_from(InboundEmail)) == total
        statuses = db.session.execute(select(InboundEmail.status, func.count())
                                      .group_by(InboundEmail.status)).all()
        assert statuses == [(InboundStatus.PROCESSED, total)]
        ids = db.session.execute(select(Message.message_id, func.count())
                                 .group_by(Message.message_id)).all()
        assert len(ids) == total and all(count == 1 for _, count in ids)
        assert db.session.scalar(select(func.count()).select_from(Ticket)) == THREADS
        tickets_per_thread = db.session.execute(
            select(Ticket.subject, func.count(func.distinct(Message.ticket_id)))
            .join(Message, Message.ticket_id == Ticket.id).group_by(Ticket.subject)).all()
        assert all(count == 1 for _, count in tickets_per_thread)
        db.session.rollback()
    print(f"killed at (stored, processed): {kills}")
