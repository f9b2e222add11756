"""Catalog services: categories, products, variants and their stock levels.

Money is in minor units (storefront.money). Every variant gets its StockLevel when it is made;
stock then changes only through storefront.inventory (adjust), which writes a StockMovement.
Services validate, write and flush; the request or job commits. They raise ValidationFailed
(422, with per-field messages named as the API's fields: `price`, `variants.1.sku`...),
Conflict (409: a SKU or slug another row has) or NotFound.

The input checks are in storefront.catalog_checks, the listing (filters, sort, search) in
storefront.catalog_listing, pictures in storefront.product_images, the CSV import and export
in storefront.catalog_csv.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from helpdesk.core.exceptions import Conflict, ValidationFailed
from helpdesk.extensions import db
from storefront import personalization
from storefront.catalog_checks import (
    MAX_DESCRIPTION,
    SLUG,
    VARIANT_FIELDS,
    Problems,
    clean_amount,
    clean_text,
    clean_variant_entries,
    is_int,
    slugify,
)
from storefront.catalog_listing import forget_facets
from storefront.models import Category, MovementKind, Product, StockLevel, Variant
from storefront.stock import MAX_STOCK, adjust_stock, set_stock

PRODUCT_FIELDS = {"name", "description", "price", "slug", "category_id", "tax_inclusive",
                  "is_active", "personalization"}


def _free_value(column, base: str) -> str:
    """`base`, or `base-2`, `base-3`... whichever no row of this org has in `column`."""
    taken = set(db.session.scalars(select(column).where((column == base)
                                                        | column.like(f"{base}-%"))))
    if base not in taken:
        return base
    number = 2
    while f"{base}-{number}" in taken:
        number += 1
    return f"{base}-{number}"


def _clean_slug(problems: Problems, model, value: Any, *, exclude_id: int | None) -> str | None:
    slug = clean_text(problems, "slug", value, max_length=100)
    if not slug:
        return None
    if not SLUG.fullmatch(slug):
        problems.add("slug", "Lower-case letters, digits and single hyphens, e.g. wool-socks.")
        return None
    clash = db.session.scalar(select(model.id).where(model.slug == slug,
                                                     model.id != (exclude_id or 0)))
    if clash:
        raise Conflict(f"The address “{slug}” is already used.",
                       {"slug": "Another one has this address."})
    return slug


# Categories ------------------------------------------------------------------------------------

def categories() -> list[Category]:
    return list(db.session.scalars(select(Category).order_by(Category.position, Category.name)))


def get_category(category_id: Any) -> Category | None:
    if not is_int(category_id) or not 0 < category_id < 2**63:
        return None
    return db.session.get(Category, category_id)


def save_category(category: Category | None, *, name: Any, slug: Any = None,
                  position: Any = 0) -> Category:
    """Create (category None) or change a category. Raises ValidationFailed, Conflict."""
    problems = Problems()
    name = clean_text(problems, "name", name, required=True, max_length=100, label="A name")
    if not is_int(position) or not 0 <= position <= 10_000:
        problems.add("position", "A whole number from 0 to 10000.")
    problems.check()
    chosen = _clean_slug(problems, Category, slug, exclude_id=category and category.id)
    problems.check()
    if category is None:
        category = Category(name=name, position=position,
                            slug=chosen or _free_value(Category.slug, slugify(name, "category")))
        db.session.add(category)
    else:
        category.name, category.position = name, position
        category.slug = chosen or category.slug
    db.session.flush()
    return category


def delete_category(category: Category) -> None:
    """Its products stay, without a category (the foreign key sets it to NULL)."""
    db.session.delete(category)
    db.session.flush()


# Products --------------------------------------------------------------------------------------

def get_product(product_id: Any, *, for_update: bool = False) -> Product | None:
    """This org's product, or None (another org's id is not found either)."""
    if not is_int(product_id) or not 0 < product_id < 2**63:
        return None
    if for_update:
        return db.session.scalar(select(Product).where(Product.id == product_id)
                                 .with_for_update())
    return db.session.get(Product, product_id)


def get_product_by_slug(slug: str) -> Product | None:
    if not isinstance(slug, str) or len(slug) > 200:
        return None
    return db.session.scalar(select(Product).where(Product.slug == slug))


def _clean_product(problems: Problems, data: dict[str, Any], product: Product | None) -> dict:
    cleaned: dict[str, Any] = {}
    if "name" in data or product is None:
        cleaned["name"] = clean_text(problems, "name", data.get("name"), required=True,
                                     label="A name")
    if "description" in data:
        cleaned["description"] = clean_text(problems, "description", data["description"],
                                            max_length=MAX_DESCRIPTION)
    if "price" in data or product is None:
        if data.get("price") is None:
            problems.add("price", "A price is required (minor units: 1250 for 12.50).")
        else:
            cleaned["price"] = clean_amount(problems, "price", data["price"])
    if data.get("category_id") is not None:
        if get_category(data["category_id"]) is None:
            problems.add("category_id", "No such category.")
        cleaned["category_id"] = data["category_id"]
    elif "category_id" in data:
        cleaned["category_id"] = None
    for flag in ("tax_inclusive", "is_active"):
        if flag in data:
            if not isinstance(data[flag], bool):
                problems.add(flag, "Must be true or false.")
            cleaned[flag] = data[flag]
    if "personalization" in data:
        try:
            cleaned["personalization"] = personalization.clean_definitions(
                data["personalization"])
        except ValidationFailed as error:
            for name, message in error.fields.items():
                problems.add(name, message)
    return cleaned


def create_product(actor_id: int | None, data: dict[str, Any], *,
                   standard_stock: Any = 0) -> Product:
    """A product with its variants (`variants`: [{sku, options, price, stock, weight_grams,
    active}]) and their stock. Without variants it gets one standard variant (SKU from the
    address, `standard_stock` units). Raises ValidationFailed naming every bad field,
    Conflict for a taken SKU or slug."""
    problems, cleaned, entries = _check_input(data, None, [])
    if not entries:
        standard_stock = clean_amount(problems, "stock", standard_stock, what="stock",
                                      maximum=MAX_STOCK)
    problems.check()
    slug = _clean_slug(problems, Product, data.get("slug"), exclude_id=None)
    problems.check()
    product = Product(slug=slug or _free_value(Product.slug, slugify(cleaned["name"])),
                      description=cleaned.get("description", ""),
                      personalization=cleaned.get("personalization", []),
                      **{k: v for k, v in cleaned.items()
                         if k not in ("description", "personalization")})
    db.session.add(product)
    db.session.flush()
    if not entries:
        entries = [{"sku": _free_value(Variant.sku, product.slug.upper()[:56]),
                    "options": {}, "stock": standard_stock}]
    _apply_entries(actor_id, product, entries, {})
    _changed(product)
    return product


def update_product(actor_id: int | None, product: Product, data: dict[str, Any]) -> Product:
    """Change the fields given; `variants` entries with an `id` change that variant, others
    are added. Raises ValidationFailed, Conflict, like create_product."""
    existing = variants_of(product.id)
    problems, cleaned, entries = _check_input(data, product, existing)
    problems.check()
    slug = _clean_slug(problems, Product, data.get("slug"), exclude_id=product.id)
    problems.check()
    for name, value in cleaned.items():
        setattr(product, name, value)
    if slug:
        product.slug = slug
    _apply_entries(actor_id, product, entries, {v.id: v for v in existing})
    _changed(product)
    return product


def _apply_entries(actor_id: int | None, product: Product, entries: list[dict],
                   by_id: dict[int, Variant]) -> list[Variant]:
    """Add or change the variants (one flush for all of them), then their stock: a new one's
    units arrive as a receipt, a changed one's `stock` is a count. A stock change refused by
    inventory names its variant (`variants.<n>.stock`)."""
    position = max((v.position for v in by_id.values()), default=-1) + 1
    staged = []
    for entry in entries:
        variant = by_id.get(entry.get("id"))
        if variant is None:
            variant = Variant(product_id=product.id, org_id=product.org_id, position=position)
            position += 1
            db.session.add(variant)
        for name in ("sku", "options", "price", "weight_grams", "is_active"):
            if name in entry:
                setattr(variant, name, entry[name])
        staged.append((variant, entry))
    db.session.flush()
    for index, (variant, entry) in enumerate(staged):
        try:
            if entry.get("id") is None:
                if entry.get("stock"):  # the receipt makes the stock row
                    adjust_stock(actor_id, variant, entry["stock"], MovementKind.RECEIPT,
                                 "Initial stock")
                else:
                    db.session.add(StockLevel(org_id=product.org_id, variant_id=variant.id))
            elif entry.get("stock") is not None:
                set_stock(actor_id, variant, entry["stock"], "Stock count")
        except ValidationFailed as error:
            raise ValidationFailed(error.message, {
                f"variants.{index}.{name}": message
                for name, message in error.fields.items()}) from error
    return [variant for variant, _ in staged]


def _check_input(data: dict[str, Any], product: Product | None,
                 existing: list[Variant]) -> tuple[Problems, dict[str, Any], list[dict]]:
    """The product's fields and its variant entries, cleaned; the problems found so far."""
    _reject_unknown(data, PRODUCT_FIELDS | {"variants"})
    problems = Problems()
    cleaned = _clean_product(problems, data, product)
    variants = data.get("variants")
    if variants is not None and not isinstance(variants, list):
        problems.add("variants", "Must be a list of variants.")
        variants = None
    return problems, cleaned, clean_variant_entries(problems, variants or [], existing=existing)


