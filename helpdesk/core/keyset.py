"""Keyset pagination: pages follow a sort key instead of an OFFSET, so page 500 costs what
page 1 costs and rows inserted meanwhile neither repeat nor vanish.

A page is `ORDER BY k1 DESC, k2 DESC, ..., id DESC LIMIT n+1` below (or, going back, above)
the row value of the last (first) row shown. The cursor is that row value, opaque to clients.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, DateTime, Select, literal, select, tuple_, union_all

from helpdesk.extensions import db

AFTER, BEFORE = "a", "b"


@dataclass
class Page:
    rows: list[Any]
    next_cursor: str | None
    prev_cursor: str | None


def encode_cursor(direction: str, tag: str, values: Sequence[Any]) -> str:
    plain = [direction, tag, *(v.isoformat() if isinstance(v, datetime) else v for v in values)]
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, tag: str, columns: Sequence[Any]) -> tuple[str, list] | None:
    """(direction, values) typed for `columns`, or None for a missing, stale or forged cursor."""
    if not cursor or len(cursor) > 400:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        plain = json.loads(raw)
    except (binascii.Error, ValueError):
        return None
    if (not isinstance(plain, list) or len(plain) != len(columns) + 2
            or plain[0] not in (AFTER, BEFORE) or plain[1] != tag):
        return None
    values = []
    for column, value in zip(columns, plain[2:], strict=True):
        if isinstance(column.type, DateTime):
            try:
                value = datetime.fromisoformat(value)
            except (TypeError, ValueError):
                return None
        elif not isinstance(value, int) or isinstance(value, bool) or abs(value) >= 2**63:
            return None
        values.append(value)
    return plain[0], values


@dataclass(frozen=True)
class Part:
    """A disjoint slice of the rows that one index returns already in sort order.

    `prefix` holds the values of the leading sort columns, constant within the slice (e.g. the
    priority rank when sorting by priority, then activity): the index then orders the rest.
    """

    condition: ColumnElement[bool]
    prefix: tuple = ()


def paginate(statement: Select, columns: Sequence[Any], key: Callable[[Any], Sequence[Any]], *,
             cursor: str | None, tag: str, limit: int = 25,
             parts: Sequence[Part] | None = None) -> Page:
    """One page of `statement` in descending `columns` order (the last column unique, e.g. id).

    `key(row)` gives a row's values for `columns`; `tag` names the ordering, so a cursor made
    for another sort order is ignored (first page) instead of misread.

    With `parts`, each part reads at most one page from its own index range and the page is
    cut from their union: `status IN (a, b, c) ORDER BY activity` becomes three short index
    scans instead of collecting and sorting every matching row.
    """
    decoded = decode_cursor(cursor, tag, columns)
    direction, values = decoded if decoded else (None, None)
    if parts is not None:
        statement = _union_of_parts(statement, columns, parts, direction, values, limit)
        if statement is None:
            return Page(rows=[], next_cursor=None, prev_cursor=None)
    elif values is not None:
        statement = statement.where(_beyond(columns, values, direction))
    rows = list(db.session.scalars(_ordered(statement, columns, direction, limit)).unique())
    more = len(rows) > limit
    rows = rows[:limit]
    if direction == BEFORE:
        rows.reverse()
        has_next, has_prev = True, more
    else:
        has_next, has_prev = more, direction == AFTER
    return Page(
        rows=rows,
        next_cursor=encode_cursor(AFTER, tag, key(rows[-1])) if rows and has_next else None,
        prev_cursor=encode_cursor(BEFORE, tag, key(rows[0])) if rows and has_prev else None,
    )


def _beyond(columns: Sequence[Any], values: Sequence[Any], direction: str | None):
    """Row value past the cursor: below it going forward (descending), above it going back."""
    row_value = tuple_(*columns)
    bound = tuple_(*(literal(v, type_=c.type) for c, v in zip(columns, values, strict=True)))
    return row_value < bound if direction == AFTER else row_value > bound


def _ordered(statement: Select, columns: Sequence[Any], direction: str | None, limit: int):
    order = [c.asc() for c in columns] if direction == BEFORE else [c.desc() for c in columns]
    return statement.order_by(*order).limit(limit + 1)


def _union_of_parts(statement, columns, parts, direction, values, limit) -> Select | None:
    id_column = columns[-1]
    branches = []
    for part in parts:
        width = len(part.prefix)
        branch = statement.where(part.condition)
        if values is not None:
            head = tuple(values[:width])
            ahead = part.prefix > head if direction == AFTER else part.prefix < head
            if ahead:
                continue  # the whole part lies on the side of the cursor already shown
            if part.prefix == head:
                branch = branch.where(_beyond(columns[width:], values[width:], direction))
        branches.append(_ordered(branch.with_only_columns(id_column), columns[width:],
                                 direction, limit))
    if not branches:
        return None
    ids = branches[0] if len(branches) == 1 else union_all(*branches)
    entity = statement.column_descriptions[0]["entity"]
    return select(entity).where(id_column.in_(ids))
