"""HTML that can be shown to agents and customers: nh3 (Ammonia) with a conservative policy."""

from __future__ import annotations

import html

import nh3

# Ammonia's defaults minus what has no place in a support message.
ALLOWED_TAGS = set(nh3.ALLOWED_TAGS) - {"area", "map", "details", "summary"}
ALLOWED_ATTRIBUTES = {tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()}
ALLOWED_ATTRIBUTES["img"] = {"src", "alt", "width", "height", "title"}
URL_SCHEMES = {"http", "https", "mailto", "cid", "tel"}


MAX_TAGS = 10_000


class HtmlTooComplex(ValueError):
    """More tags than any real message has; sanitizing it would take seconds (nesting makes
    the parser's work grow with the square of the depth)."""


def check_complexity(raw: str) -> None:
    if (raw or "").count("<") > MAX_TAGS:
        raise HtmlTooComplex(f"HTML with more than {MAX_TAGS} tags is not accepted.")


def clean_html(raw: str) -> str:
    """Scripts, event handlers, javascript: links and styles removed; links open safely.

    Raises HtmlTooComplex past MAX_TAGS tags."""
    check_complexity(raw)
    return nh3.clean(raw or "", tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES,
                     url_schemes=URL_SCHEMES, link_rel="noopener noreferrer nofollow")


def text_to_html(text: str) -> str:
    """Plain text as safe HTML paragraphs (escaped, line breaks kept)."""
    paragraphs = [p for p in (text or "").replace("\r\n", "\n").split("\n\n") if p.strip()]
    return "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs)


def html_to_text(raw: str) -> str:
    """A plain-text rendering of sanitized HTML, for search, previews and mail."""
    stripped = nh3.clean(raw or "", tags={"p", "br", "div", "li"}, attributes={})
    for tag in ("<br>", "</p>", "</div>", "</li>"):
        stripped = stripped.replace(tag, "\n")
    stripped = nh3.clean(stripped, tags=set(), attributes={})
    return html.unescape(stripped).strip()
