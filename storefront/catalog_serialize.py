"""Products as the API returns them, loaded for a whole page at once (variants, stock,
pictures and categories in one query each)."""

from __future__ import annotations

from typing import Any

from flask import g, url_for
from sqlalchemy import select

from helpdesk.extensions import db
from storefront import catalog
from storefront.models import Category, Product
from storefront.money import org_currency
from storefront.product_images import images_of


def serialize_products(products: list[Product]) -> list[dict[str, Any]]:
    ids = [p.id for p in products]
    variants = catalog.variants_of(ids)
    levels = catalog.stock_levels(v.id for v in variants)
    images = images_of(ids)
    category_ids = {p.category_id for p in products if p.category_id}
    categories = {c.id: c for c in db.session.scalars(
        select(Category).where(Category.id.in_(category_ids)))} if category_ids else {}
    currency = org_currency(g.org)
    by_product: dict[int, list] = {}
    for variant in variants:
        by_product.setdefault(variant.product_id, []).append(variant)
    pictures: dict[int, list] = {}
    for image in images:
        pictures.setdefault(image.product_id, []).append(image)
    found = []
    for product in products:
        mine = by_product.get(product.id, [])
        prices = [v.price if v.price is not None else product.price
                  for v in mine if v.is_active] or [product.price]
        category = categories.get(product.category_id)
        found.append({
            "id": product.id, "name": product.name, "slug": product.slug,
            "url": url_for("shop.product", slug=product.slug),
            "description": product.description, "price": product.price,
            "price_from": min(prices), "currency": currency,
            "tax_inclusive": product.tax_inclusive, "active": product.is_active,
            "category": category and {"id": category.id, "name": category.name,
                                      "slug": category.slug},
            "personalization": product.personalization or [],
            "variants": [_variant(v, product, levels.get(v.id)) for v in mine],
            "images": [{"id": i.id, "url": url_for("shop.product_image", image_id=i.id),
                        "alt": i.alt, "content_type": i.content_type, "size": i.size}
                       for i in pictures.get(product.id, [])],
            "created_at": product.created_at, "updated_at": product.updated_at,
        })
    return found


def _variant(variant, product: Product, level) -> dict[str, Any]:
    on_hand, reserved = (level.on_hand, level.reserved) if level is not None else (0, 0)
    return {"id": variant.id, "sku": variant.sku, "options": variant.options or {},
            "price": variant.price if variant.price is not None else product.price,
            "price_override": variant.price, "weight_grams": variant.weight_grams,
            "active": variant.is_active,
            "stock": {"on_hand": on_hand, "reserved": reserved,
                      "available": max(on_hand - reserved, 0)}}
