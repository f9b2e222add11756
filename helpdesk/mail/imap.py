"""IMAP connections with errors a tenant can act on (DNS, refused, TLS, login, folder)."""

from __future__ import annotations

import contextlib
import socket
import ssl

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from helpdesk.core.crypto import SecretUnreadable, decrypt
from helpdesk.mail.models import Mailbox, Security

TIMEOUT = 30


class MailboxError(Exception):
    """The mailbox cannot be reached or read; the message says what to fix."""


def connect(mailbox: Mailbox, *, password: str | None = None) -> IMAPClient:
    """A logged-in client. Raises MailboxError."""
    where = f"{mailbox.imap_host}:{mailbox.imap_port}"
    context = ssl.create_default_context()
    try:
        password = decrypt(mailbox.imap_password) if password is None else password
        client = IMAPClient(mailbox.imap_host, port=mailbox.imap_port,
                            ssl=mailbox.imap_security is Security.SSL, ssl_context=context,
                            timeout=TIMEOUT)
        if mailbox.imap_security is Security.STARTTLS:
            client.starttls(context)
    except SecretUnreadable as error:
        raise MailboxError(str(error)) from error
    except socket.gaierror as error:
        raise MailboxError(f"IMAP server {mailbox.imap_host} not found (DNS): {error}") from error
    except ConnectionRefusedError as error:
        raise MailboxError(f"IMAP connection to {where} refused: is the port right?") from error
    except TimeoutError as error:
        raise MailboxError(f"IMAP connection to {where} timed out") from error
    except ssl.SSLError as error:
        raise MailboxError(f"TLS with IMAP server {where} failed ({error.reason or error}): "
                           f"check the port and the security setting") from error
    except (IMAPClientError, OSError) as error:
        raise MailboxError(f"IMAP server {where}: {error}") from error
    try:
        client.login(mailbox.imap_user, password)
    except LoginError as error:
        close(client)
        raise MailboxError(f"IMAP login as {mailbox.imap_user} refused: check the user name "
                           f"and password ({_text(error)})") from error
    except (IMAPClientError, OSError) as error:
        close(client)
        raise MailboxError(f"IMAP login on {where} failed: {_text(error)}") from error
    return client


def select(client: IMAPClient, mailbox: Mailbox, *, readonly: bool) -> dict:
    try:
        return client.select_folder(mailbox.folder, readonly=readonly)
    except IMAPClientError as error:
        raise MailboxError(f"folder “{mailbox.folder}” not found or not readable "
                           f"({_text(error)})") from error


def test_connection(mailbox: Mailbox, *, password: str | None = None) -> str:
    """Connect, log in, open the folder. Returns a summary; raises MailboxError."""
    client = connect(mailbox, password=password)
    try:
        info = select(client, mailbox, readonly=True)
        count = info.get(b"EXISTS", 0)
        return f"Connected to {mailbox.imap_host}: folder “{mailbox.folder}” has {count} messages."
    finally:
        close(client)


def _text(error: Exception) -> str:
    text = str(error)
    return text.replace("b'", "").replace("'", "") if text.startswith("b'") else text


def close(client: IMAPClient) -> None:
    with contextlib.suppress(Exception):  # closing a broken connection
        client.logout()
