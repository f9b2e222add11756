"""PostgreSQL full-text search: the default backend, no server beyond the database.

Each searchable table has a weighted `search_vector` kept by a trigger (migrations "search" and
"store_order_search") in the org's text search configuration, and a GIN index on it. Two
orderings, both with a cursor and no depth cap:

- newest first (the default): `vector @@ query ORDER BY id DESC LIMIT n` below the cursor. The
  planner walks the tenant-first (org_id, id) index and tests each row when the words are common
  (it stops after n matches), and reads the GIN index when they are rare (few rows to sort).
  Ranking every match instead costs 0.3-0.8 s on a common word at 1M rows (PERFORMANCE.md).
- relevance: the newest CANDIDATES matches are ranked (ts_rank_cd) and paged by (rank, id);
  once a chunk is used up the next older chunk is ranked, so cost per page stays bounded.

Plans are always custom: a generic plan (psycopg prepares a statement after 5 runs) cannot see
how common the words or how large the org is, and picked the wrong index at 30-300x the cost.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace

from psycopg.errors import QueryCanceled
from sqlalchemy import Float, Select, Table, and_, cast, func, select, text, update
from sqlalchemy.exc import OperationalError

from helpdesk.extensions import db
from helpdesk.search import cursors
from helpdesk.search.backend import InvalidCursor, SearchPage
from helpdesk.search.postgres_hits import load_hits, web_tsquery
from helpdesk.search.query import SearchQuery
from helpdesk.search.tables import TABLES, customers, messages, orders, tickets

CANDIDATES = 200  # matches ranked at once by the relevance ordering
WINDOW = 2_500  # newest rows of the org walked before the GIN index is consulted
MAX_WALK = 20_000  # rows walked further when the window held some matches
STATEMENT_TIMEOUT = "4s"  # a search that runs longer returns a notice, not an error page
# Searched pages are nearly always cached: at the default 4 the planner pays for a bitmap of
# every row of the org (1M rows, 99 ms) to spare a few thousand heap visits of the GIN matches.
RANDOM_PAGE_COST = "1.1"
REINDEX_BATCH = 5_000
TOO_LONG = "The search took too long and was stopped: add a word or a filter to narrow it."


class PostgresBackend:
    name = "postgres"

    def search(self, org_id: int, language: str, query: SearchQuery) -> SearchPage:
        return self.search_each(org_id, language, [query])[0]

    def search_each(self, org_id: int, language: str,
                    queries: list[SearchQuery]) -> list[SearchPage]:
        """All in one savepoint with the search settings (searching "all" sent each type its
        own before: 5 statements more per type). A query that runs too long ends the batch:
        the pages found so far stay, the rest carry the notice."""
        pages: list[SearchPage] = []
        try:
            with _bounded():
                for query in queries:
                    pages.append(_search(org_id, language, query)
                                 if query.searchable(query.type) else SearchPage())
        except QueryCanceled:
            pages += [SearchPage(notice=TOO_LONG) for _ in queries[len(pages):]]
        return pages

    def index(self, org_id: int, doc_type: str, ids: list[int]) -> None:
        """Nothing to do: the triggers wrote the vectors in the same transaction."""

    def reindex(self, org_id: int, language: str,
                progress: Callable[[int], None] | None = None) -> int:
        """Rewrite one org's vectors (after a language change), a batch per commit."""
        done = 0
        from storefront.models import Product

        # The shop's products are not searched here (the shop lists them) but their words
        # follow the org's language too.
        products: Table = Product.__table__  # type: ignore[assignment]
        for table, touch in ((tickets, tickets.c.subject), (customers, customers.c.name),
                             (messages, messages.c.body_text), (orders, orders.c.email),
                             (products, products.c.name)):
            # Setting a column to itself fires the vector trigger (UPDATE OF ...); a column's
            # onupdate (updated_at) is set to itself too, as nothing changed.
            values = {column.key: column for column in (touch, table.c.get("updated_at"))
                      if column is not None}
            last_id = 0
            while True:
                ids = db.session.scalars(
                    select(table.c.id).where(table.c.org_id == org_id, table.c.id > last_id)
                    .order_by(table.c.id).limit(REINDEX_BATCH)).all()
                if not ids:
                    break
                db.session.execute(update(table).where(table.c.org_id == org_id,
                                                       table.c.id.between(ids[0], ids[-1]))
                                   .values(values))
                db.session.commit()
                last_id = ids[-1]
                done += len(ids)
                if progress:
                    progress(len(ids))
        return done


