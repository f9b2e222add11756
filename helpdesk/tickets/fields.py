"""Custom field values: checked strictly against the org's definitions (no silent coercion)."""

from __future__ import annotations

import math
import re
from datetime import date
from typing import Any

from sqlalchemy import select

from helpdesk.core.exceptions import ValidationFailed
from helpdesk.extensions import db
from helpdesk.tickets.models import CustomField, CustomFieldType


def clean_custom_fields(values: dict[str, Any], org_id: int) -> dict[str, Any]:
    """Check values against the org's field definitions; unknown keys are errors.

    Raises ValidationFailed naming each bad field (`custom_fields.<key>`)."""
    if not isinstance(values, dict):
        raise ValidationFailed("Invalid fields.", {"custom_fields": "must be an object"})
    definitions = {f.key: f for f in db.session.scalars(
        select(CustomField).where(CustomField.org_id == org_id))}
    errors, cleaned = {}, {}
    for key, value in values.items():
        field = definitions.get(key)
        if field is None:
            errors[f"custom_fields.{key}"] = "unknown field"
            continue
        if value is None or value == "":
            cleaned[key] = None
            continue
        error = _field_error(field, value)
        if error:
            errors[f"custom_fields.{key}"] = error
            continue
        cleaned[key] = _field_value(field, value)
    if errors:
        raise ValidationFailed("Invalid custom fields.", errors)
    return cleaned


NUMBER = re.compile(r"^-?[0-9]{1,15}(\.[0-9]{1,10})?$")
MAX_FIELD_TEXT = 1000


def _field_error(field: CustomField, value: Any) -> str | None:
    """Why `value` does not fit the field, or None. Strict: no silent coercion."""
    kind = field.field_type
    if kind is CustomFieldType.NUMBER:
        if isinstance(value, bool) or not (
                isinstance(value, int) and abs(value) < 10**15
                or isinstance(value, float) and math.isfinite(value)
                or isinstance(value, str) and NUMBER.match(value.strip())):
            return "must be a number"
    elif kind is CustomFieldType.CHECKBOX:
        if not isinstance(value, bool) and str(value).lower() not in CHECKBOX_WORDS:
            return "must be true or false"
    elif kind is CustomFieldType.DATE:
        try:
            date.fromisoformat(str(value))
        except ValueError:
            return "must be a date (YYYY-MM-DD)"
    elif kind is CustomFieldType.DROPDOWN:
        if value not in field.options:
            return f"must be one of: {', '.join(field.options)}"
    elif not isinstance(value, str):
        return "must be text"
    elif len(value) > MAX_FIELD_TEXT:
        return f"at most {MAX_FIELD_TEXT} characters"
    elif "\x00" in value or any(0xD800 <= ord(ch) <= 0xDFFF for ch in value):
        return "must be plain text (no NUL or invalid characters)"
    return None


CHECKBOX_WORDS = {"true": True, "on": True, "1": True, "yes": True,
                  "false": False, "off": False, "0": False, "no": False}


def _field_value(field: CustomField, value: Any) -> Any:
    kind = field.field_type
    if kind is CustomFieldType.NUMBER:
        if isinstance(value, str):
            value = float(value) if "." in value else int(value)
        return value
    if kind is CustomFieldType.CHECKBOX:
        return value if isinstance(value, bool) else CHECKBOX_WORDS[str(value).lower()]
    if kind is CustomFieldType.DATE:
        return date.fromisoformat(str(value)).isoformat()
    return value.strip() if isinstance(value, str) else value
