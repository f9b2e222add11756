"""Carts: a guest's (found by a random token kept in their session) or a signed-in customer's
(found by customer id; the guest cart is merged into it at sign-in). Prices are never stored
in a cart: every look at it reads today's price, and checkout checks them again.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select

from helpdesk.core.exceptions import NotFound, ValidationFailed
from helpdesk.core.models import utcnow
from helpdesk.customers.models import Customer
from helpdesk.extensions import db
from storefront import inventory
from storefront import order_input as check
from storefront.checkout import unit_price
from storefront.models import Cart, CartItem, Product, Variant

MAX_CART_LINES = check.MAX_LINES


@dataclass
class CartLine:
    item: CartItem
    variant: Variant
    product: Product
    unit_price: int
    available: int
    problem: str = ""  # why this line cannot be bought as it is ("" when it can)

    @property
    def total(self) -> int:
        return self.unit_price * self.item.quantity


def new_token() -> str:
    return secrets.token_urlsafe(32)


def find_cart(*, token: str | None = None, customer_id: int | None = None) -> Cart | None:
    """The current org's cart for this guest token or customer (None: no cart yet)."""
    if customer_id is not None:
        query = select(Cart).where(Cart.customer_id == customer_id)
    elif token:
        query = select(Cart).where(Cart.token == token, Cart.customer_id.is_(None))
    else:
        return None
    return db.session.scalar(query.order_by(Cart.id).limit(1))


def open_cart(*, token: str | None = None, customer_id: int | None = None) -> Cart:
    """The cart, created when there is none yet (a guest needs a token from new_token())."""
    cart = find_cart(token=token, customer_id=customer_id)
    if cart is None:
        if customer_id is None and not token:
            raise ValueError("a guest cart needs a token")
        cart = Cart(token=token if customer_id is None else new_token(), customer_id=customer_id)
        db.session.add(cart)
        db.session.flush()
    return cart


def _quantity(value: Any) -> int:
    quantity = check.whole_number(value, 1, check.MAX_LINE_QUANTITY)
    if quantity is None:
        too_low = isinstance(value, int) and not isinstance(value, bool) and value < 1
        raise ValidationFailed(
            "The quantity must be at least 1." if too_low else
            f"The quantity must be a whole number from 1 to {check.MAX_LINE_QUANTITY}.",
            {"quantity": "at least 1" if too_low else f"1 to {check.MAX_LINE_QUANTITY}"})
    return quantity


def _sellable(variant_id: Any) -> tuple[Variant, Product]:
    if check.whole_number(variant_id, 1, check.MAX_ID) is None:
        raise NotFound("No such product.")
    row = db.session.execute(select(Variant, Product)
                             .join(Product, Product.id == Variant.product_id)
                             .where(Variant.id == variant_id)).first()
    if row is None:
        raise NotFound("No such product.")
    variant, product = row
    if not (variant.is_active and product.is_active):
        raise ValidationFailed(f"“{product.name}” is no longer sold.",
                               {"variant_id": "no longer sold"})
    return variant, product


def _check_stock(product: Product, variant: Variant, quantity: int) -> None:
    left = inventory.available(variant.id)
    if quantity > left:
        message = f"Only {left} of “{product.name}” left." if left else \
            f"“{product.name}” is sold out."
        raise inventory.OutOfStock(message, {"quantity": f"only {left} available"},
                                   variant_id=variant.id, requested=quantity, available=left)


def add_item(cart: Cart, variant_id: Any, quantity: Any = 1,
             personalization: Any = None) -> CartItem:
    """Put a variant in the cart (the same variant with the same personalization adds up).
    Raises NotFound for an unknown (or another org's) variant, ValidationFailed for a bad
    quantity, personalization or a product no longer sold, OutOfStock beyond what is left."""
    quantity = _quantity(quantity)
    variant, product = _sellable(variant_id)
    errors = check.Errors()
    values = personalization if isinstance(personalization, dict) else {}
    clean = check.personalization(product.personalization, values, cart.org_id, errors,
                                  "personalization")
    errors.raise_if_any()
    item = next((i for i in items_of(cart)
                 if i.variant_id == variant.id and (i.personalization or {}) == clean), None)
    total = quantity + (item.quantity if item else 0)
    if total > check.MAX_LINE_QUANTITY:
        raise ValidationFailed(f"At most {check.MAX_LINE_QUANTITY} of one item per order.",
                               {"quantity": f"at most {check.MAX_LINE_QUANTITY} in all"})
    _check_stock(product, variant, total)
    if item is None:
        if len(items_of(cart)) >= MAX_CART_LINES:
            raise ValidationFailed(f"A cart holds at most {MAX_CART_LINES} different items.",
                                   {"variant_id": "the cart is full"})
        item = CartItem(cart_id=cart.id, variant_id=variant.id, quantity=total,
                        personalization=clean)
        db.session.add(item)
    item.quantity = total
    cart.updated_at = utcnow()
    db.session.flush()
    return item


