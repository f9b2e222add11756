"""Header values as text, Message-IDs, and the repair of broken header blocks.

Values are read as sent (compat32 keeps raw 8-bit bytes as surrogates), then their raw bytes and
RFC 2047 encoded words are decoded leniently with the charsets of charsets.py.
"""

from __future__ import annotations

import base64
import binascii
import email
import re
from email.message import Message as StdMessage

from helpdesk.mail.charsets import Hints, _codecs_for, _decode

MSGID = re.compile(r"<([^<>\s]+)>")
COMMENT = re.compile(r"\([^()]*\)")

ENCODED_WORD = re.compile(r"=\?([^?\s*]+)(?:\*[^?\s]*)?\?([bBqQ])\?([^?]*?)\?=")
_QP_BYTE = re.compile(rb"=([0-9A-Fa-f]{2})")
_MULTIBYTE_HINT = re.compile(r"gb|big5|jis|jp|kr|ks_c|euc|cp9|utf-8|utf8|unicode", re.I)


def _word_bytes(kind: str, text: str) -> bytes | None:
    if kind in "bB":
        text = "".join(text.split())
        try:
            return base64.b64decode(text + "=" * (-len(text) % 4))
        except (binascii.Error, ValueError):
            return None
    raw = text.replace("_", " ").encode("utf-8", errors="surrogateescape")
    return _QP_BYTE.sub(lambda m: bytes((int(m.group(1), 16),)), raw)


def decode_words(value: str, hints: Hints = ()) -> str:
    """RFC 2047 encoded words, leniently: whitespace between words dropped, words of one charset
    decoded together (encoders split characters across words), spaces inside a word and unknown
    or wrong charsets tolerated. An undecodable word stays as sent."""
    if "=?" not in value:
        return value
    pieces: list[tuple[str | None, bytes | str]] = []  # (charset, bytes) or (None, text)
    position = 0
    for match in ENCODED_WORD.finditer(value):
        between = value[position:match.start()]
        data = _word_bytes(match.group(2), match.group(3))
        if data is None:
            pieces.append((None, between + match.group(0)))
        else:
            if between and not (between.isspace() and pieces and pieces[-1][0] is not None):
                pieces.append((None, between))
            charset = match.group(1).lower()
            if pieces and pieces[-1][0] == charset:
                pieces[-1] = (charset, pieces[-1][1] + data)
            else:
                pieces.append((charset, data))
        position = match.end()
    pieces.append((None, value[position:]))
    return "".join(piece if charset is None else _decode(piece, charset, hints)
                   for charset, piece in pieces)


def _raw_bytes_text(value: str, hints: Hints = ()) -> str:
    """A header value the stdlib read with raw 8-bit bytes kept as surrogates: decode the bytes
    as UTF-8, or in a charset the mail declares (multi-byte ones first: single-byte charsets
    accept anything)."""
    if value.isascii():
        return value
    try:
        data = value.encode("utf-8", errors="surrogateescape")
    except UnicodeError:
        return value.encode("utf-8", errors="replace").decode("utf-8")
    hints = hints() if callable(hints) else hints
    return _decode(data, None, tuple(sorted(hints, key=lambda h: not _MULTIBYTE_HINT.search(h))))


def _clean(value: str) -> str:
    return " ".join(value.replace("\x00", "").split())


_LINE_BREAKS = re.compile(r"[\r\n\x00]+")


