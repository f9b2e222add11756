"""The shop's cart, checkout and "order placed" pages (/<org>/shop/cart, /checkout, ...).

A guest's cart is found by a random token kept in their (signed) session, one per shop. The
orders a browser placed are remembered in its session too: only it sees their pages.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from flask import abort, flash, g, redirect, render_template, request, session, url_for

from helpdesk.core.exceptions import ServiceError
from helpdesk.extensions import db
from helpdesk.orgs.forms import EmptyForm
from storefront import cart as carts
from storefront import checkout, delivery, orders, shop_bp
from storefront.checkout_forms import SERVICE_FIELDS, CheckoutForm
from storefront.models import Cart, Order, OrderStatus, PaymentMethod
from storefront.money import format_money

CART_KEY = "shop_cart"  # {org id: cart token}
PLACED_KEY = "shop_placed"  # {org id: [order ids]}, the last few
KEEP_PLACED = 10
PERSONALIZATION_PREFIX = "p_"  # the product form's inputs: p_<field key>


@shop_bp.app_template_filter("money")
def money_filter(amount: int | None, currency: str | None = None) -> str:
    return format_money(amount, currency or (g.org.settings or {}).get("currency", "EUR"))


def _token(create: bool = False) -> str | None:
    tokens = session.get(CART_KEY) or {}
    token = tokens.get(str(g.org.id))
    if token is None and create:
        token = carts.new_token()
        session[CART_KEY] = tokens | {str(g.org.id): token}
    return token


def _cart(create: bool = False) -> Cart | None:
    if create:
        return carts.open_cart(token=_token(create=True))
    return carts.find_cart(token=_token())


def _placed_ids() -> list[int]:
    return list((session.get(PLACED_KEY) or {}).get(str(g.org.id), []))


def _remember_placed(order: Order) -> None:
    placed = session.get(PLACED_KEY) or {}
    ids = [i for i in placed.get(str(g.org.id), []) if i != order.id] + [order.id]
    session[PLACED_KEY] = placed | {str(g.org.id): ids[-KEEP_PLACED:]}


def _back(default: str):
    """Back to the page the form was on (this site only), else `default`."""
    came_from = urlsplit(request.referrer or "")
    if came_from.netloc == request.host and came_from.path.startswith("/"):
        return redirect(urlunsplit(("", "", came_from.path, came_from.query, "")), 303)
    return redirect(default, 303)


def _personalization_input() -> dict:
    """The product form's p_<key> values; uploaded pictures are stored and become keys."""
    values: dict = {k.removeprefix(PERSONALIZATION_PREFIX): v for k, v in request.form.items()
                    if k.startswith(PERSONALIZATION_PREFIX)}
    for name, upload in request.files.items():
        if name.startswith(PERSONALIZATION_PREFIX) and upload and upload.filename:
            from storefront.product_images import save_personalization_image

            key = name.removeprefix(PERSONALIZATION_PREFIX)
            values[key] = save_personalization_image(g.org.id, upload.filename, upload.stream,
                                                     field=f"personalization.{key}")
    return values


def _int(value: str | None) -> int | str | None:
    """A form's number as an int when it is one (the service explains anything else)."""
    text = (value or "").strip()
    return int(text) if text.lstrip("-").isdigit() and len(text) < 20 else text or None


@shop_bp.get("/cart", endpoint="cart")
def cart_page():
    lines = carts.lines(_cart())
    subtotal = sum(line.total for line in lines)
    return render_template("storefront/cart.html", org=g.org, lines=lines, subtotal=subtotal,
                           options=delivery.options(g.org, subtotal) if lines else [],
                           can_checkout=bool(lines) and not any(line.problem for line in lines),
                           card_payments=checkout.stripe_enabled(), button_form=EmptyForm())


@shop_bp.post("/cart/add", endpoint="cart_add")
def cart_add():
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400, description="The form expired. Reload the page and try again.")
    try:
        item = carts.add_item(_cart(create=True), _int(request.form.get("variant_id")),
                              _int(request.form.get("quantity", "1")), _personalization_input())
    except ServiceError as error:
        db.session.rollback()
        if error.status == 404:
            abort(404, description=error.message)
        flash(error.message, "error")
        return _back(url_for("shop.cart"))
    flash(f"Added to your cart ({item.quantity} in all).", "success")
    return redirect(url_for("shop.cart"), 303)


