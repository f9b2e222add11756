"""Parse a raw mail into what the pipeline needs; never raises on bad input.

Real mail is often broken: wrong or unknown charsets, raw 8-bit header bytes, missing or
duplicated headers, header blocks with stray lines, broken MIME. Each field falls back on its own
(a bad charset falls back to a superset or to UTF-8 with Windows-1252 for the bytes that are not
UTF-8, a missing Message-ID gets a digest of the raw bytes), so one bad part never loses the rest
of the mail, and anything unexpected still yields a ParsedMail from the headers and raw text.

The MIME tree comes from the standard library (compat32, which keeps undecodable header bytes);
the sender's address is read with mail-parser's hardened address parser, with a lenient fallback
for the broken From: headers real mail has. The rules follow what Zammad's parser makes of the
same mails (tests/mail/test_corpus_parse.py compares 106 of them):

- sender: the first usable address of From: (every occurrence), else Reply-To:, Sender:,
  Return-Path:;
- text: the inline text/plain parts of the mail itself, joined in order (one alternative of a
  multipart/alternative); html: its first inline text/html part;
- attachments: every other leaf part (named parts, inline images with their content_id, unnamed
  non-text parts, further HTML parts as `document.html`), attached messages as `<subject>.eml`
  (not looked into) and delivery reports.

The common case (ASCII or UTF-8 headers, declared charsets that decode) costs one stdlib parse
and a walk; charset fallbacks and the header repair run only when something fails.

This module puts the steps together and is the one to import: charsets.py decodes bytes in a
doubtful charset, headers.py decodes header values and Message-IDs and repairs header blocks,
addresses.py reads the sender and recipients, mime.py walks the body and attachments.
"""

from __future__ import annotations

import email.parser
import hashlib
import logging
from dataclasses import dataclass, field
from email.message import Message as StdMessage

from helpdesk.mail.addresses import _recipients, _reply_to, _sender
from helpdesk.mail.charsets import _decode, decode_text
from helpdesk.mail.headers import (
    _BLANK_LINE,
    MAX_ID,
    _decoded_headers,
    _Hints,
    _message,
    _raw_headers,
    decode_words,
    header_text,
    message_ids,
)
from helpdesk.mail.mime import ParsedAttachment, _body

__all__ = ["MAX_ID", "ParsedAttachment", "ParsedMail", "decode_text", "decode_words",
           "header_text", "message_ids", "parse"]

log = logging.getLogger(__name__)


@dataclass
class ParsedMail:
    message_id: str  # "<id>" as sent, or a digest when the mail has none
    has_message_id: bool
    subject: str
    sender: str  # lower-cased address ("" when there is no usable From:, Reply-To:, ...)
    sender_name: str
    reply_to: str
    recipients: list[str]  # To, Cc, Delivered-To, X-Original-To, Envelope-To (raw addresses)
    in_reply_to: list[str]  # "<id>" each
    references: list[str]
    headers: dict[str, str]  # lower-cased names, decoded values (first occurrence)
    content_type: str
    text: str
    html: str
    attachments: list[ParsedAttachment] = field(default_factory=list)
    message: StdMessage | None = None  # the standard-library tree, for the bounce step
    # Which header the sender came from: "from", or a fallback ("reply-to", "sender",
    # "return-path") when From: has no usable address; "" when there is no sender.
    sender_source: str = "from"
    # What had to be repaired or guessed, for logs and the quarantine view, e.g.
    # "header block repaired", "charset fallback: gb2312", "parse failed: ...".
    defects: list[str] = field(default_factory=list)


def _digest_id(raw: bytes) -> str:
    return f"<sha256-{hashlib.sha256(raw).hexdigest()}@no-message-id>"


def _as_raw(raw) -> bytes:
    if isinstance(raw, bytes):
        return raw
    if isinstance(raw, str):
        return raw.encode("utf-8", errors="surrogateescape")
    try:
        return bytes(raw or b"")
    except (TypeError, ValueError):
        return b""


def _parse(raw: bytes) -> ParsedMail:
    notes: list[str] = []
    message = _message(raw, notes)
    hints = _Hints(message)
    raw_headers = _raw_headers(message)
    headers = _decoded_headers(raw_headers, hints)
    ids = message_ids(headers.get("message-id"))
    name, address, source = _sender(raw_headers, hints)
    text, html, attachments = _body(message, hints, notes)
    return ParsedMail(
        message_id=ids[0] if ids else _digest_id(raw),
        has_message_id=bool(ids),
        subject=headers.get("subject", ""),
        sender=address.strip().lower(),
        sender_name=name,
        reply_to=_reply_to(raw_headers, hints),
        recipients=_recipients(raw_headers, hints),
        in_reply_to=message_ids(headers.get("in-reply-to")),
        references=message_ids(headers.get("references")),
        headers=headers,
        content_type=message.get_content_type(),
        text=text,
        html=html,
        attachments=attachments,
        message=message,
        sender_source=source,
        defects=notes,
    )


def _fallback(raw: bytes, error: Exception) -> ParsedMail:
    """When the full parse fails: the headers alone, and the raw text as the body."""
    notes = [f"parse failed: {type(error).__name__}"]
    headers: dict[str, str] = {}
    raw_headers: list[tuple[str, str]] = []
    message = None
    try:
        message = email.parser.BytesHeaderParser().parsebytes(raw)
        raw_headers = _raw_headers(message)
        headers = _decoded_headers(raw_headers, _Hints(None))
        name, address, source = _sender(raw_headers, _Hints(None))
    except Exception:  # noqa: BLE001
        name, address, source = "", "", ""
    blank = _BLANK_LINE.search(raw)
    body = _decode(raw[blank.end():] if blank else raw).replace("\x00", "")
    ids = message_ids(headers.get("message-id"))
    return ParsedMail(
        message_id=ids[0] if ids else _digest_id(raw), has_message_id=bool(ids),
        subject=headers.get("subject", ""), sender=address.strip().lower(), sender_name=name,
        reply_to="", recipients=[], in_reply_to=message_ids(headers.get("in-reply-to")),
        references=message_ids(headers.get("references")), headers=headers,
        content_type="text/plain", text=body, html="", attachments=[], message=message,
        sender_source=source, defects=notes)


def parse(raw: bytes) -> ParsedMail:
    raw = _as_raw(raw)
    try:
        return _parse(raw)
    except Exception as error:  # noqa: BLE001 - never raise on mail from the outside
        log.warning("mail parse failed, keeping headers and raw text: %r", error)
        try:
            return _fallback(raw, error)
        except Exception:  # noqa: BLE001
            return ParsedMail(_digest_id(raw), False, "", "", "", "", [], [], [], {},
                              "text/plain", "", "", defects=[f"parse failed: {error!r}"])
