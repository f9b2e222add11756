"""The body and attachments of a parsed MIME tree.

The walk yields the inline text/plain parts (one alternative of a multipart/alternative), the
first inline text/html part, and every other leaf part as an attachment (named parts, inline
images with their content_id, unnamed non-text parts, further HTML parts as `document.html`),
attached messages as `<subject>.eml` (not looked into) and delivery reports. One bad part is
skipped, not fatal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message as StdMessage

from helpdesk.mail.charsets import Hints, _decode_how
from helpdesk.mail.headers import _Hints, _raw_get, header_text

MAX_DEPTH = 64  # MIME nesting we look into; deeper parts are ignored


@dataclass
class ParsedAttachment:
    filename: str
    content_type: str
    data: bytes
    content_id: str | None = None


_META_CHARSET = re.compile(rb"<meta[^>]{0,200}?charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]{1,40})",
                           re.I)
_CID_NAME = re.compile(r"^([^@/\\\s]{1,100}\.[A-Za-z0-9]{2,6})@")
_HAS_EXTENSION = re.compile(r"\.[A-Za-z0-9]{2,6}$")
_EXTENSIONS = {
    "text/plain": "txt", "text/html": "html", "text/calendar": "ics", "text/csv": "csv",
    "text/rfc822-headers": "txt", "message/delivery-status": "txt", "image/jpeg": "jpg",
    "image/jpg": "jpg", "image/pjpeg": "jpg", "image/png": "png", "image/gif": "gif",
    "image/bmp": "bmp", "image/webp": "webp", "image/tiff": "tif", "image/svg+xml": "svg",
    "video/quicktime": "mov", "video/mp4": "mp4", "audio/mpeg": "mp3", "audio/wav": "wav",
    "application/pdf": "pdf", "application/zip": "zip", "application/pgp-signature": "asc",
    "application/pkcs7-signature": "p7s", "application/x-pkcs7-signature": "p7s",
    "application/pkcs7-mime": "p7m", "application/x-pkcs7-mime": "p7m", "application/ics": "ics",
    "application/msword": "doc", "application/vnd.ms-excel": "xls",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
}
_STEMS = {"text/html": "document", "text/plain": "document", "text/calendar": "calendar",
          "text/rfc822-headers": "headers", "message/delivery-status": "delivery-status"}
_MESSAGE_TYPES = ("message/rfc822", "message/global")
_REPORT_TYPES = ("message/delivery-status", "message/disposition-notification",
                 "message/feedback-report", "message/global-delivery-status",
                 "text/rfc822-headers", "message/rfc822-headers")


@dataclass
class _Item:
    kind: str  # "text", "html" or "file"
    part: StdMessage
    text: str = ""
    attachment: ParsedAttachment | None = None
    named: bool = True  # False: the file name was made up (document.html, image.png, ...)


def _safe_name(name: str, *, path: bool = True) -> str:
    """A file name without directories or control characters."""
    name = name.replace("\\", "/")
    name = name.rsplit("/", 1)[-1] if path else name.replace("/", "_")
    name = "".join(ch for ch in name if ch >= " " and ch != "\x7f").strip().strip(".")
    return name[:200]


def _payload(part: StdMessage) -> bytes:
    data = part.get_payload(decode=True)
    if isinstance(data, bytes):
        return data
    payload = part.get_payload()
    if isinstance(payload, list):  # a delivery report's header blocks, for example
        return b"\n".join(_as_bytes(p) for p in payload if isinstance(p, StdMessage))
    return str(payload or "").encode("utf-8", errors="surrogateescape")


def _as_bytes(message: StdMessage) -> bytes:
    try:
        return message.as_bytes()
    except Exception:  # noqa: BLE001 - a tree the generator cannot write back
        try:
            return message.as_string().encode("utf-8", errors="replace")
        except Exception:  # noqa: BLE001
            return b""


def _charset(part: StdMessage) -> str | None:
    charset = part.get_param("charset")
    if isinstance(charset, tuple):  # RFC 2231 form
        charset = charset[2] if len(charset) == 3 else None
    return charset if isinstance(charset, str) else None


def _part_text(part: StdMessage, hints: _Hints, notes: list[str]) -> str:
    data = _payload(part)
    charset = _charset(part)
    extra: Hints = hints
    if not charset and not data.isascii() and part.get_content_subtype() == "html":
        meta = _META_CHARSET.search(data[:4096])
        if meta:
            extra = (meta.group(1).decode("ascii"), *hints())
    text, fell_back = _decode_how(data, charset, extra)
    if fell_back:
        notes.append(f"charset fallback: {charset or 'none declared'}"[:80])
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.replace("\x00", "")


def _content_id(part: StdMessage) -> str | None:
    return header_text(_raw_get(part, "content-id")).strip("<>").strip() or None


def _filename(part: StdMessage, hints: _Hints) -> str:
    """The file name (Content-Disposition filename, else Content-Type name; RFC 2231 and
    encoded words decoded), without directories."""
    try:
        name = part.get_filename()
        if name and "\ufffd" in name:  # raw 8-bit bytes: read the parameters from our decoding
            headers = StdMessage()
            for key in ("content-disposition", "content-type"):
                value = _raw_get(part, key)
                if value is not None:
                    headers[key] = header_text(value, hints, collapse=False)
            name = headers.get_filename()
    except Exception:  # noqa: BLE001
        name = None
    if isinstance(name, str) and name.strip():
        return _safe_name(header_text(name, hints, collapse=False))
    return ""


def _generated_name(part: StdMessage, kind: str, hints: _Hints) -> str:
    """For a part without a file name: the name in its Content-ID (`image001.jpg@01D...`), its
    Content-Description, or one from its type (document.html, image.png, file)."""
    from_id = _CID_NAME.match(_content_id(part) or "")
    if from_id:
        return from_id.group(1)
    extension = _EXTENSIONS.get(kind)
    description = _description(part, hints) if extension else ""
    if description and _HAS_EXTENSION.search(description):
        return description
    major = kind.split("/")[0]
    stem = description or _STEMS.get(kind) or (
        major if major in ("image", "video", "audio") else "file")
    return f"{stem}.{extension}" if extension else stem


def _description(part: StdMessage, hints: _Hints) -> str:
    return _safe_name(header_text(_raw_get(part, "content-description"), hints),
                      path=False)[:80]


def _attached_message(part: StdMessage, hints: _Hints) -> _Item:
    """An attached message, as `<its subject>.eml`; not looked into."""
    payload = part.get_payload()
    inner = payload[0] if isinstance(payload, list) and payload else payload
    name = _filename(part, hints)
    named = bool(name)
    if isinstance(inner, StdMessage):
        data = _as_bytes(inner)
        if not name:
            subject = _safe_name(header_text(_raw_get(inner, "subject"), _Hints(inner)),
                                 path=False)[:150] or _description(part, hints)
            name = f"{subject}.eml" if subject else "message.eml"
    else:
        data = _payload(part)
    return _Item("file", part, attachment=ParsedAttachment(
        name or "message.eml", part.get_content_type(), data), named=named)


def _leaf(part: StdMessage, hints: _Hints, notes: list[str]) -> _Item:
    kind = part.get_content_type()
    name = _filename(part, hints)
    if kind.startswith("multipart/"):  # a multipart the parser could not split: read as text
        return _Item("text", part, _part_text(part, hints, notes))
    if kind in _REPORT_TYPES:
        name = name or _generated_name(part, kind, hints)
    elif not name and part.get_content_disposition() != "attachment" and kind in (
            "text/plain", "text/html"):
        return _Item("text" if kind == "text/plain" else "html", part,
                     _part_text(part, hints, notes))
    return _Item("file", part, attachment=ParsedAttachment(
        name or _generated_name(part, kind, hints), kind, _payload(part), _content_id(part)),
        named=bool(name))


def _walk(part: StdMessage, hints: _Hints, notes: list[str], depth: int = 0) -> list[_Item]:
    """The body and attachment items of a part, in order. One bad part is skipped, not fatal."""
    if depth > MAX_DEPTH:
        notes.append("MIME nesting too deep: inner parts ignored")
        return []
    try:
        kind = part.get_content_type()
        if kind in _MESSAGE_TYPES:
            return [_attached_message(part, hints)]
        if not part.is_multipart() or kind in _REPORT_TYPES:
            return [_leaf(part, hints, notes)]
        results = [_walk(child, hints, notes, depth + 1) for child in part.get_payload()
                   if isinstance(child, StdMessage)]
        if part.get_content_subtype() != "alternative":
            return [item for items in results for item in items]
        # One alternative gives the text, one the HTML; attachments come from all of them.
        text_from = next((i for i, items in enumerate(results)
                          if any(x.kind == "text" for x in items)), None)
        html_from = next((i for i, items in enumerate(results)
                          if any(x.kind == "html" for x in items)), None)
        return [item for i, items in enumerate(results) for item in items
                if item.kind == "file" or (item.kind == "text" and i == text_from)
                or (item.kind == "html" and i == html_from)]
    except Exception as error:  # noqa: BLE001
        notes.append(f"part skipped: {type(error).__name__}")
        return []


def _unique(name: str, taken: set[str], counters: dict[str, int]) -> str:
    """A made-up name that repeats gets a counter: document.html, document1.html."""
    stem, dot, extension = name.rpartition(".")
    if not dot:
        stem, extension = name, ""
    candidate, counter = name, counters.get(name, 0)
    while candidate in taken:
        counter += 1
        candidate = f"{stem}{counter}.{extension}" if extension else f"{stem}{counter}"
    counters[name] = counter
    return candidate


def _body(message: StdMessage, hints: _Hints, notes: list[str]
          ) -> tuple[str, str, list[ParsedAttachment]]:
    """(text, html, attachments): the inline text/plain parts joined, the first inline
    text/html part; further HTML parts become attachments."""
    texts: list[str] = []
    html = ""
    attachments: list[ParsedAttachment] = []
    taken: set[str] = set()
    counters: dict[str, int] = {}
    for item in _walk(message, hints, notes):
        if item.kind == "text":
            if item.text.strip():
                texts.append(item.text)
            continue
        if item.kind == "html":
            if not item.text.strip():
                continue
            if not html:
                html = item.text
                continue
            item.attachment = ParsedAttachment(
                _generated_name(item.part, "text/html", hints), "text/html",
                _payload(item.part), _content_id(item.part))
            item.named = False
        attachment = item.attachment
        if not item.named:
            attachment.filename = _unique(attachment.filename, taken, counters)
        taken.add(attachment.filename)
        attachments.append(attachment)
    text = "".join(t if t.endswith("\n") or i == len(texts) - 1 else t + "\n"
                   for i, t in enumerate(texts))
    return text, html, attachments
