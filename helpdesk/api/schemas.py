"""Request parsing for the API: JSON objects in, per-field messages out."""

from __future__ import annotations

from typing import Any

from flask import request
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
