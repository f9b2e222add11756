"""Account mail (password resets, invitations): built in the request, sent by a `notify` job.

SMTP_URL (`smtp://user:pass@host:port`, `smtps://...`, `?starttls=1`) names the server. Without it
(local development) the message is written to instance/outbox/ and logged, so a developer can
still follow a reset or invitation link. Ticket mail gets its own Outbox in the email channel.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import time
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from flask import current_app

from helpdesk.core.jobs import enqueue_after_commit, system_job

log = logging.getLogger(__name__)


def send_mail(to: str, subject: str, text: str) -> None:
    """Queue a plain-text mail for delivery after the current transaction commits."""
    enqueue_after_commit(deliver_mail, to, subject, text, queue="notify")


def build_message(sender: str, to: str, subject: str, text: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1].strip(">") or None)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text)
    return message


@system_job
def deliver_mail(to: str, subject: str, text: str) -> None:
    config = current_app.config
    message = build_message(config["MAIL_FROM"], to, subject, text)
    if config["SMTP_URL"]:
        send_via_smtp(config["SMTP_URL"], message)
    else:
        outbox = Path(config["INSTANCE_DIR"]) / "outbox"
        outbox.mkdir(parents=True, exist_ok=True)
        path = outbox / f"{time.time_ns()}.eml"
        path.write_bytes(bytes(message))
        log.warning("SMTP_URL is not set: mail to %s saved to %s\n%s", to, path, text)


def send_via_smtp(url: str, message: EmailMessage, timeout: float = 30) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps"):
        raise ValueError(f"SMTP_URL must start with smtp:// or smtps://, not {parts.scheme}://")
    options = parse_qs(parts.query)
    host = parts.hostname or "localhost"
    if parts.scheme == "smtps":
        client = smtplib.SMTP_SSL(host, parts.port or 465, timeout=timeout,
                                  context=ssl.create_default_context())
    else:
        client = smtplib.SMTP(host, parts.port or 25, timeout=timeout)
    with client:
        if parts.scheme == "smtp" and options.get("starttls", ["0"])[0] in ("1", "true"):
            client.starttls(context=ssl.create_default_context())
        if parts.username:
            client.login(unquote(parts.username), unquote(parts.password or ""))
        client.send_message(message)