@shop_bp.post("/cart/items/<id:item_id>", endpoint="cart_update")
def cart_update(item_id: int):
    cart = _cart()
    if cart is None or not EmptyForm().validate_on_submit():
        abort(404)
    try:
        if request.form.get("remove"):
            carts.remove_item(cart, item_id)
            flash("Removed from your cart.", "success")
        else:
            carts.change_quantity(cart, item_id, _int(request.form.get("quantity")))
            flash("Quantity changed.", "success")
    except ServiceError as error:
        db.session.rollback()
        if error.status == 404:
            abort(404, description=error.message)
        flash(error.message, "error")
    return redirect(url_for("shop.cart"), 303)


def _checkout_page(form: CheckoutForm, lines, status: int = 200):
    subtotal = sum(line.total for line in lines)
    options = delivery.options(g.org, subtotal)
    form.delivery_option.choices = [(o.code, o.label) for o in options]
    methods = [(PaymentMethod.CASH_ON_DELIVERY.value, "Cash on delivery")]
    if checkout.stripe_enabled():
        methods.insert(0, (PaymentMethod.STRIPE.value, "Card"))
    form.payment.choices = methods
    form.delivery_option.data = form.delivery_option.data or options[0].code
    form.payment.data = form.payment.data or methods[0][0]
    form.idempotency_key.data = form.idempotency_key.data or checkout.new_key()
    form.expected_subtotal.data = str(subtotal)
    return render_template("storefront/checkout.html", org=g.org, form=form, lines=lines,
                           subtotal=subtotal, options=options,
                           card_payments=checkout.stripe_enabled()), status


@shop_bp.route("/checkout", methods=["GET", "POST"], endpoint="checkout")
def checkout_page():
    form = CheckoutForm()
    if form.is_submitted() and form.idempotency_key.data:
        earlier = orders.find_by_idempotency_key(form.idempotency_key.data[:64])
        if earlier is not None and earlier.id in _placed_ids():  # a second click
            return redirect(url_for("shop.order_placed", number=earlier.number), 303)
    cart = _cart()
    lines = carts.lines(cart)
    if not lines:
        flash("Your cart is empty.", "error")
        return redirect(url_for("shop.cart"), 303)
    if not form.is_submitted():
        return _checkout_page(form, lines)
    if not form.validate():
        return _checkout_page(form, lines, 422)
    try:
        placement = checkout.submit_order(
            g.org, email=form.email.data, name=form.name.data,
            items=carts.as_order_items(lines), delivery_option=form.delivery_option.data,
            shipping_address=form.address(), payment=form.payment.data,
            idempotency_key=form.idempotency_key.data, channel="shop",
            expected_subtotal=_int(form.expected_subtotal.data))
    except ServiceError as error:
        db.session.rollback()
        for name, message in error.fields.items():
            field = getattr(form, SERVICE_FIELDS.get(name, name), None)
            if field is not None:
                field.errors = [*field.errors, message]
        flash(error.message, "error")  # the whole story (lines, prices) above the form
        return _checkout_page(form, carts.lines(cart), error.status)
    carts.clear(cart)
    _remember_placed(placement.order)
    return redirect(url_for("shop.order_placed", number=placement.order.number), 303)


@shop_bp.get("/orders/<id:number>/placed", endpoint="order_placed")
def order_placed(number: int):
    order = orders.get_order_by_number(number)
    if order is None or order.id not in _placed_ids():
        abort(404)
    option = next((o for o in delivery.options(g.org, order.subtotal)
                   if o.code == order.delivery_option), None)
    awaiting_card = (order.payment_method is PaymentMethod.STRIPE
                     and order.status is OrderStatus.PLACED)
    return render_template("storefront/order_placed.html", org=g.org, order=order,
                           lines=orders.lines_of(order), option=option,
                           awaiting_card=awaiting_card)
