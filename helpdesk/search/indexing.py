"""Elasticsearch only: queue changed documents for indexing after each commit.

`after_flush` notes the tickets, messages, customers and orders that were inserted, deleted, or
changed in a field the index holds (an order line: its order), and queues one
`index_documents(org_id, doc_type, ids)` job per org and type and transaction on the `search`
queue with enqueue_after_commit: a rolled-back transaction queues nothing, and the worker reads
the committed rows. Writes that bypass the ORM call `queue_documents` (the mail pipeline's bulk
inserts, helpdesk/tickets/bulk.py).

Also indexed without a hook here (ElasticBackend.index): a ticket's messages and customer with
the ticket and an order's customer with the order, which covers customers made by upsert
(find_or_create_customer: mail ingest, checkout).
Not followed: a customer's new name or address stays on the messages they sent (the sender
fields) and on their tickets' customer address until those change or `flask search reindex`.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import current_app
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from helpdesk.core import tenancy
from helpdesk.core.jobs import enqueue_after_commit
from helpdesk.customers.models import Customer
from helpdesk.extensions import db
from helpdesk.tickets.models import Message, Ticket
from storefront.models import Order, OrderLine

# Model -> (document type, the columns its document is made of).
TRACKED = {
    Ticket: ("tickets", ("number", "subject", "status", "priority", "assignee_id", "tags",
                         "customer_id", "merged_into_id", "created_at")),
    Message: ("messages", ("ticket_id", "kind", "body_text", "body_visible",
                           "author_customer_id", "author_user_id", "created_at")),
    Customer: ("customers", ("name", "email", "company", "phone", "created_at")),
    Order: ("orders", ("number", "status", "email", "shipping_address", "customer_id", "total",
                       "currency", "created_at")),
}
# Rows indexed inside another document: model -> (its document type, the attribute holding the
# document's id, the columns the document reads).
PARTS = {OrderLine: ("orders", "order_id", ("order_id", "product_name", "sku"))}
_QUEUED = "search_index_queued"  # session.info: {(org_id, doc_type): (ids, seen)}


def install(session_class: type[Session]) -> None:
    if not event.contains(session_class, "after_flush", _after_flush):
        event.listen(session_class, "after_flush", _after_flush)
        event.listen(session_class, "after_commit", _forget)
        event.listen(session_class, "after_soft_rollback", _forget_rolled_back)


def uninstall(session_class: type[Session]) -> None:
    if event.contains(session_class, "after_flush", _after_flush):
        event.remove(session_class, "after_flush", _after_flush)
        event.remove(session_class, "after_commit", _forget)
        event.remove(session_class, "after_soft_rollback", _forget_rolled_back)


def queue_documents(org_id: int, doc_type: str, ids: Iterable[int]) -> None:
    """Index these rows after the commit (for writes the ORM does not see); a no-op without
    ELASTICSEARCH_URL, where the database triggers keep the search vectors."""
    if current_app.config.get("ELASTICSEARCH_URL"):
        _queue(db.session(), org_id, doc_type, ids)


def _after_flush(session: Session, flush_context) -> None:
    for obj in session.new:
        if type(obj) in TRACKED:
            _queue(session, obj.org_id, TRACKED[type(obj)][0], [obj.id])
    for obj in session.deleted:
        if type(obj) in TRACKED:
            # Read without loading: an expired object's row is gone by now.
            state = inspect(obj)
            org_id = state.dict.get("org_id") or tenancy.current_org_id()
            if org_id is not None:
                _queue(session, org_id, TRACKED[type(obj)][0], [state.identity[0]])
    for obj in session.dirty:
        tracked = TRACKED.get(type(obj))
        if tracked and _changed(obj, tracked[1]):
            _queue(session, obj.org_id, tracked[0], [obj.id])
    _queue_parts(session)


def _queue_parts(session: Session) -> None:
    """An order line's order (both orders, when a line moved; the last one, when deleted)."""
    for objects, changed_only in ((session.new, False), (session.deleted, False),
                                  (session.dirty, True)):
        for obj in objects:
            part = PARTS.get(type(obj))
            if part is None or (changed_only and not _changed(obj, part[2])):
                continue
            state = inspect(obj)
            history = state.attrs[part[1]].history
            parents = {*history.added, *history.deleted, *history.unchanged,
                       state.dict.get(part[1])} - {None}
            org_id = state.dict.get("org_id") or tenancy.current_org_id()
            if org_id is not None:
                _queue(session, org_id, part[0], sorted(parents))


def _changed(obj, columns: tuple[str, ...]) -> bool:
    attributes = inspect(obj).attrs
    return any(attributes[name].history.has_changes() for name in columns)


def _queue(session: Session, org_id: int, doc_type: str, ids: Iterable[int]) -> None:
    queued = session.info.setdefault(_QUEUED, {})
    key = (org_id, doc_type)
    if key not in queued:
        # The job's id list is this very list: later flushes of the transaction extend it, so
        # the commit queues one job per org and type with every id.
        queued[key] = ([], set())
        from helpdesk.search.jobs import index_documents

        enqueue_after_commit(index_documents, org_id, doc_type, queued[key][0], queue="search")
    job_ids, seen = queued[key]
    for row_id in ids:
        if row_id not in seen:
            seen.add(row_id)
            job_ids.append(row_id)


def _forget(session: Session) -> None:
    if not session.in_nested_transaction():
        session.info.pop(_QUEUED, None)


def _forget_rolled_back(session: Session, previous_transaction) -> None:
    if not previous_transaction.nested:
        session.info.pop(_QUEUED, None)
