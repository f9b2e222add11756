"""Elasticsearch only: queue changed documents for indexing after each commit."""

from __future__ import annotations

from sqlalchemy.orm import Session


def install(session_class: type[Session]) -> None:
    """Listen to flushes and commits (filled in with the Elasticsearch backend)."""
