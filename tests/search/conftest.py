"""Search test helpers. Fixtures with distinctive names: several test modules share them."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.api.conftest import api_org, new_ticket  # noqa: F401  (API org and tickets)
from tests.store.conftest import make_product  # noqa: F401  (products with stock)
from tests.tickets.conftest import make_ticket  # noqa: F401  (the ticket factory here too)


@pytest.fixture
def make_shop_order(in_org, make_product):  # noqa: F811  (the fixture imported above)
    """`make_shop_order(org, email, name, [(product name, quantity), ...])`: a cash order
    placed through checkout, shipped to `name`; one product per name and org, made on first use.
    Returns the order's id, number, customer id, total and the lines' SKUs."""
    from helpdesk.orgs.models import Organization
    from storefront import checkout

    products: dict[tuple[int, str], SimpleNamespace] = {}

    def _make_shop_order(org, email: str, name: str, lines: list[tuple[str, int]],
                         price: int = 1250):
        items = []
        for product_name, quantity in lines:
            key = (org.id, product_name)
            if key not in products:
                products[key] = make_product(org, price=price, stock=50, name=product_name)
            items.append({"variant_id": products[key].variant_id, "quantity": quantity})
        address = {"name": name, "line1": "1 Main St", "postal_code": "1000",
                   "city": "Brussels", "country": "BE"}
        with in_org(org.id) as session:
            order = checkout.place_order(session.get(Organization, org.id), email=email,
                                         name=name, items=items, shipping_address=address,
                                         payment="cash_on_delivery")
            return SimpleNamespace(id=order.id, number=order.number,
                                   customer_id=order.customer_id, total=order.total,
                                   currency=order.currency,
                                   skus=[products[org.id, n].sku for n, _ in lines])

    return _make_shop_order
