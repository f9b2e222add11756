"""Elasticsearch: the backend used when ELASTICSEARCH_URL is set.

One index per document type behind an alias (`<prefix>-tickets`, `-messages`, `-customers`,
`-orders`);
the concrete indices are versioned (`<prefix>-tickets-v<timestamp>`) so that `rebuild_all`
fills new ones while the old ones serve, then swaps the aliases in one request. While a rebuild
runs, the new index also carries the alias `<prefix>-<type>-building` and the indexing jobs
write to both, so what changes meanwhile is in the new index after the swap. Writes always name
an alias (`require_alias`): a stray write never creates an index with guessed mappings.

Every document carries org_id and is routed by it; every request is routed by the org and its
body comes from elastic_bodies (the org's term filter first, always). Documents are loaded from
PostgreSQL under the org (its row-level security applies) and sent with the bulk helper.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress
from dataclasses import replace

from elasticsearch import ApiError, Elasticsearch, NotFoundError, TransportError, helpers
from sqlalchemy import and_, func, select

from helpdesk.accounts.models import User
from helpdesk.core import tenancy
from helpdesk.core.models import utcnow
from helpdesk.extensions import db
from helpdesk.orgs.models import Organization
from helpdesk.search import cursors
from helpdesk.search.backend import InvalidCursor, SearchPage
from helpdesk.search.elastic_bodies import MAPPINGS, SETTINGS, exact_body, hits_from, query_body
from helpdesk.search.postgres import TOO_LONG
from helpdesk.search.query import DOC_TYPES, SearchQuery
from helpdesk.search.tables import TABLES, customers, messages, order_lines, orders, tickets

users = User.__table__
BATCH = 500  # rows loaded and sent per bulk request
BODY_CHARS = 100_000  # of a message, as the PostgreSQL vector
UNAVAILABLE = "Search is not available right now; try again in a moment."
NOT_BUILT = "The search index is not built yet (flask search reindex)."


# --- documents from PostgreSQL -------------------------------------------------------------

def _ticket_docs(org_id: int, ids: list[int]) -> Iterator[dict]:
    rows = db.session.execute(
        select(tickets.c.id, tickets.c.number, tickets.c.subject, tickets.c.status,
               tickets.c.priority, tickets.c.assignee_id, tickets.c.tags, tickets.c.customer_id,
               tickets.c.created_at, customers.c.email)
        .join(customers, and_(customers.c.org_id == tickets.c.org_id,
                              customers.c.id == tickets.c.customer_id))
        .where(tickets.c.org_id == org_id, tickets.c.id.in_(ids)))
    for row in rows:
        yield {"org_id": str(org_id), "id": row.id, "number": row.number,
               "subject": row.subject, "status": str(row.status), "priority": str(row.priority),
               "assignee_id": row.assignee_id, "tags": list(row.tags or []),
               "customer_id": row.customer_id, "customer_email": row.email,
               "created_at": row.created_at.isoformat()}


def _message_docs(org_id: int, ids: list[int]) -> Iterator[dict]:
    sender = customers.alias("sender")
    rows = db.session.execute(
        select(messages.c.id, messages.c.ticket_id, messages.c.kind, messages.c.created_at,
               func.left(func.coalesce(messages.c.body_visible, messages.c.body_text),
                         BODY_CHARS).label("body"),
               func.coalesce(sender.c.name, users.c.name, "").label("sender_name"),
               func.coalesce(sender.c.email, users.c.email).label("sender_email"),
               tickets.c.number, tickets.c.subject, tickets.c.status, tickets.c.priority,
               tickets.c.assignee_id, tickets.c.tags, tickets.c.customer_id)
        .join(tickets, and_(tickets.c.org_id == messages.c.org_id,
                            tickets.c.id == messages.c.ticket_id))
        .outerjoin(sender, and_(sender.c.org_id == messages.c.org_id,
                                sender.c.id == messages.c.author_customer_id))
        .outerjoin(users, users.c.id == messages.c.author_user_id)
        .where(messages.c.org_id == org_id, messages.c.id.in_(ids)))
    for row in rows:
        yield {"org_id": str(org_id), "id": row.id, "ticket_id": row.ticket_id,
               "kind": str(row.kind), "body": row.body or "", "sender_name": row.sender_name,
               "sender_email": row.sender_email, "ticket_number": row.number,
               "subject": row.subject, "ticket_status": str(row.status),
               "priority": str(row.priority), "assignee_id": row.assignee_id,
               "tags": list(row.tags or []), "customer_id": row.customer_id,
               "created_at": row.created_at.isoformat()}


def _customer_docs(org_id: int, ids: list[int]) -> Iterator[dict]:
    rows = db.session.execute(
        select(customers.c.id, customers.c.name, customers.c.email, customers.c.company,
               customers.c.phone, customers.c.created_at)
        .where(customers.c.org_id == org_id, customers.c.id.in_(ids)))
    for row in rows:
        yield {"org_id": str(org_id), "id": row.id, "name": row.name, "email": row.email,
               "company": row.company, "phone": row.phone,
               "created_at": row.created_at.isoformat()}


def _order_docs(org_id: int, ids: list[int]) -> Iterator[dict]:
    lines: dict[int, list] = {}
    for line in db.session.execute(
            select(order_lines.c.order_id, order_lines.c.product_name, order_lines.c.sku)
            .where(order_lines.c.org_id == org_id, order_lines.c.order_id.in_(ids))
            .order_by(order_lines.c.id)):
        lines.setdefault(line.order_id, []).append(line)
    rows = db.session.execute(
        select(orders.c.id, orders.c.number, orders.c.status, orders.c.email,
               orders.c.shipping_address, orders.c.customer_id, orders.c.total,
               orders.c.currency, orders.c.created_at)
        .where(orders.c.org_id == org_id, orders.c.id.in_(ids)))
    for row in rows:
        bought = lines.get(row.id, [])
        yield {"org_id": str(org_id), "id": row.id, "number": row.number,
               "status": str(row.status), "email": row.email,
               "name": str((row.shipping_address or {}).get("name") or ""),
               "products": ", ".join(line.product_name for line in bought),
               "skus": " ".join(line.sku for line in bought), "customer_id": row.customer_id,
               "total": row.total, "currency": row.currency,
               "created_at": row.created_at.isoformat()}


LOADERS = {"tickets": _ticket_docs, "messages": _message_docs, "customers": _customer_docs,
           "orders": _order_docs}


def _batches(org_id: int, doc_type: str, where=None) -> Iterator[list[int]]:
    """The org's ids of one type (optionally narrowed), BATCH at a time, by keyset."""
    table, last_id = TABLES[doc_type], 0
    while True:
        statement = (select(table.c.id).where(table.c.org_id == org_id, table.c.id > last_id)
                     .order_by(table.c.id).limit(BATCH))
        ids = list(db.session.scalars(statement if where is None else statement.where(where)))
        if not ids:
            return
        yield ids
        last_id = ids[-1]


