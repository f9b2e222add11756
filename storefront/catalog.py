"""Catalog services: categories, products, variants and their stock levels.

Money is in minor units (storefront.money). Every variant gets its StockLevel when it is made;
stock then changes only through storefront.inventory (adjust), which writes a StockMovement.
Services validate, write and flush; the request or job commits. They raise ValidationFailed
(422, with per-field messages named as the API's fields: `price`, `variants.1.sku`...),
Conflict (409: a SKU or slug another row has) or NotFound.

The listing (filters, sort, search) is in storefront.catalog_listing, pictures in
storefront.product_images, the CSV import and export in storefront.catalog_csv.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from helpdesk.core.exceptions import Conflict, ValidationFailed
from helpdesk.extensions import db
from storefront import personalization
from storefront.catalog_listing import forget_facets
from storefront.models import Category, MovementKind, Product, StockLevel, Variant
from storefront.stock import MAX_STOCK, adjust_stock, set_stock

MAX_NAME = 200
MAX_DESCRIPTION = 20_000
MAX_PRICE = 10**10  # minor units: 100,000,000.00
MAX_WEIGHT = 1_000_000  # grams
MAX_VARIANTS = 100
MAX_OPTIONS = 10
MAX_OPTION_NAME = 40
MAX_OPTION_VALUE = 100
SKU = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,63}")
SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
VARIANT_FIELDS = {"id", "sku", "options", "price", "stock", "weight_grams", "active"}
PRODUCT_FIELDS = {"name", "description", "price", "slug", "category_id", "tax_inclusive",
                  "is_active", "personalization"}


class Problems:
    """Per-field messages collected while checking, raised together as one ValidationFailed."""

    def __init__(self):
        self.fields: dict[str, str] = {}

    def add(self, name: str, message: str) -> None:
        self.fields.setdefault(name, message)

    def check(self, message: str = "Some fields are invalid.") -> None:
        if self.fields:
            raise ValidationFailed(message, dict(self.fields))


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def clean_text(problems: Problems, name: str, value: Any, *, required: bool = False,
               max_length: int = MAX_NAME, label: str = "This field") -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            problems.add(name, f"{label} is required.")
        return ""
    if not isinstance(value, str):
        problems.add(name, "Must be text.")
        return ""
    value = value.strip()
    if "\x00" in value:
        problems.add(name, "Must not contain NUL characters.")
        return ""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        problems.add(name, "Must be valid Unicode text.")
        return ""
    if len(value) > max_length:
        problems.add(name, f"At most {max_length} characters (this has {len(value)}).")
        return ""
    return value


def clean_amount(problems: Problems, name: str, value: Any, *, what: str = "price",
                 maximum: int = MAX_PRICE) -> int | None:
    """A whole non-negative number (minor units for prices), else a message on `name`."""
    if not is_int(value):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            unit = " of minor units (cents): 1250 for 12.50" if what == "price" else ""
            problems.add(name, f"The {what} must be a whole number{unit}.")
            return None
    if value < 0:
        problems.add(name, f"The {what} cannot be negative.")
        return None
    if value > maximum:
        problems.add(name, f"The {what} can be at most {maximum}.")
        return None
    return value


def clean_options(problems: Problems, name: str, value: Any) -> dict[str, str]:
    """Options are a flat map of text to text: {"size": "M", "colour": "Red"}."""
    if value is None:
        return {}
    example = 'Must be an object of text values, e.g. {"size": "M", "colour": "Red"}.'
    if not isinstance(value, dict):
        problems.add(name, example)
        return {}
    if len(value) > MAX_OPTIONS:
        problems.add(name, f"At most {MAX_OPTIONS} options.")
        return {}
    options: dict[str, str] = {}
    for key, text in value.items():
        if not isinstance(key, str) or not isinstance(text, str):
            problems.add(name, example)
            return {}
        key, text = key.strip(), text.strip()
        if not key or not text:
            problems.add(name, "Option names and values cannot be empty.")
            return {}
        if len(key) > MAX_OPTION_NAME or len(text) > MAX_OPTION_VALUE:
            problems.add(name, f"Option names have at most {MAX_OPTION_NAME} characters, "
                               f"values at most {MAX_OPTION_VALUE}.")
            return {}
        if "\x00" in key + text or any(0xD800 <= ord(c) <= 0xDFFF for c in key + text):
            problems.add(name, "Options must be valid text.")
            return {}
        if key.lower() in (k.lower() for k in options):
            problems.add(name, f"The option “{key}” is given twice.")
            return {}
        options[key] = text
    return options


def options_label(options: dict[str, str]) -> str:
    return " / ".join(options.values()) if options else "Standard"


def slugify(text: str, fallback: str = "product") -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:80].strip("-")
    return slug or fallback


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
                   by_id: dict[int, Variant]) -> None:
    """Add or change the variants; a stock change refused by inventory names its variant."""
    for index, entry in enumerate(entries):
        try:
            if entry.get("id"):
                _change_variant(actor_id, by_id[entry["id"]], entry)
            else:
                _add_variant(actor_id, product, entry)
        except ValidationFailed as error:
            raise ValidationFailed(error.message, {
                f"variants.{index}.{name}": message
                for name, message in error.fields.items()}) from error


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
    return problems, cleaned, _clean_variant_entries(problems, variants or [], existing=existing)


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
    cleaned = _clean_variant_entries(problems, [entry], existing=existing)
    if problems.fields:
        raise ValidationFailed("Some fields are invalid.", {
            name.removeprefix("variants.0."): message
            for name, message in problems.fields.items()})
    if variant is None:
        variant = _add_variant(actor_id, product, cleaned[0])
    else:
        _change_variant(actor_id, variant, cleaned[0])
    _changed(product)
    return variant


def _clean_variant_entries(problems: Problems, raw: list, *, existing: list[Variant]) -> list:
    added = sum(1 for e in raw if not (isinstance(e, dict) and e.get("id")))
    if added + len(existing) > MAX_VARIANTS:
        problems.add("variants", f"A product has at most {MAX_VARIANTS} variants.")
        return []
    by_id = {v.id: v for v in existing}
    entries: list[dict[str, Any]] = []
    # What the product will hold, to find duplicate SKUs and option sets among its variants.
    skus = {v.sku: f"variant {v.sku}" for v in existing}
    option_sets = {_options_key(v.options): v.sku for v in existing}
    for index, entry in enumerate(raw):
        name = f"variants.{index}"
        if not isinstance(entry, dict):
            problems.add(name, "Must be an object with sku, options, price and stock.")
            continue
        unknown = sorted(str(k) for k in set(entry) - VARIANT_FIELDS)
        if unknown:
            problems.add(name, f"Unknown field{'s' if len(unknown) > 1 else ''}: "
                               f"{', '.join(unknown)}.")
            continue
        current = None
        if entry.get("id") is not None:
            current = by_id.get(entry["id"]) if is_int(entry["id"]) else None
            if current is None:
                problems.add(f"{name}.id", "This product has no variant with that id.")
                continue
            skus.pop(current.sku, None)
            option_sets.pop(_options_key(current.options), None)
        cleaned = _clean_variant(problems, name, entry, current)
        if cleaned is None:
            continue
        sku = cleaned.get("sku", current.sku if current else None)
        if sku in skus:
            problems.add(f"{name}.sku", f"Two variants cannot share the SKU {sku}.")
            continue
        options = cleaned.get("options", current.options if current else {})
        if _options_key(options) in option_sets:
            problems.add(f"{name}.options",
                         f"Same options as variant {option_sets[_options_key(options)]}.")
            continue
        skus[sku] = name
        option_sets[_options_key(options)] = sku
        entries.append(cleaned)
    if not problems.fields:
        _check_skus_free(problems, entries, raw, existing)
    return entries


def _clean_variant(problems: Problems, name: str, entry: dict, current: Variant | None):
    before = len(problems.fields)
    cleaned: dict[str, Any] = {"id": current.id} if current else {}
    if "sku" in entry or current is None:
        sku = clean_text(problems, f"{name}.sku", entry.get("sku"), required=True,
                         max_length=64, label="A SKU")
        if sku and not SKU.fullmatch(sku):
            problems.add(f"{name}.sku", "Letters, digits and . _ / - (no spaces), at most 64.")
        cleaned["sku"] = sku
    if "options" in entry or current is None:
        cleaned["options"] = clean_options(problems, f"{name}.options", entry.get("options"))
    if "price" in entry:
        cleaned["price"] = (None if entry["price"] is None
                            else clean_amount(problems, f"{name}.price", entry["price"]))
    if "weight_grams" in entry:
        cleaned["weight_grams"] = (None if entry["weight_grams"] is None else clean_amount(
            problems, f"{name}.weight_grams", entry["weight_grams"], what="weight",
            maximum=MAX_WEIGHT))
    if entry.get("stock") is not None:
        cleaned["stock"] = clean_amount(problems, f"{name}.stock", entry["stock"],
                                        what="stock", maximum=MAX_STOCK)
    elif "stock" in entry and current is None:
        cleaned["stock"] = 0
    if "active" in entry:
        if not isinstance(entry["active"], bool):
            problems.add(f"{name}.active", "Must be true or false.")
        cleaned["is_active"] = entry["active"]
    return cleaned if len(problems.fields) == before else None


def _options_key(options: dict[str, str]) -> tuple:
    return tuple(sorted((k.lower(), v.lower()) for k, v in (options or {}).items()))


def _check_skus_free(problems: Problems, entries: list, raw: list, existing: list) -> None:
    """A SKU another product of this org has is a conflict (409) naming the field."""
    mine = {v.id for v in existing}
    wanted = {e["sku"]: i for i, e in enumerate(entries) if e.get("sku")}
    if not wanted:
        return
    taken = db.session.execute(select(Variant.sku, Variant.id).where(
        Variant.sku.in_(list(wanted)))).all()
    clashes = {}
    for sku, variant_id in taken:
        if variant_id in mine:
            continue  # its own SKU, or one a sibling gives up in the same request
        clashes[f"variants.{_raw_index(raw, sku)}.sku"] = f"The SKU {sku} is already used by " \
                                                          "another product."
    if clashes:
        raise Conflict("A SKU is already used by another product.", clashes)


def _raw_index(raw: list, sku: str) -> int:
    for index, entry in enumerate(raw):
        if isinstance(entry, dict) and isinstance(entry.get("sku"), str) \
                and entry["sku"].strip() == sku:
            return index
    return 0


def _add_variant(actor_id: int | None, product: Product, entry: dict[str, Any]) -> Variant:
    position = len(variants_of(product.id))
    variant = Variant(product_id=product.id, org_id=product.org_id, sku=entry["sku"],
                      options=entry.get("options") or {}, price=entry.get("price"),
                      weight_grams=entry.get("weight_grams"),
                      is_active=entry.get("is_active", True), position=position)
    db.session.add(variant)
    db.session.flush()
    db.session.add(StockLevel(org_id=product.org_id, variant_id=variant.id, on_hand=0))
    db.session.flush()
    if entry.get("stock"):
        adjust_stock(actor_id, variant, entry["stock"], MovementKind.RECEIPT, "Initial stock")
    return variant


def _change_variant(actor_id: int | None, variant: Variant, entry: dict[str, Any]) -> None:
    for name in ("sku", "options", "price", "weight_grams", "is_active"):
        if name in entry:
            setattr(variant, name, entry[name])
    db.session.flush()
    if entry.get("stock") is not None:
        set_stock(actor_id, variant, entry["stock"], "Stock count")
