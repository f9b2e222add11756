"""Forms of the mail settings pages. The service (mail.services) is the judge of the values;
these only parse them and say what a field is for."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    IntegerField,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from helpdesk.mail.models import Mailbox
from helpdesk.mail.services import FIELDS

SECURITY_CHOICES = [SelectChoice("ssl", "SSL/TLS"), SelectChoice("starttls", "STARTTLS"),
                    SelectChoice("none", "None (plain text: local servers only)")]
SECRETS = ("imap_password", "smtp_password")
# What the pipeline made of a mail (InboundEmail.outcome), as the mail log says it.
OUTCOME_LABELS = {
    "new_ticket": "new ticket", "reply": "added to its ticket",
    "follow_up": "follow-up of a closed ticket", "duplicate": "duplicate: received before",
    "bounce": "bounce, noted on the ticket", "bounce_unmatched": "bounce of no mail of ours",
    "loop": "ignored: our own mail came back", "blocked_sender": "ignored: blocked sender",
}


class MailboxForm(FlaskForm):
    address = EmailField("Address", [InputRequired("Enter the address customers write to."),
                                     Length(max=254)])
    name = StringField("Sender name", [Optional(), Length(max=100)],
                       description="Shown as the sender of replies; empty: the organization's "
                                   "name.")
    imap_host = StringField("IMAP server", [InputRequired("Enter the IMAP server."),
                                            Length(max=255)])
    imap_port = IntegerField("IMAP port", [NumberRange(1, 65535)], default=993)
    imap_security = SelectField("IMAP security", choices=SECURITY_CHOICES, default="ssl")
    imap_user = StringField("IMAP user name", [InputRequired("Enter the IMAP user name."),
                                               Length(max=255)])
    imap_password = PasswordField("IMAP password", [Length(max=1000)])
    folder = StringField("Folder", [Length(max=255)], default="INBOX")
    poll_interval = IntegerField("Check every (seconds)", [NumberRange(10, 86400)], default=60)
    mark_as_read = BooleanField("Mark fetched mail as read on the server")
    smtp_host = StringField("SMTP server", [Optional(), Length(max=255)],
                            description="Empty: replies leave through the default SMTP server.")
    smtp_port = IntegerField("SMTP port", [NumberRange(1, 65535)], default=587)
    smtp_security = SelectField("SMTP security", choices=SECURITY_CHOICES, default="starttls")
    smtp_user = StringField("SMTP user name", [Optional(), Length(max=255)])
    smtp_password = PasswordField("SMTP password", [Length(max=1000)])
    is_active = BooleanField("Active (fetch mail from this mailbox)", default=True)
    skip_test = BooleanField("Save without testing the connection (the server is down for now)")

    def values(self) -> dict[str, Any]:
        """The service's keyword arguments; an empty password means "keep the stored one"."""
        return {key: getattr(self, key).data for key in FIELDS}


def mailbox_data(mailbox: Mailbox | None) -> dict[str, Any] | None:
    """A stored mailbox as form data, without its passwords: they are never sent back."""
    if mailbox is None:
        return None
    return {key: getattr(mailbox, key) for key in FIELDS if key not in SECRETS}
