"""The guest cart and the shop's checkout pages, and merging a guest cart at sign-in."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from helpdesk.core.exceptions import NotFound, ValidationFailed
from storefront import cart as carts
from storefront import inventory
from storefront.models import Cart, CartItem, Order

ADDRESS = {"email": "bea@example.com", "name": "Bea Buyer", "line1": "1 Main St",
           "postal_code": "1000", "city": "Ghent", "country": "BE"}


def add(client, org, variant_id, quantity=1, **extra):
    return client.post(f"/{org.slug}/shop/cart/add",
                       data={"variant_id": str(variant_id), "quantity": str(quantity), **extra})


def cart_page(client, org) -> str:
    response = client.get(f"/{org.slug}/shop/cart")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def item_ids(client, org) -> list[int]:
    return [int(i) for i in re.findall(r"/shop/cart/items/(\d+)", cart_page(client, org))][::2]


def checkout_form(client, org) -> dict:
    page = client.get(f"/{org.slug}/shop/checkout").get_data(as_text=True)
    hidden = dict(re.findall(r'name="(idempotency_key|expected_subtotal)" type="hidden" '
                             r'value="([^"]*)"', page))
    if len(hidden) < 2:
        hidden = {name: value for value, name in re.findall(
            r'type="hidden" value="([^"]*)" name="(idempotency_key|expected_subtotal)"', page)}
    if len(hidden) < 2:
        hidden = dict(re.findall(r'id="(idempotency_key|expected_subtotal)" name="\1" '
                                 r'type="hidden" value="([^"]*)"', page))
    assert set(hidden) == {"idempotency_key", "expected_subtotal"}, page
    return ADDRESS | hidden | {"delivery_option": "standard", "payment": "cash_on_delivery"}


def test_add_change_and_remove_items(client, make_org, make_product):
    org = make_org()
    mug = make_product(org, price=1250, stock=5, name="Blue mug")
    response = add(client, org, mug.variant_id, 2)
    assert response.status_code == 303 and response.location.endswith(f"/{org.slug}/shop/cart")
    add(client, org, mug.variant_id, 1)  # the same item adds up
    page = cart_page(client, org)
    assert "Blue mug" in page and "€37.50" in page and 'value="3"' in page
    assert "cash on delivery only" in page
    [item_id] = item_ids(client, org)
    client.post(f"/{org.slug}/shop/cart/items/{item_id}", data={"quantity": "1"})
    assert "€12.50" in cart_page(client, org)
    client.post(f"/{org.slug}/shop/cart/items/{item_id}", data={"remove": "1"})
    assert "Your cart is empty." in cart_page(client, org)


@pytest.mark.parametrize(("quantity", "message"), [
    ("0", "The quantity must be at least 1."),
    ("-3", "The quantity must be at least 1."),
    ("two", "The quantity must be a whole number from 1 to 999."),
    ("6", "Only 5 of “Blue mug” left."),
])
def test_bad_quantities_are_explained(client, make_org, make_product, quantity, message):
    org = make_org()
    mug = make_product(org, stock=5, name="Blue mug")
    add(client, org, mug.variant_id, quantity)
    page = cart_page(client, org)
    assert message in page and "Your cart is empty." in page


def test_a_refused_add_goes_back_to_the_product_page(client, make_org, make_product):
    org = make_org()
    mug = make_product(org, stock=0)
    referrer = f"http://localhost/{org.slug}/shop/products/mug?variant={mug.variant_id}"
    response = client.post(f"/{org.slug}/shop/cart/add",
                           data={"variant_id": str(mug.variant_id), "quantity": "1"},
                           headers={"Referer": referrer})
    assert response.location == f"/{org.slug}/shop/products/mug?variant={mug.variant_id}"
    elsewhere = client.post(f"/{org.slug}/shop/cart/add", data={"variant_id": "x"},
                            headers={"Referer": "https://evil.example/"})
    assert elsewhere.status_code == 404


def test_unknown_hidden_and_other_orgs_products_cannot_be_added(client, make_org,
                                                                make_product, count_rows):
    org, other = make_org(), make_org()
    theirs = make_product(other, stock=5)
    hidden = make_product(org, stock=5, active=False, name="Old mug")
    assert add(client, org, theirs.variant_id).status_code == 404
    assert add(client, org, 999999999).status_code == 404
    add(client, org, hidden.variant_id)
    assert "“Old mug” is no longer sold." in cart_page(client, org)
    assert count_rows(CartItem) == 0


def test_another_visitors_cart_items_are_not_found(app, client, make_org, make_product):
    org = make_org()
    mug = make_product(org, stock=5)
    add(client, org, mug.variant_id)
    [item_id] = item_ids(client, org)
    stranger = app.test_client()
    for data in ({"quantity": "2"}, {"remove": "1"}):
        assert stranger.post(f"/{org.slug}/shop/cart/items/{item_id}",
                             data=data).status_code == 404
    stranger_page = stranger.get(f"/{org.slug}/shop/cart").get_data(as_text=True)
    assert "Your cart is empty." in stranger_page
    other = make_org()
    assert client.post(f"/{other.slug}/shop/cart/items/{item_id}",
                       data={"quantity": "2"}).status_code == 404
    assert "€" in cart_page(client, org)  # still there


def test_personalization_from_the_product_form(client, make_org, make_product, in_org):
    org = make_org()
    fields = [{"key": "gift_text", "label": "Gift message", "type": "text", "required": True,
               "max_length": 30}]
    mug = make_product(org, stock=5, personalization=fields)
    add(client, org, mug.variant_id)
    assert "Gift message is required." in cart_page(client, org)
    add(client, org, mug.variant_id, p_gift_text="For Sam")
    add(client, org, mug.variant_id, p_gift_text="For Alex")
    with in_org(org.id) as session:
        assert sorted(session.scalars(select(CartItem.personalization)).all(),
                      key=str) == [{"gift_text": "For Alex"}, {"gift_text": "For Sam"}]


def test_checkout_places_a_cash_order_and_empties_the_cart(client, make_org, make_product,
                                                           stock_of, count_rows):
    org = make_org()
    mug = make_product(org, price=1250, stock=5)
    add(client, org, mug.variant_id, 2)
    page = client.get(f"/{org.slug}/shop/checkout").get_data(as_text=True)
    assert "cash on delivery only" in page and 'value="stripe"' not in page
    form = checkout_form(client, org)
    response = client.post(f"/{org.slug}/shop/checkout", data=form)
    assert response.status_code == 303, response.get_data(as_text=True)
    assert response.location.endswith(f"/{org.slug}/shop/orders/1001/placed")
    placed = client.get(response.location).get_data(as_text=True)
    assert "Order #1001 is confirmed" in placed and "€29.90" in placed
    assert "bea@example.com" in placed
    assert "Your cart is empty." in cart_page(client, org)
    again = client.post(f"/{org.slug}/shop/checkout", data=form)  # a second click
    assert again.location.endswith("/orders/1001/placed")
    assert count_rows(Order, org.id) == 1 and stock_of(org, mug.variant_id) == (3, 0)


def test_checkout_errors_keep_what_was_typed(client, make_org, make_product, count_rows):
    org = make_org()
    mug = make_product(org, stock=5)
    add(client, org, mug.variant_id)
    form = checkout_form(client, org) | {"city": "", "line1": "42 Long Road"}
    response = client.post(f"/{org.slug}/shop/checkout", data=form)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Required for delivery." in page and 'value="42 Long Road"' in page
    assert f'value="{form["idempotency_key"]}"' in page
    pickup = client.post(f"/{org.slug}/shop/checkout",
                         data=form | {"delivery_option": "x", "city": "Ghent"})
    assert pickup.status_code == 422 and "Unknown delivery option “x”" in pickup.get_data(
        as_text=True)
    assert count_rows(Order, org.id) == 0


def test_a_price_change_before_checkout_is_shown_not_charged(client, make_org, make_product,
                                                             in_org, count_rows):
    from storefront.models import Product

    org = make_org()
    mug = make_product(org, price=1000, stock=5)
    add(client, org, mug.variant_id)
    form = checkout_form(client, org)
    with in_org(org.id) as session:
        session.get(Product, mug.id).price = 1400
    response = client.post(f"/{org.slug}/shop/checkout", data=form)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Prices changed since you looked" in page and "€14.00" in page
    assert count_rows(Order, org.id) == 0
    retry = client.post(f"/{org.slug}/shop/checkout", data=checkout_form(client, org))
    assert retry.status_code == 303


def test_sold_out_at_checkout_is_a_409_page(client, make_org, make_product, in_org):
    org = make_org()
    mug = make_product(org, stock=2, name="Blue mug")
    add(client, org, mug.variant_id, 2)
    form = checkout_form(client, org)
    with in_org(org.id):
        inventory.adjust(mug.variant_id, -1, "adjustment", "broken")
    response = client.post(f"/{org.slug}/shop/checkout", data=form)
    assert response.status_code == 409
    assert "Only 1 of “Blue mug” left." in response.get_data(as_text=True)


def test_order_pages_are_only_for_the_browser_that_placed_them(app, client, make_org,
                                                               make_product):
    org, other = make_org(), make_org()
    mug = make_product(org, stock=5)
    add(client, org, mug.variant_id)
    placed = client.post(f"/{org.slug}/shop/checkout", data=checkout_form(client, org))
    assert client.get(placed.location).status_code == 200
    assert app.test_client().get(placed.location).status_code == 404
    assert client.get(f"/{other.slug}/shop/orders/1001/placed").status_code == 404
    assert client.get(f"/{org.slug}/shop/orders/1002/placed").status_code == 404


def test_an_empty_cart_has_no_checkout(client, make_org):
    org = make_org()
    response = client.get(f"/{org.slug}/shop/checkout")
    assert response.status_code == 303 and response.location.endswith("/shop/cart")


# merge_carts: no customer sign-in yet (the portal adds it), so tested directly. -------------

def _guest_cart(in_org, org, items: list[tuple[int, int]]) -> str:
    token = carts.new_token()
    with in_org(org.id):
        cart = carts.open_cart(token=token)
        for variant_id, quantity in items:
            carts.add_item(cart, variant_id, quantity)
    return token


def _contents(in_org, org, customer_id):
    with in_org(org.id) as session:
        cart = carts.find_cart(customer_id=customer_id)
        return sorted((i.variant_id, i.quantity) for i in carts.items_of(cart)), \
            session.scalar(select(Cart.id).where(Cart.customer_id.is_(None)))


def test_merging_into_a_customer_without_a_cart_keeps_the_guest_cart(
        make_org, make_customer, make_product, in_org):
    org = make_org()
    customer = make_customer(org)
    mug = make_product(org, stock=9)
    token = _guest_cart(in_org, org, [(mug.variant_id, 2)])
    with in_org(org.id):
        carts.merge_carts(token, customer.id)
    assert _contents(in_org, org, customer.id) == ([(mug.variant_id, 2)], None)
    with in_org(org.id):
        assert carts.find_cart(token=token) is None  # the old token opens nothing now


def test_merging_adds_up_the_same_items_and_removes_the_guest_cart(
        make_org, make_customer, make_product, in_org):
    org = make_org()
    customer = make_customer(org)
    mug, cup = make_product(org, stock=9), make_product(org, stock=9)
    with in_org(org.id):
        mine = carts.open_cart(customer_id=customer.id)
        carts.add_item(mine, mug.variant_id, 1)
    token = _guest_cart(in_org, org, [(mug.variant_id, 2), (cup.variant_id, 1)])
    with in_org(org.id):
        carts.merge_carts(token, customer.id)
        assert carts.merge_carts(token, customer.id) is not None  # twice: nothing more
    assert _contents(in_org, org, customer.id) == (
        [(mug.variant_id, 3), (cup.variant_id, 1)], None)


def test_merging_refuses_another_orgs_customer(make_org, make_customer, make_product, in_org):
    org, other = make_org(), make_org()
    theirs = make_customer(other)
    mug = make_product(org, stock=9)
    token = _guest_cart(in_org, org, [(mug.variant_id, 1)])
    with in_org(org.id), pytest.raises(NotFound):
        carts.merge_carts(token, theirs.id)
    with in_org(other.id):
        assert carts.merge_carts(token, theirs.id) is None  # the guest cart is not theirs


def test_cart_service_refusals(make_org, make_product, in_org):
    org = make_org()
    mug = make_product(org, stock=2)
    with in_org(org.id):
        cart = carts.open_cart(token=carts.new_token())
        item = carts.add_item(cart, mug.variant_id, 2)
        with pytest.raises(inventory.OutOfStock):
            carts.change_quantity(cart, item.id, 3)
        with pytest.raises(ValidationFailed):
            carts.change_quantity(cart, item.id, 0)
        with pytest.raises(NotFound):
            carts.remove_item(cart, item.id + 1000)
