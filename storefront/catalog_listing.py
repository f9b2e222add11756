"""The product listing of the shop, the desk and the API: filters, sort orders, full-text
search and keyset pages.

Each sort order walks one index (migration store_catalog) from just past the cursor and stops
after a page: newest ix_shop_products_listing (org_id, is_active, created_at, id), price
ix_shop_products_price (org_id, is_active, price_from, id), name ix_shop_products_name. Page
400 costs what page 1 costs. Filters are tested on the rows walked: category, price range on
the listing price (price_from: the cheapest active variant, kept by a trigger), "in stock" and
option values (size=M) as EXISTS on the product's variants and their stock rows. A search
(`q`, websearch_to_tsquery in the org's text search configuration over the trigger-kept
search_vector, GIN index ix_shop_products_search) is ranked by relevance unless another order
is asked for.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import redis
from sqlalchemy import ColumnElement, Float, and_, exists, func, literal, select, tuple_
from sqlalchemy.dialects.postgresql import JSONB

from helpdesk.extensions import db, redis_store
from storefront.models import Product, ProductImage, StockLevel, Variant

SORTS = ("newest", "price_asc", "price_desc", "name", "relevance")
SORT_LABELS = {"relevance": "Best match", "newest": "Newest", "price_asc": "Price: low to high",
               "price_desc": "Price: high to low", "name": "Name"}
MAX_QUERY = 200
MAX_LIMIT = 100
AFTER, BEFORE = "a", "b"


@dataclass
class Listing:
    """What to list. `options` filters by variant option values ({"size": "M"}): one active
    variant must have all of them (and be in stock, with `in_stock`)."""

    q: str = ""
    category_id: int | None = None
    min_price: int | None = None
    max_price: int | None = None
    in_stock: bool = False
    options: dict[str, str] = field(default_factory=dict)
    sort: str = ""
    cursor: str | None = None
    limit: int = 24
    active: bool | None = True  # False: hidden products only; None: all (the desk, the API)

    @property
    def effective_sort(self) -> str:
        if self.sort in SORTS and (self.sort != "relevance" or self.q):
            return self.sort
        return "relevance" if self.q else "newest"


@dataclass
class Page:
    products: list[Product]
    next_cursor: str | None
    prev_cursor: str | None


@dataclass
class Card:
    """A product as a list shows it: its price range, units available, first picture."""

    product: Product
    price_min: int
    price_max: int
    available: int
    variant_count: int
    image: ProductImage | None

    @property
    def in_stock(self) -> bool:
        return self.available > 0


def _tsquery(org_id: int, text: str):
    return func.websearch_to_tsquery(func.search_config_of(org_id), text)


def _order(sort: str, org_id: int, q: str) -> tuple[list[ColumnElement], bool]:
    """(sort key columns, descending?) - the last column is the unique id."""
    if sort == "price_asc":
        return [Product.price_from, Product.id], False
    if sort == "price_desc":
        return [Product.price_from, Product.id], True
    if sort == "name":
        return [Product.name, Product.id], False
    if sort == "relevance":
        rank = func.ts_rank_cd(Product.search_vector, _tsquery(org_id, q)).cast(Float)
        return [rank, Product.id], True
    return [Product.created_at, Product.id], True


def _variant_condition(listing: Listing):
    """EXISTS an active variant of the product with the options (and stock) asked for.

    Checked per product while the sort index is walked (OFFSET 0 keeps PostgreSQL from
    turning it into a join): the page stops after `limit` matches. As a join, the planner,
    which cannot estimate JSONB containment, hashed every variant and stock row of the org
    (67 ms for size=M in stock at 10,000 products, against 2 ms walked)."""
    conditions = [Variant.org_id == Product.org_id, Variant.product_id == Product.id,
                  Variant.is_active]
    if listing.options:
        conditions.append(Variant.options.op("@>")(literal(listing.options, JSONB)))
    statement = select(Variant.id).where(*conditions)
    if listing.in_stock:
        statement = statement.join(StockLevel, and_(StockLevel.org_id == Variant.org_id,
                                                    StockLevel.variant_id == Variant.id)) \
            .where(StockLevel.on_hand > StockLevel.reserved)
    return exists(statement.offset(0))


def list_products(org_id: int, listing: Listing) -> Page:
    """One page of this org's products. A cursor from another sort order or filter set, or a
    forged one, gives the first page."""
    sort = listing.effective_sort
    q = (listing.q or "").strip()[:MAX_QUERY]
    columns, descending = _order(sort, org_id, q)
    statement = select(Product).where(Product.org_id == org_id)
    if listing.active is not None:
        statement = statement.where(Product.is_active == listing.active)
    if listing.category_id is not None:
        statement = statement.where(Product.category_id == listing.category_id)
    if listing.min_price is not None:
        statement = statement.where(Product.price_from >= listing.min_price)
    if listing.max_price is not None:
        statement = statement.where(Product.price_from <= listing.max_price)
    if listing.in_stock or listing.options:
        statement = statement.where(_variant_condition(listing))
    if q:
        statement = statement.where(Product.search_vector.op("@@")(_tsquery(org_id, q)))
    limit = max(1, min(listing.limit, MAX_LIMIT))
    decoded = decode_cursor(listing.cursor, sort)
    direction, values = decoded if decoded else (None, None)
    backwards = direction == BEFORE
    if values is not None:
        row = tuple_(*columns)
        bound = tuple_(*(literal(v, type_=c.type) for c, v in zip(columns, values, strict=True)))
        past = row < bound if descending != backwards else row > bound
        statement = statement.where(past)
    walk_descending = descending != backwards
    order = [c.desc() if walk_descending else c.asc() for c in columns]
    statement = statement.add_columns(*columns).order_by(*order).limit(limit + 1)
    rows = db.session.execute(statement).all()
    more = len(rows) > limit
    rows = rows[:limit]
    if backwards:
        rows.reverse()
        has_next, has_prev = True, more
    else:
        has_next, has_prev = more, direction == AFTER
    products = [row[0] for row in rows]
    return Page(
        products=products,
        next_cursor=encode_cursor(AFTER, sort, rows[-1][1:]) if rows and has_next else None,
        prev_cursor=encode_cursor(BEFORE, sort, rows[0][1:]) if rows and has_prev else None,
    )


def encode_cursor(direction: str, sort: str, values) -> str:
    plain = [direction, sort, *(v.isoformat() if isinstance(v, datetime) else v
                                for v in values)]
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, sort: str) -> tuple[str, list[Any]] | None:
    """(direction, typed values) or None for a missing, stale or forged cursor."""
    if not cursor or not isinstance(cursor, str) or len(cursor) > 1200:
        return None
    try:
        plain = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        return None
    if (not isinstance(plain, list) or len(plain) != 4 or plain[0] not in (AFTER, BEFORE)
            or plain[1] != sort):
        return None
    key, product_id = plain[2], plain[3]
    if not isinstance(product_id, int) or isinstance(product_id, bool) \
            or not 0 < product_id < 2**63:
        return None
    if sort == "newest":
        try:
            key = datetime.fromisoformat(key)
        except (TypeError, ValueError):
            return None
        if key.tzinfo is None:
            return None
    elif sort in ("price_asc", "price_desc"):
        if not isinstance(key, int) or isinstance(key, bool) or not 0 <= key < 2**63:
            return None
    elif sort == "name":
        if not isinstance(key, str) or len(key) > 200 or "\x00" in key:
            return None
    elif not isinstance(key, float | int) or isinstance(key, bool):
        return None
    return plain[0], [key, product_id]


FACETS_TTL = 120  # seconds; the catalog's writes also drop the cached menus


def _facets_key(org_id: int) -> str:
    return f"shop:facets:{org_id}"


def option_facets(org_id: int) -> dict[str, list[str]]:
    """The option names and values of the org's active variants (the filter menus), e.g.
    {"size": ["L", "M", "S"]}. Reading them costs 40 ms at 30,000 variants, so they are kept
    in Redis for a while; without Redis they are read each time."""
    try:
        cached = redis_store.client.get(_facets_key(org_id))
    except redis.exceptions.RedisError:
        cached = None
    if cached:
        return json.loads(cached)
    facets = _read_facets(org_id)
    with contextlib.suppress(redis.exceptions.RedisError):
        redis_store.client.set(_facets_key(org_id), json.dumps(facets), ex=FACETS_TTL)
    return facets


def forget_facets(org_id: int) -> None:
    with contextlib.suppress(redis.exceptions.RedisError):
        redis_store.client.delete(_facets_key(org_id))


def _read_facets(org_id: int, limit_names: int = 10, limit_values: int = 30) -> dict:
    pairs = func.jsonb_each_text(Variant.options).table_valued("key", "value")
    rows = db.session.execute(
        select(pairs.c.key, pairs.c.value).select_from(Variant)
        .join(Product, and_(Product.org_id == Variant.org_id, Product.id == Variant.product_id))
        .join(pairs, literal(True))
        .where(Variant.org_id == org_id, Variant.is_active, Product.is_active)
        .distinct().order_by(pairs.c.key, pairs.c.value).limit(limit_names * limit_values)
    ).all()
    facets: dict[str, list[str]] = {}
    for key, value in rows:
        values = facets.setdefault(key, []) if len(facets) < limit_names or key in facets \
            else None
        if values is not None and len(values) < limit_values:
            values.append(value)
    return facets


def cards(products: list[Product]) -> list[Card]:
    """The products with their active variants' prices and stock, and first pictures, in
    three queries for the whole page."""
    from storefront.product_images import first_images
    from storefront.stock import availability

    ids = [p.id for p in products]
    variants = list(db.session.scalars(select(Variant).where(Variant.product_id.in_(ids),
                                                             Variant.is_active))) if ids else []
    available = availability(v.id for v in variants)
    images = first_images(ids)
    by_product: dict[int, list[Variant]] = {}
    for variant in variants:
        by_product.setdefault(variant.product_id, []).append(variant)
    found = []
    for product in products:
        mine = by_product.get(product.id, [])
        prices = [v.price if v.price is not None else product.price for v in mine] \
            or [product.price]
        found.append(Card(product=product, price_min=min(prices), price_max=max(prices),
                          available=sum(available.get(v.id, 0) for v in mine),
                          variant_count=len(mine), image=images.get(product.id)))
    return found
