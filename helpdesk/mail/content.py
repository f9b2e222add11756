"""What a mail's message will hold: text, sanitized HTML, the visible new part, attachments,
threading headers; and inline `cid:` images pointed at the stored attachments afterwards.
Shared by the bulk path and the one-mail path, so both store the very same message."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import quote, unquote

from helpdesk.core.urls import app_path
from helpdesk.mail.parsing import ParsedAttachment, ParsedMail
from helpdesk.mail.visible import DEFAULT_LANGUAGES, visible_part
from helpdesk.tickets.attachments import max_size
from helpdesk.tickets.sanitize import HtmlTooComplex, clean_html, html_to_text, text_to_html
from helpdesk.tickets.services import MAX_BODY

EMPTY_BODY = "(this mail has no text)"
CID = re.compile(r"""(["'(])cid:([^"')\s>]+)""", re.IGNORECASE)
# Placeholders survive the sanitizer as relative URLs; the trailing "/" ends each one, so
# content ids "1" and "12" cannot be mistaken for each other.
PLACEHOLDER = re.compile(r"/_inline/([^/\"'\s)>]+)/")
CUT_NOTE = "\n\n[… cut here: the full mail is kept]"


@dataclass
class Prepared:
    text: str
    html: str
    visible: str | None
    files: list[tuple[str, bytes, str, str | None]] = field(default_factory=list)
    headers: dict[str, str | None] = field(default_factory=dict)


def _placeholder(content_id: str) -> str:
    return f"/_inline/{quote(content_id, safe='')}/"


def _too_large(item: ParsedAttachment, limit: int) -> str:
    size = f"{len(item.data) / (1024 * 1024):.1f} MB"
    return (f"[attachment {item.filename} ({size}) not stored: larger than "
            f"{limit / (1024 * 1024):.0f} MB; the full mail is kept]")


def prepare(mail: ParsedMail, languages: tuple[str, ...] = DEFAULT_LANGUAGES) -> Prepared:
    text, html = mail.text, ""
    if mail.html:
        rewritten = CID.sub(lambda m: m.group(1) + _placeholder(m.group(2)), mail.html)
        try:
            html = clean_html(rewritten)
        except HtmlTooComplex:
            html = ""  # too many tags to sanitize safely: the text part (and the raw) stay
        if not text.strip() and html:
            text = html_to_text(html)
    if not text.strip():
        text = EMPTY_BODY  # e.g. only an image: the HTML (if any) still shows it
    visible = visible_part(text, languages)
    limit, files, notes = max_size(), [], []
    for item in mail.attachments:
        if len(item.data) > limit:
            notes.append(_too_large(item, limit))
        else:
            files.append((item.filename, item.data, item.content_type, item.content_id))
    if notes:
        text += "\n\n" + "\n".join(notes)
        if visible is not None:
            visible += "\n\n" + "\n".join(notes)
    if len(text) > MAX_BODY:
        text = text[: MAX_BODY - len(CUT_NOTE)] + CUT_NOTE
    headers = {"message_id": mail.message_id if mail.has_message_id else None,
               "in_reply_to": " ".join(mail.in_reply_to) or None,
               "references": " ".join(mail.references) or None}
    return Prepared(text, html or text_to_html(text), visible, files, headers)


def has_inline_images(html: str | None) -> bool:
    return "/_inline/" in (html or "")


def link_inline(html: str, stored: list[tuple[int, str | None]], org_slug: str) -> str:
    """Point inline-image placeholders at stored attachments ((id, content id) pairs); any
    placeholder without its attachment is dropped."""
    if not has_inline_images(html):
        return html
    by_cid = {content_id: attachment_id for attachment_id, content_id in stored if content_id}

    def url(match: re.Match) -> str:
        attachment_id = by_cid.get(unquote(match.group(1)))
        if attachment_id is None:
            return ""
        return app_path("tickets.attachment", org_slug=org_slug, attachment_id=attachment_id)

    return PLACEHOLDER.sub(url, html)


def is_historical(mail: ParsedMail, connected_at: datetime | None) -> bool:
    """Mail dated well before its mailbox was connected (a first poll or a resync reads the
    folder's history): stored and threaded, but nobody waits for an acknowledgement."""
    if connected_at is None or not mail.headers.get("date"):
        return False
    try:
        sent = parsedate_to_datetime(mail.headers["date"])
    except (TypeError, ValueError, IndexError):
        return False
    if sent.tzinfo is None:
        return False
    return sent < connected_at - timedelta(hours=1)
