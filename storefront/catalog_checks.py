"""The catalog's input checks, shared by its services, the API and the CSV import: text,
amounts, option maps and variant entries, with per-field messages collected in `Problems`
and raised together as one ValidationFailed (field names as the API's: `variants.1.sku`)."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from sqlalchemy import select

from helpdesk.core.exceptions import Conflict, ValidationFailed
from helpdesk.extensions import db
from storefront.models import Variant
from storefront.stock import MAX_STOCK

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


def clean_variant_entries(problems: Problems, raw: list, *, existing: list[Variant]) -> list:
    """The entries checked against each other and the product's `existing` variants (no two
    with one SKU or one set of options; an `id` must be one of them); a SKU another product
    has raises Conflict. Problems are added as `variants.<n>.<field>`."""
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
