"""What a checkout sends, checked: items, personalization, the shipping address, the keys.

Each function either returns clean values or records per-field messages in an `Errors` object,
so one request gets one 422 that names every bad field (`items.2.quantity`, `shipping.city`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from helpdesk.core.emails import clean_email
from helpdesk.core.exceptions import ValidationFailed

MAX_LINES = 50
MAX_LINE_QUANTITY = 999
MAX_ID = 2**63 - 1
TEXT_LIMIT = 200
KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,64}$")  # printable ASCII, no spaces
IMAGE_KEY = re.compile(r"^(\d{1,18})/[0-9a-f]{32}$")
ADDRESS_FIELDS = {"name": 200, "line1": 200, "line2": 200, "postal_code": 20, "city": 100,
                  "country": 60, "phone": 50}
ADDRESS_REQUIRED = ("name", "line1", "postal_code", "city", "country")


class Errors:
    def __init__(self) -> None:
        self.fields: dict[str, str] = {}
        self.summaries: list[str] = []

    def add(self, name: str, message: str, summary: str = "") -> None:
        """A field's message; `summary` says it in a sentence of its own (else "name: message")."""
        if name not in self.fields:
            self.fields[name] = message
            self.summaries.append(summary or f"{name}: {message}")

    def say(self, name: str, message: str) -> None:
        """A field's message that reads well on its own (it names the product or field)."""
        self.add(name, message, message)

    def raise_if_any(self) -> None:
        if self.fields:
            text = self.summaries[0] if len(self.fields) == 1 else \
                f"Some fields are invalid: {', '.join(self.fields)}."
            raise ValidationFailed(text, dict(self.fields))


@dataclass(frozen=True)
class ItemRequest:
    index: int
    variant_id: int
    quantity: int
    personalization: dict[str, Any]


def plain_text(value: Any, limit: int = TEXT_LIMIT) -> str | None:
    """Trimmed single-line text, or None when it is not acceptable text."""
    if not isinstance(value, str):
        return None
    text = " ".join(value.split())
    if len(text) > limit or any(not ch.isprintable() for ch in text):
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates from JSON escapes
        return None
    return text


def whole_number(value: Any, low: int, high: int) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        return None
    return value


def email(value: Any, errors: Errors, name: str = "email") -> str:
    text = plain_text(value, 254) if value not in (None, "") else None
    if not text:
        errors.say(name, "Enter an email address." if value in (None, "") else
                   "Enter a valid email address.")
        return ""
    try:
        return clean_email(text)
    except ValueError as error:
        errors.say(name, f"Enter a valid email address ({error}).")
        return ""


def items(value: Any, errors: Errors) -> list[ItemRequest]:
    if not isinstance(value, list) or not value:
        errors.say("items", "Add at least one item.")
        return []
    if len(value) > MAX_LINES:
        errors.add("items", f"At most {MAX_LINES} lines per order.")
        return []
    found = []
    for index, raw in enumerate(value):
        prefix = f"items.{index}"
        if not isinstance(raw, dict):
            errors.add(prefix, "Each item is an object with variant_id and quantity.")
            continue
        variant_id = whole_number(raw.get("variant_id"), 1, MAX_ID)
        if variant_id is None:
            errors.add(f"{prefix}.variant_id", "A product variant id (a positive integer).")
        quantity = raw.get("quantity", 1)
        if whole_number(quantity, 1, MAX_LINE_QUANTITY) is None:
            errors.add(f"{prefix}.quantity",
                       "At least 1." if isinstance(quantity, int) and not isinstance(
                           quantity, bool) and quantity < 1 else
                       f"A whole number from 1 to {MAX_LINE_QUANTITY}.")
            quantity = None
        personalization = raw.get("personalization") or {}
        if not isinstance(personalization, dict):
            errors.add(f"{prefix}.personalization", "An object of field: value.")
            personalization = {}
        if variant_id is not None and quantity is not None:
            found.append(ItemRequest(index, variant_id, quantity, personalization))
    return found


def personalization(definitions: list[dict[str, Any]], values: dict[str, Any], org_id: int,
                    errors: Errors, prefix: str) -> dict[str, Any]:
    """Values checked against the product's fields (type, required, length, choices)."""
    known = {d["key"]: d for d in definitions or [] if isinstance(d, dict) and d.get("key")}
    for key in values:
        if key not in known:
            errors.add(f"{prefix}.{str(key)[:40]}", "This product has no such personalization.")
    clean: dict[str, Any] = {}
    for key, spec in known.items():
        name, label = f"{prefix}.{key}", spec.get("label") or key
        value = values.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if spec.get("required"):
                errors.say(name, f"{label} is required.")
            continue
        kind = spec.get("type", "text")
        if kind == "choice":
            if value not in (spec.get("choices") or []):
                errors.say(name, f"{label}: choose one of {', '.join(spec.get('choices') or [])}.")
                continue
        elif kind == "image":
            match = IMAGE_KEY.match(value) if isinstance(value, str) else None
            if match is None or int(match.group(1)) != org_id:
                errors.say(name, f"{label}: upload an image.")
                continue
        else:
            limit = int(spec.get("max_length") or TEXT_LIMIT)
            text = plain_text(value, 10_000)
            if text is None:
                errors.say(name, f"{label}: plain text on one line.")
                continue
            if len(text) > limit:
                errors.say(name, f"{label}: at most {limit} characters.")
                continue
            value = text
        clean[key] = value
    return clean


def address(value: Any, errors: Errors, *, required: bool) -> dict[str, str]:
    """The shipping address; {} when none is given and none is needed."""
    if value in (None, {}):
        if required:
            for key in ADDRESS_REQUIRED:
                errors.add(f"shipping.{key}", "Required for delivery.")
        return {}
    if not isinstance(value, dict):
        errors.add("shipping", "An object with name, line1, postal_code, city, country.")
        return {}
    clean: dict[str, str] = {}
    for key in value:
        if key not in ADDRESS_FIELDS and key != "option":
            errors.add(f"shipping.{str(key)[:40]}", "Unknown address field.")
    for key, limit in ADDRESS_FIELDS.items():
        raw = value.get(key)
        text = plain_text(raw, limit) if raw not in (None, "") else ""
        if text is None:
            errors.add(f"shipping.{key}", f"Text of at most {limit} characters.")
        elif not text and key in ADDRESS_REQUIRED:
            errors.add(f"shipping.{key}", "Required for delivery.")
        elif text:
            clean[key] = text
    return clean


def idempotency_key(value: Any, errors: Errors) -> str:
    if not isinstance(value, str) or not KEY_PATTERN.match(value):
        errors.add("idempotency_key", "1 to 64 printable characters without spaces.")
        return ""
    return value


def coupon(value: Any, errors: Errors) -> None:
    """Coupons are not offered yet: any code given is refused, clearly."""
    if value not in (None, ""):
        shown = plain_text(value, 64) or "that code"
        errors.say("coupon", f"Unknown coupon “{shown}”.")
