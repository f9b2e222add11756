"""Personalization: the fields a product asks the buyer to fill in (a gift message, a photo to
print, a colour to pick), and the check of what a buyer sent for them.

A definition is {"key", "label", "type": "text" | "image" | "choice", "required",
"max_length" (text: 1-500), "choices" (choice: 1-50 distinct texts)}. The cart and checkout
take values by key (the checkout checks them: storefront.order_input); the shop's form names
its inputs p_<key>.
"""

from __future__ import annotations

import re
from typing import Any

from helpdesk.core.exceptions import ValidationFailed

TYPES = ("text", "image", "choice")
MAX_FIELDS = 10
MAX_TEXT_LENGTH = 500
DEFAULT_TEXT_LENGTH = 100
MAX_CHOICES = 50
MAX_CHOICE_LENGTH = 100
MAX_LABEL_LENGTH = 100
KEY = re.compile(r"[a-z][a-z0-9_]{0,39}")
ATTRIBUTES = {"key", "label", "type", "required", "max_length", "choices"}
INPUT_PREFIX = "p_"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _clean_text(value: Any, limit: int) -> tuple[str | None, str | None]:
    """(text, None) or (None, problem)."""
    if not isinstance(value, str):
        return None, "Must be text."
    value = value.strip()
    if "\x00" in value:
        return None, "Must not contain NUL characters."
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return None, "Must be valid Unicode text."
    if len(value) > limit:
        return None, f"At most {limit} characters."
    return value, None


def clean_definitions(raw: Any, prefix: str = "personalization") -> list[dict[str, Any]]:
    """The definitions in their stored shape. Raises ValidationFailed naming each bad entry
    (`personalization.<n>.<attribute>`, n from 0)."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ValidationFailed("Personalization must be a list of fields.",
                               {prefix: "Must be a list of fields."})
    if len(raw) > MAX_FIELDS:
        raise ValidationFailed(f"At most {MAX_FIELDS} personalization fields.",
                               {prefix: f"At most {MAX_FIELDS} fields."})
    problems: dict[str, str] = {}
    cleaned: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(raw):
        name = f"{prefix}.{index}"
        if not isinstance(entry, dict):
            problems[name] = "Must be an object with key, label and type."
            continue
        unknown = sorted(str(k) for k in set(entry) - ATTRIBUTES)
        if unknown:
            problems[name] = f"Unknown attribute{'s' if len(unknown) > 1 else ''}: " \
                             f"{', '.join(unknown)}."
            continue
        field = _clean_definition(entry, name, problems)
        if field is None:
            continue
        if field["key"] in seen:
            problems[f"{name}.key"] = f"Same key as field {seen[field['key']] + 1}."
            continue
        seen[field["key"]] = index
        cleaned.append(field)
    if problems:
        raise ValidationFailed("Some personalization fields are invalid.", problems)
    return cleaned


def _clean_definition(entry: dict, name: str, problems: dict[str, str]) -> dict | None:
    before = len(problems)
    key = entry.get("key")
    if not isinstance(key, str) or not KEY.fullmatch(key.strip()):
        problems[f"{name}.key"] = ("Lower-case letters, digits and _, starting with a letter "
                                   "(at most 40), e.g. gift_message.")
    label, problem = _clean_text(entry.get("label", ""), MAX_LABEL_LENGTH)
    if problem or not label:
        problems[f"{name}.label"] = problem or "Give the field a label."
    kind = entry.get("type")
    if kind not in TYPES:
        problems[f"{name}.type"] = f"One of: {', '.join(TYPES)}."
    required = entry.get("required", False)
    if not isinstance(required, bool):
        problems[f"{name}.required"] = "Must be true or false."
    field: dict[str, Any] = {"key": str(key).strip(), "label": label, "type": kind,
                             "required": required}
    if kind == "text":
        length = entry.get("max_length", DEFAULT_TEXT_LENGTH)
        if not _is_int(length) or not 1 <= length <= MAX_TEXT_LENGTH:
            problems[f"{name}.max_length"] = f"A whole number from 1 to {MAX_TEXT_LENGTH}."
        field["max_length"] = length
    elif entry.get("max_length") is not None:
        problems[f"{name}.max_length"] = "Only text fields have a maximum length."
    if kind == "choice":
        field["choices"] = _clean_choices(entry.get("choices"), f"{name}.choices", problems)
    elif entry.get("choices"):
        problems[f"{name}.choices"] = "Only choice fields have choices."
    return field if len(problems) == before else None


def _clean_choices(raw: Any, name: str, problems: dict[str, str]) -> list[str]:
    if not isinstance(raw, list) or not raw:
        problems[name] = f"List 1 to {MAX_CHOICES} choices."
        return []
    if len(raw) > MAX_CHOICES:
        problems[name] = f"At most {MAX_CHOICES} choices."
        return []
    choices: list[str] = []
    for value in raw:
        text, problem = _clean_text(value, MAX_CHOICE_LENGTH)
        if problem or not text:
            problems[name] = problem or "A choice cannot be empty."
            return []
        if text in choices:
            problems[name] = f"“{text}” is listed twice."
            return []
        choices.append(text)
    return choices


def input_name(key: str) -> str:
    """The shop form's input name of a field: p_<key>."""
    return f"{INPUT_PREFIX}{key}"
