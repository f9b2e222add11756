"""Small helpers shared by desk views."""

from __future__ import annotations

from collections.abc import Callable

from flask import abort, flash

from helpdesk.core.exceptions import ServiceError
from helpdesk.extensions import db


def get_or_404(model, object_id: int):
    """The current org's row by id; another org's id is simply not found (tenant-scoped)."""
    obj = db.session.get(model, object_id)
    if obj is None:
        abort(404)
    return obj


def run_and_flash(action: Callable[[], object], success: str) -> bool:
    """Run a button's service call and flash the outcome. A refused role is a 403 page;
    other refusals are flashed (and roll back). Returns whether it succeeded."""
    try:
        action()
    except ServiceError as error:
        db.session.rollback()
        if error.status == 403:
            abort(403, description=error.message)
        flash(error.message, "error")
        return False
    flash(success, "success")
    return True
