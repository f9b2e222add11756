"""Opaque search cursors: the document type, the ordering and the position, base64 JSON.

A cursor from another type or ordering, or one edited by hand, is rejected (decode -> None)
and the caller answers with an empty page or a 400, never a server error.
"""

from __future__ import annotations

import base64
import binascii
import json
import math

MAX_LENGTH = 300


def encode(doc_type: str, sort: str, values: list[int | float]) -> str:
    raw = json.dumps([doc_type, sort, *values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str | None, doc_type: str, sort: str) -> list[int | float] | None:
    """The position, or None for a missing or foreign cursor.

    Newest first: [last id]. Relevance: [chunk top id] to start a chunk, or
    [chunk top id, last rank, last id] within one.
    """
    values = _values(cursor, doc_type, sort)
    if values is None:
        return None
    shape = ("id", "rank", "id") if sort == "relevance" and len(values) == 3 else ("id",)
    if sort not in ("newest", "relevance") or len(values) != len(shape):
        return None
    for kind, value in zip(shape, values, strict=True):
        if not (_valid_id(value) if kind == "id" else _valid_score(value)):
            return None
    return values


def _valid_id(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**63


def _valid_score(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def decode_after(cursor: str | None, doc_type: str, sort: str) -> list[int | float] | None:
    """Elasticsearch's `search_after` position, or None for a missing or foreign cursor.

    Newest first: [last id], as above. Relevance: [last score, last id] (Elasticsearch ranks
    every match, so there are no chunks).
    """
    if sort != "relevance":
        return decode(cursor, doc_type, sort)
    values = _values(cursor, doc_type, sort)
    if values is None or len(values) != 2:
        return None
    score, last_id = values
    return values if _valid_score(score) and _valid_id(last_id) else None


def _values(cursor: str | None, doc_type: str, sort: str) -> list | None:
    if not cursor or len(cursor) > MAX_LENGTH:
        return None
    try:
        plain = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(plain, list) or plain[:2] != [doc_type, sort]:
        return None
    return plain[2:]
