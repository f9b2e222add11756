"""Glue between service errors and WTForms."""

from __future__ import annotations

from flask import flash
from flask_wtf import FlaskForm

from helpdesk.core.exceptions import ServiceError


def show_service_error(form: FlaskForm, error: ServiceError) -> None:
    """Put a service's per-field messages on the form's fields, the rest in a flash message."""
    unplaced = []
    for field_name, message in error.fields.items():
        field = getattr(form, field_name, None)
        if field is not None:
            field.errors = [*field.errors, message]
        else:
            unplaced.append(message)
    if not error.fields or unplaced:
        flash(" ".join(unplaced) or error.message, "error")


def form_status(form: FlaskForm) -> int:
    """422 for a submitted form with errors, so scripts and tests can tell; 200 otherwise."""
    return 422 if form.is_submitted() and (form.errors or _has_field_errors(form)) else 200


def _has_field_errors(form: FlaskForm) -> bool:
    return any(field.errors for field in form)
