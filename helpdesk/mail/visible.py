"""The new part of a mail: quoted replies and signatures split off by mail-parser-reply.

The full body is always kept; this only decides what the ticket page shows before "show
quoted text". When in doubt (the library finds nothing, or everything would be hidden) the
whole body is shown.
"""

from __future__ import annotations

import functools
import logging

from mailparser_reply import EmailReplyParser
from mailparser_reply.constants import MAIL_LANGUAGES

log = logging.getLogger(__name__)
MAX_SCAN = 100_000  # longer bodies are shown whole (the regexes are not linear on everything)


# Each language adds its patterns to every scan (about 25 us per language and mail), so an org
# lists the languages its customers write in (settings "reply_languages"); these by default.
DEFAULT_LANGUAGES = ("en", "de", "fr", "es", "it", "nl")
LANGUAGES = tuple(code for code in MAIL_LANGUAGES if code != "david")  # "david": a test fixture


@functools.cache
def _parser(languages: tuple[str, ...]) -> EmailReplyParser:
    return EmailReplyParser(languages=[code for code in languages if code in LANGUAGES]
                            or list(DEFAULT_LANGUAGES))


def visible_part(text: str, languages: tuple[str, ...] = DEFAULT_LANGUAGES) -> str | None:
    """The new text of a reply, or None when all of `text` should be shown."""
    if not text or len(text) > MAX_SCAN:
        return None
    try:
        replies = _parser(tuple(languages)).read(text=text).replies
    except Exception:  # noqa: BLE001 - a library failure shows the whole body, loses nothing
        log.exception("reply parser failed; showing the whole body")
        return None
    if not replies:
        return None
    new = (replies[0].body or "").strip()
    if not new or new == text.strip():
        return None
    return new
