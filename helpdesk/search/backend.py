"""The search interface both backends implement, and the choice between them.

PostgreSQL full-text search is the default (no extra server: vectors and GIN indexes live in the
tables, kept by triggers). With ELASTICSEARCH_URL set, the same queries go to Elasticsearch and
the documents are indexed by `search` queue jobs after each commit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from flask import current_app

from helpdesk.core.exceptions import ValidationFailed
from helpdesk.search.query import SearchQuery


class InvalidCursor(ValidationFailed):
    """A cursor that no page of this search handed out (another type, sort, or edited)."""

    status = 400

    def __init__(self) -> None:
        message = "Not a cursor from a previous page of this search."
        super().__init__(message, {"cursor": message})


@dataclass
class Hit:
    type: str  # "ticket", "message", "customer" or "order"
    id: int
    title: str  # ticket subject, customer name or address, "Order #1042"
    # Safe HTML: escaped text with the matching words in <mark>.
    snippet: str
    created_at: datetime
    ticket_number: int | None = None
    ticket_status: str | None = None
    customer_id: int | None = None
    customer_email: str | None = None
    message_kind: str | None = None
    order_number: int | None = None
    order_status: str | None = None
    order_total: int | None = None  # minor units of `currency`
    currency: str | None = None
    exact: bool = False  # an exact number or address match, shown first
    score: float | None = None  # relevance, when sorted by it


@dataclass
class SearchPage:
    hits: list[Hit] = field(default_factory=list)
    next_cursor: str | None = None
    # Searching "all": one page per type, each with its own cursor.
    more: dict[str, str] = field(default_factory=dict)
    notice: str | None = None  # shown instead of an error (a query that ran too long)


class SearchBackend(Protocol):
    name: str

    def search(self, org_id: int, language: str, query: SearchQuery) -> SearchPage:
        """One page of hits of one document type (query.type), org_id always applied."""

    def search_each(self, org_id: int, language: str,
                    queries: list[SearchQuery]) -> list[SearchPage]:
        """The first page of several queries (one per type: searching "all") in one go."""

    def index(self, org_id: int, doc_type: str, ids: list[int]) -> None:
        """(Re)index or remove documents after a commit; a no-op where the database does it."""

    def reindex(self, org_id: int, language: str, progress=None) -> int:
        """Rebuild one org's documents; returns how many. `progress(n)` advances a bar."""


def get_backend() -> SearchBackend:
    """The configured backend, made once per app."""
    backend = current_app.extensions.get("search_backend")
    if backend is None:
        url = current_app.config.get("ELASTICSEARCH_URL")
        if url:
            from helpdesk.search.elastic import ElasticBackend

            backend = ElasticBackend(url, prefix=current_app.config.get(
                "ELASTICSEARCH_INDEX_PREFIX", "helpdesk"))
        else:
            from helpdesk.search.postgres import PostgresBackend

            backend = PostgresBackend()
        current_app.extensions["search_backend"] = backend
    return backend
