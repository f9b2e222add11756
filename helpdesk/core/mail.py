"""Account mail (password resets, invitations): built in the request, sent by a `notify` job.

SMTP_URL (`smtp://user:pass@host:port`, `smtps://...`, `?starttls=1`) names the server. Without it
(local development) the message is written to instance/outbox/ and logged, so a developer can
still follow a reset or invitation link. Ticket mail gets its own Outbox in the email channel.
"""

from __future__ import annotations

import logging
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid, parseaddr

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
    """Raises helpdesk.mail.smtp.SmtpError (RQ keeps the failed job)."""
    from helpdesk.mail import smtp  # the channel's SMTP code; imported late: it needs models

    config = current_app.config
    message = build_message(config["MAIL_FROM"], to, subject, text)
    raw = message.as_bytes(policy=SMTP)
    settings = smtp.settings_for(None)
    if settings is None:
        smtp.save_locally(raw, to)
        log.warning("%s", text)  # a developer can follow the reset or invitation link
    else:
        smtp.send_once(settings, parseaddr(config["MAIL_FROM"])[1], to, raw)