def header_text(value, hints: Hints = (), *, collapse: bool = True) -> str:
    """A raw header value as text: raw 8-bit bytes and encoded words decoded, NULs removed,
    whitespace collapsed (or, with collapse=False, only line breaks removed). Never raises."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if not text.isascii():
        text = _raw_bytes_text(text, hints)
    if "=?" in text:
        text = decode_words(text, hints)
    return _clean(text) if collapse else _LINE_BREAKS.sub("", text).replace("\t", " ").strip()


def _raw_get(message: StdMessage, name: str) -> str | None:
    """The first `name` header as sent. Message.get() would turn raw 8-bit bytes into U+FFFD."""
    try:
        for key, value in message.raw_items():
            if key.lower() == name:
                return value if isinstance(value, str) else str(value)
    except Exception:  # noqa: BLE001
        pass
    return None


MAX_ID = 500  # characters; the indexed columns hold 998, btree entries at most ~2,700 bytes


def message_ids(value: str | None) -> list[str]:
    """The "<id>" tokens of an In-Reply-To / References value; tolerant of comments and of ids
    sent without angle brackets."""
    if not value:
        return []
    found = [f"<{m}>" for m in MSGID.findall(value)]
    if not found:
        bare = COMMENT.sub(" ", value).replace(",", " ").split()
        found = [f"<{token.strip('<>')}>" for token in bare if "@" in token.strip("<>")[1:]]
    # Real ids are short printable ASCII. Anything else (NUL bytes, 8-bit text, kilobytes)
    # could not be stored or indexed, and can never match one of ours: dropped.
    return [i for i in dict.fromkeys(found)
            if len(i) <= MAX_ID and i.isascii() and i.isprintable()]


class _Hints:
    """The charsets a message declares (its parts' Content-Type charset parameters, then the
    charsets of encoded words in its headers), computed only when a decode needs them."""

    def __init__(self, message: StdMessage | None):
        self.message = message
        self._value: tuple[str, ...] | None = None

    def __call__(self) -> tuple[str, ...]:
        if self._value is None:
            found: list[str] = []
            if self.message is not None:
                try:
                    for count, part in enumerate(self.message.walk()):
                        if count > 200:
                            break
                        charset = part.get_param("charset")
                        if isinstance(charset, str) and charset:
                            found.append(charset.lower())
                    for _, value in self.message.raw_items():
                        found += [m.group(1).lower() for m in ENCODED_WORD.finditer(str(value))]
                except Exception:  # noqa: BLE001 - hints are a guess; a broken part gives none
                    pass
            self._value = tuple(dict.fromkeys(h for h in found
                                              if _codecs_for(h) not in ((), ("ascii", "utf-8"),
                                                                         ("utf-8",))))
        return self._value


def _raw_headers(message: StdMessage) -> list[tuple[str, str]]:
    try:
        return [(str(name).lower(), value if isinstance(value, str) else str(value))
                for name, value in message.raw_items()]
    except Exception:  # noqa: BLE001
        return []


def _decoded_headers(raw: list[tuple[str, str]], hints: _Hints) -> dict[str, str]:
    result: dict[str, str] = {}
    for name, value in raw:
        if name not in result:
            result[name] = header_text(value, hints)
    return result


# --- header block repair ---------------------------------------------------------------------

_BLANK_LINE = re.compile(rb"\r?\n\r?\n")
_HEADER_LINE = re.compile(rb"[\x21-\x39\x3b-\x7e]+:")
_SPACED_NAME = re.compile(rb"([\x21-\x39\x3b-\x7e]+)[ \t]+:")


def _repair_header_block(raw: bytes) -> bytes | None:
    """The standard library stops reading headers at the first line that is neither a header nor
    a continuation, and everything after it becomes body. Real mail has such lines: a wrapped
    header whose continuation lost its indent, `Name : value`, a note above the headers. Inside
    the header block (up to the first blank line): lines before the first header are dropped,
    lines between headers become continuations, lines after the last header start the body."""
    blank = _BLANK_LINE.search(raw)
    if blank is None:
        return None
    lines = raw[:blank.start()].splitlines(keepends=True)
    kinds = []
    for index, line in enumerate(lines):
        if index == 0 and line.startswith(b"From "):
            kinds.append("envelope")
        elif _HEADER_LINE.match(line):
            kinds.append("header")
        elif _SPACED_NAME.match(line):
            lines[index] = _SPACED_NAME.sub(rb"\1:", line, count=1)
            kinds.append("header")
        elif line[:1] in (b" ", b"\t"):
            kinds.append("continuation")
        else:
            kinds.append("stray")
    if "header" not in kinds:
        return None
    first = kinds.index("header")
    last = len(kinds) - 1
    while kinds[last] == "stray":
        last -= 1
    head, body = [], lines[last + 1:]
    for index, (line, kind) in enumerate(zip(lines[:last + 1], kinds, strict=False)):
        if kind == "envelope" or (first <= index and kind in ("header", "continuation")):
            head.append(line)
        elif first <= index:  # a stray line between headers: fold it into the one above
            head.append(b" " + line)
    newline = b"\r\n" if lines[0].endswith(b"\r\n") else b"\n"
    if body:
        return b"".join(head) + newline + b"".join(body) + raw[blank.start():]
    return b"".join(head) + raw[blank.start():]


def _message(raw: bytes, notes: list[str]) -> StdMessage:
    message = email.message_from_bytes(raw)
    if any(type(d).__name__ == "MissingHeaderBodySeparatorDefect" for d in message.defects):
        repaired = _repair_header_block(raw)
        if repaired is not None:
            second = email.message_from_bytes(repaired)
            if len(second) > len(message):
                notes.append("header block repaired")
                return second
    return message