def _item(cart: Cart, item_id: Any) -> CartItem:
    item = db.session.scalar(select(CartItem).where(CartItem.id == item_id,
                                                    CartItem.cart_id == cart.id)) \
        if check.whole_number(item_id, 1, check.MAX_ID) is not None else None
    if item is None:
        raise NotFound("That item is not in your cart.")
    return item


def change_quantity(cart: Cart, item_id: Any, quantity: Any) -> CartItem:
    """Set an item's quantity. Raises NotFound for an item not in this cart, ValidationFailed
    for a quantity below 1 (remove the item instead), OutOfStock beyond what is left."""
    item = _item(cart, item_id)
    quantity = _quantity(quantity)
    variant, product = _sellable(item.variant_id)
    if quantity > item.quantity:
        _check_stock(product, variant, quantity)
    item.quantity = quantity
    cart.updated_at = utcnow()
    db.session.flush()
    return item


def remove_item(cart: Cart, item_id: Any) -> None:
    """Raises NotFound for an item not in this cart."""
    db.session.delete(_item(cart, item_id))
    cart.updated_at = utcnow()
    db.session.flush()


def clear(cart: Cart) -> None:
    db.session.execute(delete(CartItem).where(CartItem.cart_id == cart.id)
                       .execution_options(synchronize_session=False))
    db.session.expire_all()


def items_of(cart: Cart) -> list[CartItem]:
    return list(db.session.scalars(select(CartItem).where(CartItem.cart_id == cart.id)
                                   .order_by(CartItem.id)))


def lines(cart: Cart | None) -> list[CartLine]:
    """The cart as it is now: today's prices and stock, and what stands in the way."""
    if cart is None:
        return []
    rows = db.session.execute(
        select(CartItem, Variant, Product)
        .join(Variant, Variant.id == CartItem.variant_id)
        .join(Product, Product.id == Variant.product_id)
        .where(CartItem.cart_id == cart.id).order_by(CartItem.id)).all()
    found = []
    for item, variant, product in rows:
        left = inventory.available(variant.id)
        problem = ""
        if not (variant.is_active and product.is_active):
            problem = "No longer sold: please remove it."
        elif left == 0:
            problem = "Sold out."
        elif item.quantity > left:
            problem = f"Only {left} left."
        found.append(CartLine(item, variant, product, unit_price(variant, product), left,
                              problem))
    return found


def as_order_items(cart_lines: list[CartLine]) -> list[dict[str, Any]]:
    return [{"variant_id": line.variant.id, "quantity": line.item.quantity,
             "personalization": line.item.personalization or {}} for line in cart_lines]


def merge_carts(guest_token: str, customer_id: int) -> Cart | None:
    """At sign-in: the guest's cart joins the customer's (same variant and personalization add
    up, to the per-line limit); the guest cart is gone afterwards. Returns the customer's cart
    (None when neither had one). Raises NotFound for a customer not in this org."""
    if db.session.get(Customer, customer_id) is None:
        raise NotFound("No such customer.")
    guest = find_cart(token=guest_token) if guest_token else None
    mine = find_cart(customer_id=customer_id)
    if guest is None:
        return mine
    if mine is None:
        guest.customer_id, guest.token = customer_id, new_token()  # the old token opens nothing
        guest.updated_at = utcnow()
        db.session.flush()
        return guest
    existing = {(i.variant_id, _frozen(i.personalization)): i for i in items_of(mine)}
    for item in items_of(guest):
        same = existing.get((item.variant_id, _frozen(item.personalization)))
        if same is not None:
            same.quantity = min(same.quantity + item.quantity, check.MAX_LINE_QUANTITY)
            db.session.delete(item)
        elif len(existing) < MAX_CART_LINES:
            item.cart_id = mine.id
            existing[(item.variant_id, _frozen(item.personalization))] = item
    db.session.flush()
    db.session.delete(guest)  # items not moved (a full cart) go with it
    mine.updated_at = utcnow()
    db.session.flush()
    return mine


def _frozen(values: dict | None) -> str:
    return json.dumps(values or {}, sort_keys=True)