# --- the backend ---------------------------------------------------------------------------

class ElasticBackend:
    name = "elasticsearch"

    def __init__(self, url: str, prefix: str = "helpdesk", client: Elasticsearch | None = None):
        self.prefix = prefix
        # The client connects on its first request, not here.
        self.client = client or Elasticsearch(url, request_timeout=10)

    def alias(self, doc_type: str) -> str:
        return f"{self.prefix}-{doc_type}"

    def building(self, doc_type: str) -> str:
        return f"{self.prefix}-{doc_type}-building"

    # --- searching

    def search(self, org_id: int, language: str, query: SearchQuery) -> SearchPage:
        """One page (exact match first on page one). Raises InvalidCursor for a foreign cursor;
        an unreachable or unbuilt index gives a page with a notice."""
        if not query.searchable(query.type):
            return SearchPage()
        query = replace(query, sort=query.effective_sort)
        after = None
        if query.cursor:
            after = cursors.decode_after(query.cursor, query.type, query.sort)
            if after is None:
                raise InvalidCursor()
        exact = exact_body(org_id, language, query) if after is None else None
        try:
            pinned = hits_from(query.type, self._hits(org_id, query.type, exact)[0],
                               exact=True) if exact else []
            raw, timed_out = self._hits(org_id, query.type,
                                        query_body(org_id, language, query, after))
        except ApiError as error:
            if error.status_code == 400:
                raise  # a body this module built wrong: a bug to see, not a notice
            return SearchPage(notice=NOT_BUILT if error.status_code == 404 else UNAVAILABLE)
        except TransportError:
            return SearchPage(notice=UNAVAILABLE)
        if timed_out:
            return SearchPage(notice=TOO_LONG)
        next_cursor = None
        if len(raw) > query.limit:
            raw = raw[:query.limit]
            next_cursor = cursors.encode(query.type, query.sort, raw[-1]["sort"])
        hits = hits_from(query.type, raw, scored=query.sort == "relevance")
        return SearchPage(hits=pinned + hits, next_cursor=next_cursor)

    def _hits(self, org_id: int, doc_type: str, body: dict) -> tuple[list[dict], bool]:
        response = self.client.search(index=self.alias(doc_type), routing=str(org_id), **body)
        return response["hits"]["hits"], bool(response.get("timed_out"))

    # --- indexing

    def search_each(self, org_id: int, language: str,
                    queries: list[SearchQuery]) -> list[SearchPage]:
        return [self.search(org_id, language, query) for query in queries]

    def index(self, org_id: int, doc_type: str, ids: list[int]) -> None:
        """Send the rows' current state and delete the gone ones. A ticket also brings its
        messages (they carry its fields; after a merge, the target's too) and its customer
        (customers inserted by upsert, outside the ORM, are indexed this way); so does an
        order its customer (checkout finds or creates them by upsert too)."""
        ids = sorted(set(ids))
        if not ids:
            return
        docs = list(LOADERS[doc_type](org_id, ids))
        found = {doc["id"] for doc in docs}
        gone = [row_id for row_id in ids if row_id not in found]
        self._send(self._actions(org_id, self._targets(doc_type), docs, gone))
        if doc_type == "orders":
            self.index(org_id, "customers", [doc["customer_id"] for doc in docs])
        if doc_type != "tickets":
            return
        merged_into = db.session.scalars(select(tickets.c.merged_into_id).where(
            tickets.c.org_id == org_id, tickets.c.id.in_(ids),
            tickets.c.merged_into_id.is_not(None)))
        parents = sorted(found | set(merged_into))
        message_targets = self._targets("messages")
        for batch in _batches(org_id, "messages", messages.c.ticket_id.in_(parents)):
            self._send(self._actions(org_id, message_targets, _message_docs(org_id, batch), []))
        self.index(org_id, "customers", [doc["customer_id"] for doc in docs])
        if gone:  # their messages went with them (ON DELETE CASCADE)
            for target in message_targets:
                self._delete_where(target, org_id, {"terms": {"ticket_id": gone}})

    def reindex(self, org_id: int, language: str,
                progress: Callable[[int], None] | None = None) -> int:
        """Send every document of one org to the live indices, then drop the org's documents
        this did not send (rows deleted while no job indexed them). The language needs no
        reindex here (every language subfield is always indexed); the job runs anyway."""
        self.ensure_indices()
        started = utcnow().isoformat()
        count = self._fill(org_id, {doc_type: self._targets(doc_type) for doc_type in DOC_TYPES},
                           progress)
        for doc_type in DOC_TYPES:
            for target in self._targets(doc_type):
                self._delete_where(target, org_id, {"range": {"indexed_at": {"lt": started}}})
        return count

    def rebuild_all(self, progress: Callable[[int], None] | None = None) -> int:
        """New versioned indices filled with every org's documents, then swapped in for the old
        ones in one alias update (searches never see a half-built index), old ones deleted."""
        new = {doc_type: self._create(doc_type, {self.building(doc_type): {}})
               for doc_type in DOC_TYPES}
        try:
            count = 0
            org_ids = list(db.session.scalars(select(Organization.id).order_by(Organization.id)))
            for org_id in org_ids:
                with tenancy.org_scope(org_id):
                    count += self._fill(org_id, {doc_type: [self.building(doc_type)]
                                                 for doc_type in DOC_TYPES}, progress)
            old = {doc_type: self._concrete(doc_type) for doc_type in DOC_TYPES}
            actions = []
            for doc_type, index in new.items():
                actions += [{"remove": {"index": name, "alias": self.alias(doc_type)}}
                            for name in old[doc_type]]
                actions += [{"add": {"index": index, "alias": self.alias(doc_type)}},
                            {"remove": {"index": index, "alias": self.building(doc_type)}}]
            self.client.indices.update_aliases(actions=actions)
        except BaseException:
            self.client.indices.delete(index=list(new.values()), ignore_unavailable=True)
            raise
        stale = [name for names in old.values() for name in names]
        if stale:
            self.client.indices.delete(index=stale, ignore_unavailable=True)
        return count

    def ensure_indices(self) -> None:
        """Create the missing aliased indices (a first `--org` reindex). Not for concurrent use:
        `flask search reindex` (rebuild_all) is the way to set up a cluster."""
        for doc_type in DOC_TYPES:
            if not self.client.indices.exists_alias(name=self.alias(doc_type)):
                self._create(doc_type, {self.alias(doc_type): {}})

    def _create(self, doc_type: str, aliases: dict) -> str:
        name = f"{self.alias(doc_type)}-v{utcnow():%Y%m%d%H%M%S%f}"
        self.client.indices.create(index=name, settings=SETTINGS, aliases=aliases,
                                   mappings={"dynamic": "strict",
                                             "properties": MAPPINGS[doc_type]})
        return name

    def _concrete(self, doc_type: str) -> list[str]:
        try:
            return sorted(self.client.indices.get_alias(name=self.alias(doc_type)).body)
        except NotFoundError:
            return []

    def _targets(self, doc_type: str) -> list[str]:
        """The live alias, and the index being built while a rebuild runs."""
        targets = [self.alias(doc_type)]
        if self.client.indices.exists_alias(name=self.building(doc_type)):
            targets.append(self.building(doc_type))
        return targets

    def _fill(self, org_id: int, targets: dict[str, list[str]],
              progress: Callable[[int], None] | None) -> int:
        count = 0
        for doc_type in DOC_TYPES:
            for ids in _batches(org_id, doc_type):
                docs = list(LOADERS[doc_type](org_id, ids))
                self._send(self._actions(org_id, targets[doc_type], docs, []))
                db.session.commit()  # no snapshot held open for the whole org
                count += len(docs)
                if progress:
                    progress(len(ids))
        return count

    @staticmethod
    def _actions(org_id: int, targets: list[str], docs: Iterable[dict],
                 gone: list[int]) -> Iterator[dict]:
        docs, stamp, routing = list(docs), utcnow().isoformat(), str(org_id)
        for target in targets:
            for doc in docs:
                yield {"_index": target, "_id": f"{org_id}-{doc['id']}", "_routing": routing,
                       "_source": {**doc, "indexed_at": stamp}}
            for row_id in gone:
                yield {"_op_type": "delete", "_index": target, "_id": f"{org_id}-{row_id}",
                       "_routing": routing}

    def _send(self, actions: Iterable[dict]) -> None:
        # 404s are a deleted document already gone, or an alias that does not exist (yet, or
        # any more: a rebuild just swapped): nothing to write there. Other failures raise.
        helpers.bulk(self.client, actions, require_alias=True, ignore_status=(404,))

    def _delete_where(self, target: str, org_id: int, condition: dict) -> None:
        with suppress(NotFoundError):  # no such alias (yet): nothing to delete
            self.client.delete_by_query(
                index=target, routing=str(org_id), conflicts="proceed",
                query={"bool": {"filter": [{"term": {"org_id": str(org_id)}}, condition]}})