@contextmanager
def _bounded() -> Iterator[None]:
    """A savepoint with a statement timeout and custom plans; the settings are put back."""
    session = db.session
    savepoint = session.begin_nested()
    prior = session.execute(text("SELECT current_setting('statement_timeout'), "
                                 "current_setting('plan_cache_mode'), "
                                 "current_setting('random_page_cost')")).one()
    try:
        _settings(STATEMENT_TIMEOUT, "force_custom_plan", RANDOM_PAGE_COST)
        yield
        _settings(*prior)
        savepoint.commit()
    except OperationalError as error:
        savepoint.rollback()  # also undoes the settings
        if isinstance(error.orig, QueryCanceled):
            raise error.orig from error
        raise
    except BaseException:
        if savepoint.is_active:
            savepoint.rollback()
        raise


def _settings(timeout: str, plan_cache_mode: str, random_page_cost: str) -> None:
    db.session.execute(text("SELECT set_config('statement_timeout', :timeout, true), "
                            "set_config('plan_cache_mode', :mode, true), "
                            "set_config('random_page_cost', :page_cost, true)"),
                       {"timeout": timeout, "mode": plan_cache_mode,
                        "page_cost": random_page_cost})


def _search(org_id: int, language: str, query: SearchQuery) -> SearchPage:
    table = TABLES[query.type]
    query = replace(query, sort=query.effective_sort)
    tsquery = web_tsquery(language, query.text)
    conditions = [table.c.org_id == org_id]
    base = select(table.c.id)
    if query.type in ("tickets", "messages"):
        base, ticket_conditions = _ticket_filters(base, table, org_id, query)
        if ticket_conditions is None:
            return SearchPage()
        conditions += ticket_conditions
    elif query.type == "orders" and query.customer_id:
        conditions.append(orders.c.customer_id == query.customer_id)
    if query.since:
        conditions.append(table.c.created_at >= query.since)
    if query.until:
        conditions.append(table.c.created_at < query.until)
    matcher = _Matcher(table, org_id, base, conditions, tsquery if query.text else None)

    # The exact match leads the first page and is left out of the ranked list on every page.
    exact_ids = _exact_ids(org_id, query, base, conditions[1:])
    pinned = exact_ids if query.cursor is None else []
    if exact_ids:
        matcher.conditions.append(table.c.id.not_in(exact_ids))

    decoded = cursors.decode(query.cursor, query.type, query.sort)
    if query.cursor and decoded is None:
        raise InvalidCursor()
    if query.sort == "relevance":
        rows, next_cursor = _relevance_page(matcher, query, decoded)
    else:
        rows, next_cursor = _newest_page(matcher, query, decoded)
    ids = pinned + [row_id for row_id, _ in rows]
    scores = dict(rows)
    hits = load_hits(query.type, org_id, language, query.text, ids)
    for hit in hits:
        hit.exact = hit.id in pinned
        hit.score = scores.get(hit.id)
    return SearchPage(hits=hits, next_cursor=next_cursor)


class _Matcher:
    """Finds the newest matches of one table, in two steps whose cost is bounded.

    1. The org's newest WINDOW rows, walked through the tenant-first (org_id, id) index and
       tested one by one: the words are written as a function call (`ts_match_vq`), which no
       index can serve, so the planner cannot trade this bounded walk for a bitmap of every
       match. Common words fill the page here within a few hundred rows.
    2. Only when that window holds too few matches (rare words, narrow filters), the older rows
       through the GIN index (`@@`), where the planner weighs the index against the walk.

    Left to itself the planner misjudges both ways: a phrase of common words estimated rare read
    25,000 matches through the index to keep 26 (100 ms); a rare address or number estimated
    common walked every row of the org (3 s).
    """

    def __init__(self, table: Table, org_id: int, base: Select, conditions: list, tsquery):
        self.table, self.org_id, self.base = table, org_id, base
        self.conditions = list(conditions)
        self.tsquery = tsquery

    def newest(self, limit: int, below: int | None = None) -> list[int]:
        table = self.table
        bounded = [table.c.id < below] if below else []
        floor = db.session.scalar(
            select(table.c.id).where(table.c.org_id == self.org_id, *bounded)
            .order_by(table.c.id.desc()).offset(WINDOW).limit(1))
        if floor is None:
            return self._ids([*bounded], indexed=True, limit=limit)
        ids = self._ids([*bounded, table.c.id > floor], indexed=False, limit=limit)
        # Enough matches to estimate their density, and the rest near: walk on that far (a
        # bitmap of a mid-frequency word reads thousands of rows to keep a few).
        rows = WINDOW * (limit - len(ids)) * 2 // max(len(ids), 1)
        if len(ids) >= 3 and len(ids) < limit and rows <= MAX_WALK:
            deeper = db.session.scalar(
                select(table.c.id).where(table.c.org_id == self.org_id, table.c.id <= floor)
                .order_by(table.c.id.desc()).offset(rows).limit(1))
            ids += self._ids([table.c.id <= floor] + ([table.c.id > deeper] if deeper else []),
                             indexed=False, limit=limit - len(ids))
            floor = deeper if deeper and len(ids) < limit else None
        if floor is not None and len(ids) < limit:
            ids += self._ids([table.c.id <= floor], indexed=True, limit=limit - len(ids))
        return ids

    def _ids(self, extra: list, *, indexed: bool, limit: int) -> list[int]:
        conditions = [*self.conditions, *extra]
        if self.tsquery is not None:
            vector = self.table.c.search_vector
            conditions.append(vector.op("@@")(self.tsquery) if indexed
                              else func.ts_match_vq(vector, self.tsquery))
        # (org_id, id) order: the walk reads the tenant-first index, only the org's rows (the
        # primary key's range holds every org's rows of that stretch, 3x as many in the bench).
        order = (self.table.c.id.desc(),) if indexed else (self.table.c.org_id.desc(),
                                                           self.table.c.id.desc())
        return list(db.session.scalars(self.base.where(*conditions).order_by(*order)
                                       .limit(limit)))

    def ranks(self, ids: list[int]) -> dict[int, float]:
        table = self.table
        rank = cast(func.ts_rank_cd(table.c.search_vector, self.tsquery), Float)
        return dict(db.session.execute(
            select(table.c.id, rank).where(table.c.org_id == self.org_id, table.c.id.in_(ids))
        ).tuples().all())


