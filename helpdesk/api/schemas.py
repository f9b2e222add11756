"""Request parsing for the API: JSON objects in, per-field messages out."""

from __future__ import annotations

from typing import Any

from flask import request
from marshmallow import Schema, ValidationError, fields, validate
from werkzeug.exceptions import BadRequest

from helpdesk.core.emails import clean_email
from helpdesk.core.errors import ApiError


def json_body() -> dict[str, Any]:
    """The request's JSON object, or a 400 that says what is wrong with it."""
    if not request.is_json:
        raise ApiError(400, "Send a JSON object with Content-Type: application/json.")
    try:
        data = request.get_json()
    except (BadRequest, RecursionError) as error:
        raise ApiError(400, "The body is not valid JSON.") from error
    if not isinstance(data, dict):
        raise ApiError(400, "The body is valid JSON but not an object ({...}).")
    return data


class Fields:
    """Collects per-field errors while reading values, then raises one 422 for all of them."""

    def __init__(self, data: dict[str, Any]):
        self.data = data
        self.errors: dict[str, str] = {}

    def text(self, name: str, *, required: bool = False, max_length: int = 200) -> str:
        value = self.data.get(name)
        if value is None or value == "":
            if required:
                self.errors[name] = "This field is required."
            return ""
        if not isinstance(value, str):
            self.errors[name] = "Must be a string."
            return ""
        value = value.strip()
        if "\x00" in value:
            self.errors[name] = "Must not contain NUL characters."
            return ""
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates such as "\ud800" from JSON escapes
            self.errors[name] = "Must be valid Unicode text."
            return ""
        if len(value) > max_length:
            self.errors[name] = f"At most {max_length} characters."
            return ""
        return value

    def email(self, name: str, *, required: bool = False) -> str:
        value = self.text(name, required=required, max_length=254)
        if not value:
            return ""
        try:
            return clean_email(value)
        except ValueError as error:
            self.errors[name] = str(error)
            return ""

    def done(self) -> None:
        if self.errors:
            raise ApiError(422, "Some fields are invalid.", self.errors)


# Marshmallow: the same schemas validate requests, shape responses and feed the OpenAPI document.

MAX_ID = 2**63 - 1  # ids are BIGINT; a larger number would be a database error, not a 422


class Text(fields.String):
    """A string without NUL characters or lone surrogates, trimmed unless strip=False."""

    def __init__(self, *, max_length: int = 200, strip: bool = True, **kwargs: Any):
        validators = [validate.Length(max=max_length)]
        if kwargs.get("required"):
            validators.append(validate.Length(min=1, error="This field is required."))
        super().__init__(validate=validators, **kwargs)
        self.strip = strip

    def _deserialize(self, value: Any, attr, data, **kwargs) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if "\x00" in text:
            raise ValidationError("Must not contain NUL characters.")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as error:  # lone surrogates such as "\ud800" from JSON escapes
            raise ValidationError("Must be valid Unicode text.") from error
        return text.strip() if self.strip else text


class Email(Text):
    def __init__(self, **kwargs: Any):
        super().__init__(max_length=254, metadata={"format": "email"}, **kwargs)

    def _deserialize(self, value: Any, attr, data, **kwargs) -> str:
        try:
            return clean_email(super()._deserialize(value, attr, data, **kwargs))
        except ValueError as error:
            raise ValidationError(str(error)) from error


class Id(fields.Integer):
    """A database id in JSON: a positive integer (not a string, not a boolean)."""

    def __init__(self, **kwargs: Any):
        super().__init__(strict=True, validate=validate.Range(min=1, max=MAX_ID), **kwargs)


def _flatten(messages: Any, prefix: str = "") -> dict[str, str]:
    if not isinstance(messages, dict):
        text = " ".join(str(m) for m in messages) if isinstance(messages, list) else str(messages)
        return {prefix or "_schema": text}
    flat: dict[str, str] = {}
    for key, value in messages.items():
        name = prefix if key == "_schema" else f"{prefix}.{key}" if prefix else str(key)
        flat.update(_flatten(value, name))
    return flat


def load(schema: Schema, data: Any) -> dict[str, Any]:
    """`data` checked by `schema`, or one 422 naming every bad (or unknown) field."""
    try:
        return schema.load(data)
    except ValidationError as error:
        fields_ = _flatten(error.messages)
        unknown = sorted(k for k, v in fields_.items() if v == "Unknown field.")
        message = (f"Unknown field{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}."
                   if unknown else "Some fields are invalid.")
        raise ApiError(422, message, fields_) from error
