"""The sender, Reply-To and recipient addresses of a mail's raw headers."""

from __future__ import annotations

import email.utils
import re

from helpdesk.mail.charsets import Hints
from helpdesk.mail.headers import COMMENT, _raw_bytes_text, header_text

try:  # mail-parser's hardened address parser (4.8 has it; without it, the stdlib's)
    from mailparser.utils import get_addresses
except ImportError:  # pragma: no cover
    get_addresses = None

MAX_SENDER = 4096  # characters of a From: (Reply-To:, ...) value read for the sender address
MAX_RECIPIENTS = 65536  # characters of each To:, Cc:, ... value read for the recipients
LOOSE_ADDRESS = re.compile(r"[^\s<>\"(),;:\[\]]+@[^\s<>\"(),;:\[\]]+")
SENDER_HEADERS = ("from", "reply-to", "sender", "return-path")


def _lenient(value: str) -> list[tuple[str, str]]:
    """The standard library's lenient reading, then anything that looks like an address."""
    try:
        found = [(n or "", a.strip()) for n, a in email.utils.getaddresses([value])
                 if "@" in (a or "")[1:]]
    except Exception:  # noqa: BLE001
        found = []
    return found or [("", m.group(0)) for m in LOOSE_ADDRESS.finditer(COMMENT.sub(" ", value))]


def _mailboxes(value: str) -> list[tuple[str, str]]:
    """(name, address) pairs of a sender header: mail-parser's strict, hardened parser (a
    display name that looks like an address never becomes the address), then the lenient
    readings for the broken headers real mail has (`"a@b"` alone, `Test test@example.com`)."""
    try:
        found = [(n or "", a) for n, a in get_addresses(value, decode_names=True) if "@" in a]
    except Exception:  # noqa: BLE001 - no or an older mail-parser, or input it gives up on
        found = []
    return found or _lenient(value)


def _unicode(value: str, hints: Hints) -> str:
    text = value if value.isascii() else _raw_bytes_text(value, hints)
    return text.replace("\x00", "")


def _sender(raw: list[tuple[str, str]], hints: Hints) -> tuple[str, str, str]:
    """(name, address, header) of the first usable sender address: From: (each occurrence, an
    empty `<>` skipped), else Reply-To:, Sender:, Return-Path:."""
    for header in SENDER_HEADERS:
        for name, value in raw:
            if name == header:
                text = " ".join(_unicode(value[:MAX_SENDER], hints).replace("<>", " ").split())
                for display, address in _mailboxes(text):
                    return header_text(display), address, header
    for name, value in raw:  # at last a From: without a domain, like `MAILER-DAEMON (...)`
        if name == "from":
            display, address = email.utils.parseaddr(_unicode(value[:MAX_SENDER], hints))
            if address.strip() and " " not in address.strip():
                return header_text(display), address.strip(), "from"
    return "", "", ""


def _recipients(raw: list[tuple[str, str]], hints: Hints) -> list[str]:
    values = [_unicode(value[:MAX_RECIPIENTS], hints) for name, value in raw
              if name in ("to", "cc", "delivered-to", "x-original-to", "envelope-to")]
    if not values:
        return []
    try:
        pairs = email.utils.getaddresses(values)
    except Exception:  # noqa: BLE001
        pairs = []
    return list(dict.fromkeys(a.strip().lower() for _, a in pairs if "@" in (a or "")))


def _reply_to(raw: list[tuple[str, str]], hints: Hints) -> str:
    for name, value in raw:
        if name == "reply-to":
            found = _lenient(_unicode(value[:MAX_SENDER], hints))
            if found:
                return found[0][1].strip().lower()
    return ""
