"""Email address syntax checks shared by forms and the API.

Deliverability is not checked (no DNS at request time), and reserved test domains
(.test, .example) are allowed; .local and .localhost are not.
"""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email
from wtforms.validators import ValidationError


def clean_email(value: str) -> str:
    """The normalized, lower-cased address. Raises ValueError with a readable reason."""
    try:
        result = validate_email(
            (value or "").strip(),
            check_deliverability=False,
            globally_deliverable=False,
            test_environment=True,  # accept *.test, used by staging set-ups and our tests
        )
    except EmailNotValidError as error:
        raise ValueError(str(error)) from error
    return result.normalized.lower()


def clean_sender(value: str) -> str:
    """A mail's sender as a customer address, tolerant of what real mail carries: a trailing
    dot, a quoted local part, or an unquoted one with spaces (quoted here). Raises ValueError
    when it is still no address."""
    value = (value or "").strip().rstrip(".")
    local, at, domain = value.rpartition("@")
    if at and " " in local and not local.startswith('"'):
        value = f'"{local}"@{domain}'
    try:
        result = validate_email(value, check_deliverability=False, globally_deliverable=False,
                                test_environment=True, allow_quoted_local=True)
    except EmailNotValidError as error:
        raise ValueError(str(error)) from error
    return result.normalized.lower()


class EmailAddress:
    """WTForms validator using clean_email."""

    def __init__(self, message: str = "Enter a valid email address."):
        self.message = message

    def __call__(self, form, field) -> None:
        try:
            clean_email(field.data)
        except ValueError as error:
            raise ValidationError(f"{self.message} ({error})") from error
