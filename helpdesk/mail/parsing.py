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
"""

from __future__ import annotations

import base64
import binascii
import codecs
import email
import email.parser
import email.utils
import functools
import hashlib
import logging
import re
from dataclasses import dataclass, field
from email.message import Message as StdMessage

try:  # mail-parser's hardened address parser (4.8 has it; without it, the stdlib's)
    from mailparser.utils import get_addresses
except ImportError:  # pragma: no cover
    get_addresses = None

log = logging.getLogger(__name__)

MSGID = re.compile(r"<([^<>\s]+)>")
COMMENT = re.compile(r"\([^()]*\)")
MAX_DEPTH = 64  # MIME nesting we look into; deeper parts are ignored
MAX_SENDER = 4096  # characters of a From: (Reply-To:, ...) value read for the sender address
MAX_RECIPIENTS = 65536  # characters of each To:, Cc:, ... value read for the recipients


@dataclass
class ParsedAttachment:
    filename: str
    content_type: str
    data: bytes
    content_id: str | None = None


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


# --- charsets --------------------------------------------------------------------------------

# Labels whose decoder should be a superset, as mail clients and browsers do (the WHATWG
# Encoding Standard maps these labels the same way): GB2312 mail is usually GBK, Shift_JIS is
# usually Windows-31J, "ISO-8859-1" is usually Windows-1252, and so on.
_SUPERSETS = {
    **dict.fromkeys(("gb2312", "gbk", "x-gbk", "gb_2312", "gb_2312-80", "gb2312-80", "chinese",
                     "csgb2312", "euc-cn", "euccn", "iso-gb2312", "x-gb2312", "cn-gb",
                     "iso-ir-58", "gb18030", "cp936", "windows-936"), ("gb18030",)),
    **dict.fromkeys(("big5", "big-5", "cn-big5", "x-x-big5", "csbig5", "big5-hkscs", "cp950",
                     "x-big5"), ("big5hkscs", "cp950")),
    **dict.fromkeys(("shift_jis", "shift-jis", "sjis", "x-sjis", "ms_kanji", "csshiftjis",
                     "windows-31j", "x-ms-cp932", "cp932", "ms932"), ("cp932",)),
    **dict.fromkeys(("euc-jp", "x-euc-jp", "eucjp", "cseucpkdfmtjapanese"),
                    ("euc_jp", "euc_jis_2004")),
    **dict.fromkeys(("iso-2022-jp", "csiso2022jp", "iso2022jp", "iso-2022-jp-1"),
                    ("iso2022_jp", "iso2022jp-vendor")),
    **dict.fromkeys(("ks_c_5601-1987", "ks_c_5601-1989", "ksc5601", "ksc_5601", "euc-kr",
                     "euckr", "korean", "csksc56011987", "iso-ir-149", "windows-949", "cp949"),
                    ("cp949",)),
    **dict.fromkeys(("iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "latin-1", "l1",
                     "cp819", "ibm819", "iso-ir-100", "csisolatin1", "windows-1252", "cp1252",
                     "x-cp1252"), ("cp1252", "latin-1")),
    # Mail labelled ASCII that has 8-bit bytes is almost always UTF-8.
    **dict.fromkeys(("us-ascii", "ascii", "ansi_x3.4-1968", "iso646-us", "us", "csascii",
                     "ascii-us"), ("ascii", "utf-8")),
    **dict.fromkeys(("iso-8859-9", "iso8859-9", "latin5", "l5", "iso-ir-148", "windows-1254"),
                    ("cp1254",)),
    **dict.fromkeys(("tis-620", "iso-8859-11", "windows-874", "dos-874", "cp874"), ("cp874",)),
    **dict.fromkeys(("iso-8859-8-i", "iso-8859-8-e", "logical", "visual"), ("iso8859_8",)),
    **dict.fromkeys(("unicode-1-1-utf-7", "utf-7", "csunicode11utf7", "x-unicode20utf7"),
                    ("utf_7",)),
    **dict.fromkeys(("utf-8", "utf8", "unicode-1-1-utf-8", "x-unicode20utf8"), ("utf-8",)),
    "x-mac-roman": ("mac_roman",), "macintosh": ("mac_roman",),
}
# Labels that name no charset at all.
_NO_CHARSET = frozenset(("x-unknown", "unknown", "unknown-8bit", "x-user-defined", "default",
                         "charset", "none", "8bit", "7bit", "binary"))
# Codecs that are not charsets of mail text (bytes.decode refuses the bytes-to-bytes ones).
_REFUSED = ("escape", "punycode", "idna", "undefined", "mbcs", "oem", "rot", "hex", "base64",
            "zlib", "bz2", "uu", "quopri")


@functools.lru_cache(maxsize=512)
def _codecs_for(label: str | None) -> tuple[str, ...]:
    """The codecs to try, in order, for a declared charset label; () when it names none we
    know. Cached: the labels come from the sender, hence the bound."""
    if not label:
        return ()
    name = label.strip().strip("\"'").strip().lower()
    if name in _SUPERSETS:
        return _SUPERSETS[name]
    if name in _NO_CHARSET or len(name) > 40:
        return ()
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError):
        return ()
    if any(word in info.name for word in _REFUSED):
        return ()
    return (info.name,)


def _iso2022jp_vendor(data: bytes) -> str:
    """ISO-2022-JP with the vendor characters Python's codec refuses (NEC row 13: ①, ㈱, ...;
    IBM extensions): map each JIS X 0208 pair to its Shift_JIS code and decode as Windows-31J,
    which has them. Raises UnicodeDecodeError for escapes it does not know."""
    out = bytearray()
    mode, i, size = "ascii", 0, len(data)
    while i < size:
        byte = data[i]
        if byte == 0x1B:
            escape = data[i + 1:i + 3]
            if escape in (b"$B", b"$@"):
                mode = "jis"
            elif escape in (b"(B", b"(J"):
                mode = "ascii"
            elif escape == b"(I":
                mode = "kana"
            else:
                raise UnicodeDecodeError("iso2022jp-vendor", data, i, i + 3, "unknown escape")
            i += 3
            continue
        if mode == "ascii" or byte < 0x21 or byte > 0x7E:
            out.append(byte)
            i += 1
        elif mode == "kana":
            out.append(byte | 0x80)
            i += 1
        else:
            if i + 1 >= size:
                raise UnicodeDecodeError("iso2022jp-vendor", data, i, size, "truncated pair")
            row, cell = byte, data[i + 1]
            lead = ((row + 1) >> 1) + (0x70 if row < 0x5F else 0xB0)
            trail = cell + 0x7E  # even rows; odd rows take the lower half, skipping 0x7F
            if row & 1:
                trail = cell + 0x1F + (1 if cell + 0x1F >= 0x7F else 0)
            out += bytes((lead, trail))
            i += 2
    return bytes(out).decode("cp932")


def _cp1252_for_invalid(error: UnicodeDecodeError) -> tuple[str, int]:
    """Error handler: bytes that are not UTF-8 are most likely Windows-1252 (or Latin-1)."""
    bad = error.object[error.start:error.end]
    return "".join(bytes((b,)).decode("cp1252", errors="strict") if b not in
                   (0x81, 0x8D, 0x8F, 0x90, 0x9D) else chr(b) for b in bad), error.end


codecs.register_error("helpdesk-cp1252", _cp1252_for_invalid)

# Windows-1252 for the C1 range of Latin-1 (its five undefined bytes stay C1 controls).
_C1_AS_CP1252 = {b: bytes((b,)).decode("cp1252") for b in range(0x80, 0xA0)
                 if b not in (0x81, 0x8D, 0x8F, 0x90, 0x9D)}


def _utf8_else_cp1252(data: bytes) -> str:
    """UTF-8 with the odd Windows-1252 byte (mail pieced together from two sources), or, when
    most of it is not UTF-8, Windows-1252 throughout (no error handler call per byte)."""
    if data.decode("utf-8", errors="replace").count("\ufffd") > 64:
        return data.decode("latin-1").translate(_C1_AS_CP1252)
    return data.decode("utf-8", errors="helpdesk-cp1252")


def _strict(data: bytes, codec: str) -> str | None:
    try:
        if codec == "iso2022jp-vendor":
            return _iso2022jp_vendor(data)
        return data.decode(codec)
    except (UnicodeError, LookupError, ValueError, TypeError):
        return None


# Stateful 7-bit charsets: ASCII bytes still need decoding.
_SEVEN_BIT = re.compile(r"utf_7|iso2022|hz")
# Single-byte charsets decode anything, so a valid UTF-8 text labelled with one is UTF-8.
_SINGLE_BYTE = re.compile(r"cp12|cp874|iso8859|latin|mac_|koi8")
Hints = "tuple[str, ...] | _Hints"


def _decode_how(data: bytes, charset: str | None = None, hints: Hints = ()
                ) -> tuple[str, bool]:
    """(text, whether the declared charset was not the one that worked)."""
    candidates = _codecs_for(charset)
    if data.isascii() and not (candidates and _SEVEN_BIT.match(candidates[0])):
        return data.decode("ascii"), False
    if candidates and _SINGLE_BYTE.match(candidates[0]):
        text = _strict(data, "utf-8")
        if text is not None:
            return text, True
    for codec in candidates:
        text = _strict(data, codec)
        if text is not None:
            return text, codec != candidates[0]
    text = _strict(data, "utf-8")
    if text is not None:
        return text, bool(candidates)
    tried = set(candidates)
    for hint in (hints() if callable(hints) else hints):
        for codec in _codecs_for(hint):
            if codec not in tried:
                tried.add(codec)
                text = _strict(data, codec)
                if text is not None:
                    return text, True
    guessed = _guess_multibyte(data)
    if guessed is not None:
        return guessed, True
    return _utf8_else_cp1252(data), True


# The last resort before Windows-1252, for East Asian text with no usable charset label: try the
# common legacy multi-byte charsets and keep the one whose text has most of its language's most
# frequent characters (particles, common ideographs and syllables). Latin text, whose 8-bit
# bytes mostly stand alone, is left to Windows-1252.
_GUESS_CODECS = ("gb18030", "big5hkscs", "cp932", "euc_jp", "cp949")
_FREQUENT = frozenset(
    "的一是不了在人有我他这个们中来上大为和国地到以说时要就出会可也你对生能而子那得于着下自之年过发"
    "后作里用道行所然家种事成方多经么去法学如都同现当没动面起看定天分还进好小部其些主样理心本前开但因"
    "只从想实日公司产品业务工电话服提供请联系网址问题信息间市场管技术价格"
    "們這個來為國會對發後裡說種與請聯繫網資訊間場價"
    "のにはをたがでてとしれさかなもるいうこまあすりくだよっやけおねせんアイウエオカキクケコサシスセソ"
    "タチツテトナニール"
    "이다는의에을를하고서가지한로도으기사게있수것그나만요습니해"
)
_HIGH_RUN = re.compile(rb"[\x80-\xff]+")


def _guess_multibyte(data: bytes) -> str | None:
    sample = data[:65536]
    runs = _HIGH_RUN.findall(sample)
    high = sum(len(run) for run in runs)
    if not high or sum(len(run) for run in runs if len(run) >= 2) < 0.8 * high:
        return None  # the 8-bit bytes mostly stand alone: a single-byte charset
    best, best_score = None, 0.0
    for codec in _GUESS_CODECS:
        text = _strict(sample, codec)
        if text is None:
            continue
        wide = [ch for ch in text if ord(ch) > 0x7F]
        score = sum(ch in _FREQUENT for ch in wide) / max(len(wide), 1)
        if score > best_score:
            best, best_score = codec, score
    if best is None or best_score < 0.08:
        return None
    return _strict(data, best)


def _decode(data: bytes, charset: str | None = None, hints: Hints = ()) -> str:
    """Bytes in a declared charset that may be wrong, unknown or missing; never raises.

    The declared charset (or its superset) first, then UTF-8, then the charsets declared
    elsewhere in the mail (`hints`, a tuple or a callable computing it only when needed), and
    at last UTF-8 with Windows-1252 for the other bytes."""
    return _decode_how(data, charset, hints)[0]


def decode_text(payload: bytes, charset: str | None) -> str:
    """Bytes in a declared charset, which may be wrong, unknown or missing: never raises."""
    return _decode(payload or b"", charset)


# --- headers ---------------------------------------------------------------------------------

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


# --- addresses -------------------------------------------------------------------------------

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


# --- body and attachments --------------------------------------------------------------------

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


# --- parse -----------------------------------------------------------------------------------

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
