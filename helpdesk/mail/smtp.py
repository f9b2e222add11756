"""SMTP connections: a mailbox's own server, else the global SMTP_URL; clear error messages."""

from __future__ import annotations

import contextlib
import logging
import smtplib
import socket
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from flask import current_app

from helpdesk.core.crypto import decrypt
from helpdesk.mail.models import Mailbox, Security

TIMEOUT = 30
log = logging.getLogger(__name__)


@dataclass
class SmtpSettings:
    host: str
    port: int
    security: Security
    user: str = ""
    password: str = ""


class SmtpError(Exception):
    """Sending failed. `permanent`: retrying will not help (5xx answer, bad credentials)."""

    def __init__(self, message: str, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


def settings_for(mailbox: Mailbox | None) -> SmtpSettings | None:
    """The mailbox's server, else SMTP_URL; None when neither is set (development)."""
    if mailbox is not None and mailbox.smtp_host:
        return SmtpSettings(mailbox.smtp_host, mailbox.smtp_port, mailbox.smtp_security,
                            mailbox.smtp_user, decrypt(mailbox.smtp_password))
    url = current_app.config["SMTP_URL"]
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps"):
        raise SmtpError(f"SMTP_URL must start with smtp:// or smtps://, not {parts.scheme}://",
                        permanent=True)
    starttls = parse_qs(parts.query).get("starttls", ["0"])[0] in ("1", "true")
    security = (Security.SSL if parts.scheme == "smtps"
                else Security.STARTTLS if starttls else Security.NONE)
    return SmtpSettings(parts.hostname or "localhost",
                        parts.port or (465 if security is Security.SSL else 25), security,
                        unquote(parts.username or ""), unquote(parts.password or ""))


def connect(settings: SmtpSettings) -> smtplib.SMTP:
    """A connected, logged-in client. Raises SmtpError saying what failed."""
    context = ssl.create_default_context()
    where = f"{settings.host}:{settings.port}"
    try:
        if settings.security is Security.SSL:
            client = smtplib.SMTP_SSL(settings.host, settings.port, timeout=TIMEOUT,
                                      context=context)
        else:
            client = smtplib.SMTP(settings.host, settings.port, timeout=TIMEOUT)
            if settings.security is Security.STARTTLS:
                client.starttls(context=context)
        if settings.user:
            client.login(settings.user, settings.password)
        return client
    except socket.gaierror as error:
        raise SmtpError(f"SMTP server {settings.host} not found (DNS): {error}") from error
    except ConnectionRefusedError as error:
        raise SmtpError(f"SMTP connection to {where} refused") from error
    except TimeoutError as error:
        raise SmtpError(f"SMTP connection to {where} timed out") from error
    except ssl.SSLError as error:
        raise SmtpError(f"TLS with SMTP server {where} failed: {error}") from error
    # Login and TLS problems are settings to fix, not reasons to drop the mail: temporary, so
    # the queue goes out once the password is right again.
    except smtplib.SMTPAuthenticationError as error:
        raise SmtpError(f"SMTP login as {settings.user} refused: {_reply(error)}") from error
    except smtplib.SMTPNotSupportedError as error:
        raise SmtpError(f"SMTP server {where}: {error}") from error
    except (smtplib.SMTPException, OSError) as error:
        raise SmtpError(f"SMTP {where}: {error}") from error


def _reply(error: smtplib.SMTPResponseException) -> str:
    text = error.smtp_error.decode(errors="replace") if isinstance(error.smtp_error, bytes) \
        else str(error.smtp_error)
    return f"{error.smtp_code} {text}"


def send(client: smtplib.SMTP, sender: str, recipient: str, raw: bytes) -> None:
    """Raises SmtpError (permanent for a 5xx refusal)."""
    try:
        client.sendmail(sender, [recipient], raw)
    except smtplib.SMTPRecipientsRefused as error:
        code, text = next(iter(error.recipients.values()))
        message = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
        raise SmtpError(f"recipient {recipient} refused: {code} {message}",
                        permanent=code >= 500) from error
    except smtplib.SMTPResponseException as error:
        raise SmtpError(f"SMTP refused the mail: {_reply(error)}",
                        permanent=error.smtp_code >= 500) from error
    except (smtplib.SMTPException, OSError) as error:
        raise SmtpError(f"SMTP failed: {error}") from error


def save_locally(raw: bytes, recipient: str) -> Path:
    """No SMTP server configured (local development): keep the mail as a file and say so."""
    folder = Path(current_app.config["INSTANCE_DIR"]) / "outbox"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{time.time_ns()}.eml"
    path.write_bytes(raw)
    log.warning("SMTP_URL is not set: mail to %s saved to %s", recipient, path)
    return path


def send_once(settings: SmtpSettings, sender: str, recipient: str, raw: bytes) -> None:
    """Connect, send one mail, disconnect. Raises SmtpError."""
    client = connect(settings)
    try:
        send(client, sender, recipient, raw)
    finally:
        with contextlib.suppress(Exception):  # the connection may already be gone
            client.quit()
