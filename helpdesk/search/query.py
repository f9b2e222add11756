"""What an agent asks for: the text, cleaned so that any input is a valid search, and filters.

Both backends receive a SearchQuery; neither ever sees raw input. The text is searched with
web-search syntax in both: words (all must match), "quoted phrases", OR, and -exclusion.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import datetime

from helpdesk.tickets.models import Priority, Status

# Searchable document types, in the order results are grouped. Knowledge-base articles join
# when the portal issue adds them.
DOC_TYPES = ("tickets", "messages", "customers", "orders")
SORTS = ("newest", "relevance")
# A search box is for a phrase, not a document: longer input is cut (10 kB pasted into the box
# still searches its first words instead of building a query of thousands of terms).
MAX_TEXT = 300
MAX_LIMIT = 100

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_TICKET_NUMBER = re.compile(r"#?(\d{1,18})")
_EMAIL = re.compile(r"[^\s@<>\"]+@[^\s@<>\"]+\.[^\s@<>\".]+")


def clean_text(text: str | None) -> str:
    """The text as searched: control characters and NULs gone, whitespace collapsed, capped."""
    text = unicodedata.normalize("NFKC", _CONTROL.sub(" ", text or ""))
    text = " ".join(text.split())
    if len(text) > MAX_TEXT:
        text = text[:MAX_TEXT].rsplit(" ", 1)[0] or text[:MAX_TEXT]
    # Lone surrogates (from a broken client) cannot be sent to the database.
    return text.encode("utf-8", "ignore").decode("utf-8")


@dataclass(frozen=True)
class SearchQuery:
    text: str = ""
    type: str = "all"  # "all" or one of DOC_TYPES
    statuses: tuple[Status, ...] = ()
    priorities: tuple[Priority, ...] = ()
    # A user id, or "none" for unassigned; "me" is resolved before the backend sees it.
    assignee: int | str | None = None
    tag: str | None = None
    customer_id: int | None = None
    since: datetime | None = None  # created at or after
    until: datetime | None = None  # created before
    sort: str = "newest"
    limit: int = 25
    cursor: str | None = None
    # Document types to search, filled from `type` (tests may narrow it).
    types: tuple[str, ...] = field(default=DOC_TYPES)

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", clean_text(self.text))
        if self.type != "all":
            object.__setattr__(self, "types", (self.type,))
        object.__setattr__(self, "limit", max(1, min(self.limit, MAX_LIMIT)))

    @property
    def ticket_filters(self) -> bool:
        """Filters that only tickets and their messages have (customers are left out then)."""
        return bool(self.ticket_only_filters or self.customer_id)

    @property
    def ticket_only_filters(self) -> bool:
        """Filters that orders have no field for (the customer filter applies to them)."""
        return bool(self.statuses or self.priorities or self.assignee is not None or self.tag)

    @property
    def ticket_number(self) -> int | None:
        """`4711` or `#4711`: an exact ticket or order number (shown first)."""
        match = _TICKET_NUMBER.fullmatch(self.text)
        if match and 0 < int(match.group(1)) < 2**63:
            return int(match.group(1))
        return None

    @property
    def email(self) -> str | None:
        """An address typed whole: the customer with it is shown first."""
        match = _EMAIL.fullmatch(self.text)
        return match.group(0).lower() if match else None

    def for_type(self, doc_type: str) -> SearchQuery:
        return replace(self, type=doc_type, types=(doc_type,))

    def searchable(self, doc_type: str) -> bool:
        """Whether this query can match documents of `doc_type` at all."""
        if doc_type not in self.types:
            return False
        if not self.text:
            # Filters alone list tickets (a saved view such as "urgent and unassigned").
            return doc_type == "tickets" and bool(self.ticket_filters or self.since
                                                  or self.until)
        if doc_type == "orders":
            return not (self.type == "all" and self.ticket_only_filters)
        return not (doc_type == "customers" and self.type == "all" and self.ticket_filters)

    @property
    def effective_sort(self) -> str:
        """Without words there is nothing to rank: newest first."""
        return self.sort if self.text else "newest"