def _ticket_filters(base: Select, table: Table, org_id: int,
                    query: SearchQuery) -> tuple[Select, list | None]:
    """Conditions on the ticket (joined for messages); None when nothing can match."""
    conditions = []
    if table is messages and query.ticket_filters:
        base = base.join(tickets, and_(tickets.c.org_id == messages.c.org_id,
                                       tickets.c.id == messages.c.ticket_id))
    if query.statuses:
        conditions.append(tickets.c.status.in_([s.value for s in query.statuses]))
    if query.priorities:
        conditions.append(tickets.c.priority.in_([p.value for p in query.priorities]))
    if query.assignee == "none":
        conditions.append(tickets.c.assignee_id.is_(None))
    elif isinstance(query.assignee, int):
        conditions.append(tickets.c.assignee_id == query.assignee)
    if query.tag:
        conditions.append(tickets.c.tags.contains([query.tag.lower()]))
    if query.customer_id:
        conditions.append(tickets.c.customer_id == query.customer_id)
    return base, conditions


def _exact_ids(org_id: int, query: SearchQuery, base: Select, filters: list) -> list[int]:
    """The ticket or order with the typed number, or the customer with the typed address."""
    table = TABLES[query.type]
    if query.type in ("tickets", "orders") and query.ticket_number:
        match = table.c.number == query.ticket_number
    elif query.type == "customers" and query.email:
        match = func.lower(customers.c.email) == query.email
    else:
        return []
    statement = base.where(table.c.org_id == org_id, match, *filters).limit(1)
    return list(db.session.scalars(statement))


def _newest_page(matcher: _Matcher, query: SearchQuery,
                 decoded: list | None) -> tuple[list[tuple[int, None]], str | None]:
    ids = matcher.newest(query.limit + 1, below=decoded[0] if decoded else None)
    next_cursor = None
    if len(ids) > query.limit:
        ids = ids[:query.limit]
        next_cursor = cursors.encode(query.type, query.sort, [ids[-1]])
    return [(row_id, None) for row_id in ids], next_cursor


def _relevance_page(matcher: _Matcher, query: SearchQuery,
                    decoded: list | None) -> tuple[list[tuple[int, float]], str | None]:
    """Rank the newest CANDIDATES matches below the chunk's top; page by (rank, id)."""
    chunk_top, after = (decoded[0], decoded[1:]) if decoded else (None, [])
    candidates = matcher.newest(CANDIDATES, below=chunk_top)
    if not candidates:
        return [], None
    ranked = sorted(matcher.ranks(candidates).items(), key=lambda item: (item[1], item[0]),
                    reverse=True)
    if after:
        position = (after[0], after[1])
        ranked = [(row_id, rank) for row_id, rank in ranked if (rank, row_id) < position]
    top = chunk_top if chunk_top is not None else max(candidates) + 1
    page = ranked[:query.limit]
    if len(ranked) > query.limit:
        last_id, last_rank = page[-1]
        next_cursor = cursors.encode(query.type, query.sort, [top, last_rank, last_id])
    elif len(candidates) >= CANDIDATES:
        next_cursor = cursors.encode(query.type, query.sort, [min(candidates)])
    else:
        next_cursor = None
    return page, next_cursor
