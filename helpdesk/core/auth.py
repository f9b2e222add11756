"""Guards for views: who may see a page. Authorization lives here, not in views."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import abort, g, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import select

from helpdesk.extensions import db
from helpdesk.orgs.models import Membership, Role


def current_membership() -> Membership | None:
    """The signed-in user's membership in the org of this URL (tenant-scoped query)."""
    if not current_user.is_authenticated or g.get("org") is None:
        return None
    if "membership" not in g:
        g.membership = db.session.scalar(
            select(Membership).where(Membership.user_id == current_user.id)
        )
    return g.membership


def staff_required(min_role: Role = Role.AGENT) -> Callable:
    """Signed-in member of this org with at least `min_role`.

    Anonymous users go to the login page; a non-member gets 404 (the org's pages do not exist
    for them); a member with too low a role gets 403.
    """

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))
            membership = current_membership()
            if membership is None:
                abort(404)
            if membership.role.rank < min_role.rank:
                abort(403, description=f"This page needs the {min_role.value} role or higher.")
            return view(*args, **kwargs)

        return wrapper

    return decorator
