"""PostgreSQL search: the hits of a page, loaded for the page's ids only, with their snippets
(ts_headline) turned into safe HTML."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

from sqlalchemy import and_, bindparam, cast, func, literal, literal_column, select
from sqlalchemy.dialects.postgresql import REGCONFIG, aggregate_order_by

from helpdesk.extensions import db
from helpdesk.search.backend import Hit
from helpdesk.search.tables import customers, messages, order_lines, orders, tickets

HEADLINE_TEXT = 20_000  # characters of a message that ts_headline reads for the snippet
ORDER_LINES_TEXT = 2_000  # characters of an order's product names in its snippet
START, STOP = "\x02", "\x03"
SNIPPET_OPTIONS = (f'StartSel="{START}", StopSel="{STOP}", MaxWords=30, MinWords=12, '
                   'MaxFragments=2, FragmentDelimiter=" … "')
WHOLE_OPTIONS = f'StartSel="{START}", StopSel="{STOP}", HighlightAll=true'


def web_tsquery(language: str, words: str):
    """The typed words as a tsquery (websearch_to_tsquery never fails on syntax)."""
    return func.websearch_to_tsquery(cast(literal(language), REGCONFIG),
                                     bindparam("search_text", words, unique=True))


def load_hits(doc_type: str, org_id: int, language: str, words: str,
              ids: list[int]) -> list[Hit]:
    """The hits of these ids, in their order (a row deleted meanwhile is left out)."""
    if not ids:
        return []
    loader = {"tickets": _ticket_hits, "messages": _message_hits,
              "customers": _customer_hits, "orders": _order_hits}[doc_type]
    found = {hit.id: hit for hit in loader(org_id, web_tsquery(language, words), language, ids)}
    return [found[row_id] for row_id in ids if row_id in found]


def _headline(language: str, source, tsquery, options: str):
    return func.ts_headline(cast(literal(language), REGCONFIG), source, tsquery, options)


def _ticket_hits(org_id: int, tsquery, language: str, ids: list[int]) -> Iterator[Hit]:
    rows = db.session.execute(
        select(tickets.c.id, tickets.c.number, tickets.c.subject, tickets.c.status,
               tickets.c.created_at, tickets.c.customer_id, customers.c.email,
               _headline(language, tickets.c.subject, tsquery, WHOLE_OPTIONS).label("snippet"))
        .join(customers, and_(customers.c.org_id == tickets.c.org_id,
                              customers.c.id == tickets.c.customer_id))
        .where(tickets.c.org_id == org_id, tickets.c.id.in_(ids)))
    for row in rows:
        yield Hit(type="ticket", id=row.id, title=row.subject, snippet=marked(row.snippet),
                  created_at=row.created_at, ticket_number=row.number,
                  ticket_status=row.status, customer_id=row.customer_id,
                  customer_email=row.email)


def _message_hits(org_id: int, tsquery, language: str, ids: list[int]) -> Iterator[Hit]:
    body = func.left(func.coalesce(messages.c.body_visible, messages.c.body_text), HEADLINE_TEXT)
    rows = db.session.execute(
        select(messages.c.id, messages.c.kind, messages.c.created_at, tickets.c.number,
               tickets.c.subject, tickets.c.status, tickets.c.customer_id,
               _headline(language, body, tsquery, SNIPPET_OPTIONS).label("snippet"))
        .join(tickets, and_(tickets.c.org_id == messages.c.org_id,
                            tickets.c.id == messages.c.ticket_id))
        .where(messages.c.org_id == org_id, messages.c.id.in_(ids)))
    for row in rows:
        yield Hit(type="message", id=row.id, title=row.subject, snippet=marked(row.snippet),
                  created_at=row.created_at, ticket_number=row.number,
                  ticket_status=row.status, customer_id=row.customer_id,
                  message_kind=row.kind)


def _customer_hits(org_id: int, tsquery, language: str, ids: list[int]) -> Iterator[Hit]:
    card = func.concat_ws(" · ", func.nullif(customers.c.name, ""), customers.c.email,
                          func.nullif(customers.c.company, ""))
    rows = db.session.execute(
        select(customers.c.id, customers.c.name, customers.c.email, customers.c.created_at,
               _headline(language, card, tsquery, WHOLE_OPTIONS).label("snippet"))
        .where(customers.c.org_id == org_id, customers.c.id.in_(ids)))
    for row in rows:
        yield Hit(type="customer", id=row.id, title=row.name or row.email,
                  snippet=marked(row.snippet), created_at=row.created_at,
                  customer_id=row.id, customer_email=row.email)


def _order_hits(org_id: int, tsquery, language: str, ids: list[int]) -> Iterator[Hit]:
    """An order: its shipping name, address and what was bought, as the snippet."""
    names = func.string_agg(order_lines.c.product_name,
                            aggregate_order_by(literal_column("', '"), order_lines.c.id))
    products = (select(func.left(names, ORDER_LINES_TEXT))
                .where(order_lines.c.org_id == orders.c.org_id,
                       order_lines.c.order_id == orders.c.id)
                .scalar_subquery())
    card = func.concat_ws(" · ", func.nullif(orders.c.shipping_address["name"].astext, ""),
                          orders.c.email, products)
    rows = db.session.execute(
        select(orders.c.id, orders.c.number, orders.c.status, orders.c.total, orders.c.currency,
               orders.c.email, orders.c.customer_id, orders.c.created_at,
               _headline(language, card, tsquery, WHOLE_OPTIONS).label("snippet"))
        .where(orders.c.org_id == org_id, orders.c.id.in_(ids)))
    for row in rows:
        yield Hit(type="order", id=row.id, title=f"Order #{row.number}",
                  snippet=marked(row.snippet), created_at=row.created_at,
                  customer_id=row.customer_id, customer_email=row.email,
                  order_number=row.number, order_status=str(row.status),
                  order_total=row.total, currency=row.currency)


_MARKED = re.compile(f"{START}(.*?){STOP}", re.DOTALL)


def marked(headline: str | None) -> str:
    """ts_headline output as safe HTML: escaped, with the matches in <mark>."""
    escaped = html.escape(headline or "", quote=False)
    escaped = _MARKED.sub(r"<mark>\1</mark>", escaped)
    return escaped.replace(START, "").replace(STOP, "")
