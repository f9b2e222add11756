"""Store test helpers."""

from __future__ import annotations

from types import SimpleNamespace

import pytest


@pytest.fixture
def catalog_product(in_org):
    """`catalog_product(org, name=..., price=..., variants=[...], ...)`: a product made by
    storefront.catalog.create_product as the org's owner; returns its id, slug and variant ids
    (in the order given)."""
    from storefront import catalog

    def _catalog_product(org, **data):
        data.setdefault("name", "Wool socks")
        data.setdefault("price", 1200)
        with in_org(org.id, org.owner_id):
            product = catalog.create_product(org.owner_id, data)
            variants = catalog.variants_of(product.id)
            return SimpleNamespace(id=product.id, slug=product.slug, org_id=org.id,
                                   variant_ids=[v.id for v in variants],
                                   skus=[v.sku for v in variants])

    return _catalog_product


# Orders, stock and checkout: products built directly on the models (stock through inventory).

_product_counter = iter(range(1, 10**9))


@pytest.fixture
def make_product(in_org):
    """`make_product(org, price=1000, stock=10, personalization=None, ...)`: an active product
    with one variant and `stock` units on hand; returns ids and the SKU."""
    from sqlalchemy import update

    from storefront import inventory
    from storefront.models import Product, StockLevel, Variant

    def _make_product(org, price: int = 1000, stock: int = 10, personalization=None, *,
                      name: str | None = None, variant_price: int | None = None,
                      low_stock_threshold: int = 0, active: bool = True):
        n = next(_product_counter)
        name = name or f"Mug {n}"
        with in_org(org.id, org.owner_id) as session:
            product = Product(org_id=org.id, name=name, slug=f"mug-{n}", price=price,
                              personalization=personalization or [], is_active=active)
            session.add(product)
            session.flush()
            variant = Variant(org_id=org.id, product_id=product.id, sku=f"MUG-{n}",
                              options={"colour": "blue"}, price=variant_price)
            session.add(variant)
            session.flush()
            inventory.adjust(variant.id, stock, "receipt", "initial stock", None)
            session.execute(update(StockLevel).where(StockLevel.variant_id == variant.id)
                            .values(low_stock_threshold=low_stock_threshold))
            return SimpleNamespace(id=product.id, variant_id=variant.id, org_id=org.id,
                                   sku=variant.sku, name=name, price=price)

    return _make_product


@pytest.fixture
def stock_of(in_org):
    """`stock_of(org, variant_id)`: (on_hand, reserved) as committed."""
    from sqlalchemy import select

    from storefront.models import StockLevel

    def _stock_of(org, variant_id: int) -> tuple[int, int]:
        with in_org(org.id) as session:
            return tuple(session.execute(select(StockLevel.on_hand, StockLevel.reserved)
                                         .where(StockLevel.variant_id == variant_id)).one())

    return _stock_of


@pytest.fixture
def count_rows(as_system):
    """`count_rows(Model, org_id=None)`: rows of a table, in one org or all."""
    from sqlalchemy import func, select

    def _count_rows(model, org_id: int | None = None) -> int:
        with as_system() as session:
            query = select(func.count()).select_from(model)
            if org_id is not None:
                query = query.where(model.org_id == org_id)
            return session.scalar(query)

    return _count_rows


@pytest.fixture
def catalog_api(make_org, make_member, make_token):
    """`catalog_api(org=None, role="owner")`: API request headers for a staff member's token
    (a new org unless one is given); returns (org, headers)."""

    def _catalog_api(org=None, role: str = "owner"):
        org = org or make_org()
        user_id = org.owner_id if role == "owner" else make_member(org, role).id
        return org, {"Authorization": f"Bearer {make_token(org, user_id)}"}

    return _catalog_api


# The desk's order pages and the ticket links: a shop with staff, cash orders, snapshots,
# tickets and mail through the pipeline;
# Stripe: localstripe, shops with a connected account, card orders, signed webhooks.
from tests.mail.conftest import deliver, mail_org  # noqa: E402, F401
from tests.store.staff_order_fixtures import (  # noqa: E402, F401
    cash_order,
    order_snapshot,
    staff_shop,
)
from tests.store.stripe_fixtures import (  # noqa: E402, F401
    card_shop,
    localstripe,
    order_state,
    place_card_order,
    send_event,
    stripe_event,
    stripe_keys,
)
from tests.tickets.conftest import make_ticket  # noqa: E402, F401