def _changed(product: Product) -> None:
    db.session.flush()
    db.session.expire(product, ["price_from"])  # the database computed it again
    forget_facets(product.org_id)


def _reject_unknown(data: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValidationFailed(f"Unknown field{'s' if len(unknown) > 1 else ''}: "
                               f"{', '.join(unknown)}.", dict.fromkeys(unknown, "Unknown field."))


# Variants --------------------------------------------------------------------------------------

def variants_of(product_ids: int | Iterable[int], *, active_only: bool = False) -> list[Variant]:
    ids = [product_ids] if isinstance(product_ids, int) else list(product_ids)
    if not ids:
        return []
    statement = select(Variant).where(Variant.product_id.in_(ids))
    if active_only:
        statement = statement.where(Variant.is_active)
    return list(db.session.scalars(statement.order_by(Variant.product_id, Variant.position,
                                                      Variant.id)))


def get_variant(variant_id: Any) -> Variant | None:
    if not is_int(variant_id) or not 0 < variant_id < 2**63:
        return None
    return db.session.get(Variant, variant_id)


def price_of(variant: Variant) -> int:
    """What one unit of the variant costs now: its own price, else its product's."""
    if variant.price is not None:
        return variant.price
    return db.session.get(Product, variant.product_id).price


def stock_levels(variant_ids: Iterable[int]) -> dict[int, StockLevel]:
    ids = list(variant_ids)
    if not ids:
        return {}
    return {s.variant_id: s for s in db.session.scalars(
        select(StockLevel).where(StockLevel.variant_id.in_(ids)))}


def save_variant(actor_id: int | None, product: Product, variant: Variant | None,
                 data: dict[str, Any]) -> Variant:
    """Add a variant to `product` (variant None) or change one of its variants. `stock` sets
    the units on hand (the change is a stock movement). Raises ValidationFailed, Conflict;
    field names without the `variants.<n>.` prefix."""
    _reject_unknown(data, VARIANT_FIELDS - {"id"})
    problems = Problems()
    existing = variants_of(product.id)
    entry = {**data, "id": variant.id} if variant is not None else dict(data)
    cleaned = clean_variant_entries(problems, [entry], existing=existing)
    if problems.fields:
        raise ValidationFailed("Some fields are invalid.", {
            name.removeprefix("variants.0."): message
            for name, message in problems.fields.items()})
    try:
        [variant] = _apply_entries(actor_id, product, cleaned, {v.id: v for v in existing})
    except ValidationFailed as error:
        raise ValidationFailed(error.message, {
            name.removeprefix("variants.0."): message
            for name, message in error.fields.items()}) from error
    _changed(product)
    return variant
