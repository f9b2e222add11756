"""The shop's catalog pages: the product list (search, filters, sort, pages) and the product
page (variant picker, availability, delivery estimate, personalization, add to cart), and
the product pictures. Public: no sign-in; hidden products are seen by the org's staff only."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import abort, current_app, g, render_template, request, send_file, url_for
from werkzeug.datastructures import MultiDict

from helpdesk.core.auth import current_membership
from helpdesk.extensions import db
from storefront import catalog, delivery, shop_bp
from storefront.catalog_checks import options_label
from storefront.catalog_listing import (
    SORT_LABELS,
    Listing,
    cards,
    list_products,
    option_facets,
)
from storefront.models import Product, ProductImage
from storefront.money import org_currency, parse_money, to_major
from storefront.personalization import input_name
from storefront.product_images import image_path, images_of
from storefront.stock import availability, availability_text

PAGE_SIZE = 24
OPTION_PREFIX = "o."  # the list's option filters: ?o.size=M


@dataclass
class Filters:
    """The list's query string, read leniently: a bad value is named and left out."""

    listing: Listing
    values: dict[str, str]
    category_slug: str = ""
    problems: dict[str, str] = field(default_factory=dict)


def read_filters(args: MultiDict) -> Filters:
    # A NUL typed into the search box is no error: it is dropped (PostgreSQL refuses it).
    args = MultiDict((k.replace("\x00", ""), v.replace("\x00", ""))
                     for k, v in args.items(multi=True))
    currency = org_currency(g.org)
    values = {name: (args.get(name) or "").strip()[:200]
              for name in ("q", "category", "min", "max", "sort", "in_stock")}
    listing = Listing(q=values["q"], sort=values["sort"], in_stock=values["in_stock"] == "1",
                      cursor=args.get("cursor"), limit=PAGE_SIZE)
    problems: dict[str, str] = {}
    for name, attribute in (("min", "min_price"), ("max", "max_price")):
        if values[name]:
            try:
                setattr(listing, attribute, parse_money(values[name], currency))
            except ValueError as error:
                problems[name] = str(error)
    if values["category"]:
        category = next((c for c in catalog.categories() if c.slug == values["category"]), None)
        if category is None:
            problems["category"] = "No such category."
        else:
            listing.category_id = category.id
    listing.options = {name.removeprefix(OPTION_PREFIX)[:40]: value.strip()[:100]
                       for name, value in args.items()
                       if name.startswith(OPTION_PREFIX) and value.strip()}
    return Filters(listing=listing, values=values, category_slug=values["category"],
                   problems=problems)


@shop_bp.get("/", endpoint="home")
def product_list():
    filters = read_filters(request.args)
    page = list_products(g.org.id, filters.listing)
    query = {k: v for k, v in request.args.items() if k != "cursor" and v and "\x00" not in k + v}

    def link(cursor: str) -> str:
        return url_for("shop.home", **query, cursor=cursor)

    return render_template(
        "storefront/list.html", cards=cards(page.products), page=page, link=link,
        filters=filters, categories=catalog.categories(), facets=option_facets(g.org.id),
        sort_labels=SORT_LABELS, sort=filters.listing.effective_sort,
        searching=bool(filters.listing.q), option_prefix=OPTION_PREFIX,
        currency=org_currency(g.org),
        filtered=bool(set(query) - {"sort"}))


product_list.cleans_query_string = True


def _staff() -> bool:
    return current_membership() is not None


def _visible(product: Product | None) -> Product:
    """Another org's product, or a hidden one for anyone but this org's staff: 404."""
    if product is None or not (product.is_active or _staff()):
        abort(404)
    return product


@shop_bp.get("/products/<slug>", endpoint="product")
def product_page(slug: str):
    product = _visible(catalog.get_product_by_slug(slug))
    variants = [v for v in catalog.variants_of(product.id) if v.is_active]
    available = availability(v.id for v in variants)
    chosen = request.args.get("variant", type=int)
    selected = next((v for v in variants if v.id == chosen), None) or next(
        (v for v in variants if available[v.id] > 0), variants[0] if variants else None)
    choices = [{"variant": v, "price": catalog.price_of(v), "available": available[v.id],
                "availability": availability_text(available[v.id]),
                "label": options_label(v.options)} for v in variants]
    chosen = next((c for c in choices if c["variant"] is selected), None)
    price = chosen["price"] if chosen else product.price
    return render_template(
        "storefront/product.html", product=product, choices=choices, selected=selected,
        chosen=chosen,
        price=price, images=images_of(product.id), delivery=delivery.options(g.org, price),
        personalization=[{**f, "input": input_name(f["key"])}
                         for f in product.personalization or []],
        cart_url=_cart_url(), category=product.category_id and next(
            (c for c in catalog.categories() if c.id == product.category_id), None),
        preview=not product.is_active, to_major=to_major, currency=org_currency(g.org))


def _cart_url() -> str:
    if "shop.cart_add" in current_app.view_functions:
        return url_for("shop.cart_add")
    return f"{url_for('shop.home')}cart/items"


@shop_bp.get("/images/<id:image_id>", endpoint="product_image")
def product_image(image_id: int):
    image = db.session.get(ProductImage, image_id)  # this org's only
    if image is None:
        abort(404)
    shown_publicly = _visible(db.session.get(Product, image.product_id)).is_active
    path = image_path(image)
    if path is None or not path.is_file():
        abort(404, description="The file of this picture is missing.")
    response = send_file(path, mimetype=image.content_type, conditional=True, etag=image.sha256)
    response.headers["X-Content-Type-Options"] = "nosniff"
    # Pictures of hidden products (staff previews) stay out of shared caches.
    response.headers["Cache-Control"] = ("public, max-age=3600" if shown_publicly
                                         else "private, no-store")
    response.headers["Content-Security-Policy"] = "default-src 'none'"
    return response
