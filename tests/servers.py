"""Real servers for tests: SMTP (aiosmtpd) and a live HTTP server for the browser."""

from __future__ import annotations

import socket
import threading
import time
from email import message_from_bytes, policy

import pytest
from sqlalchemy import create_engine, text


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Mailbox:
    """What the SMTP server received, as parsed email.message.EmailMessage objects."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        message = message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append(message)
        return "250 OK"

    def wait_for(self, count: int = 1, timeout: float = 5.0):
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(self.messages) >= count, f"expected {count} mails, got {len(self.messages)}"
        return self.messages


@pytest.fixture
def smtp_server():
    """A real SMTP server on a free port; yields (smtp URL, Mailbox)."""
    from aiosmtpd.controller import Controller

    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield f"smtp://127.0.0.1:{port}", mailbox
    controller.stop()


@pytest.fixture
def smtp(app, smtp_server):
    """Point the app's mail at the SMTP server for this test."""
    url, mailbox = smtp_server
    previous = app.config["SMTP_URL"]
    app.config["SMTP_URL"] = url
    yield mailbox
    app.config["SMTP_URL"] = previous


@pytest.fixture
def run_jobs(app):
    """Run every queued job in-process (RQ SimpleWorker, burst), as `flask worker --burst`."""
    from worker.main import run_worker

    def _run():
        with app.app_context():
            run_worker(burst=True)

    return _run


class LiveServer:
    def __init__(self, app):
        from werkzeug.serving import make_server

        self.app = app
        self.port = free_port()
        self.server = make_server("127.0.0.1", self.port, app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.thread.join(5)


@pytest.fixture
def live_server(migrated, server_urls, tmp_path, smtp_server):
    """The app with CSRF on, committing for real; tables are emptied afterwards."""
    from tests.conftest import close_app, make_test_app

    smtp_url, _ = smtp_server
    app = make_test_app(migrated, server_urls[1], tmp_path, WTF_CSRF_ENABLED=True,
                        SMTP_URL=smtp_url)
    server = LiveServer(app)
    app.config["PUBLIC_URL"] = server.url
    server.start()
    yield server
    server.stop()
    close_app(app)
    truncate_all(migrated)


def truncate_all(database_url: str) -> None:
    """Empty every table (tests that commit for real clean up after themselves)."""
    engine = create_engine(database_url)  # the owner, not the app role: RLS does not apply
    with engine.begin() as connection:
        tables = connection.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename <> 'alembic_version'"
        )).scalars().all()
        connection.execute(text(f"TRUNCATE {', '.join(tables)} CASCADE"))
    engine.dispose()
