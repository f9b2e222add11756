"""Decode bytes whose declared charset may be wrong, unknown or missing; never raises.

A declared charset is read as its superset (GB2312 as GB18030, ISO-8859-1 as Windows-1252...),
then UTF-8 is tried, then the charsets declared elsewhere in the mail, then a guess among the
common East Asian multi-byte charsets, and at last UTF-8 with Windows-1252 for the bytes that are
not UTF-8. Pure ASCII, the common case, is decoded directly.
"""

from __future__ import annotations

import codecs
import functools
import re
from collections.abc import Callable

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
# The charsets a mail declares elsewhere, to try when the declared one fails: a tuple, or a
# callable that finds them only when a decode needs them (headers._Hints).
Hints = tuple[str, ...] | Callable[[], tuple[str, ...]]


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
