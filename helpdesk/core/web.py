"""Tenant URLs: `/<org_slug>/...` blueprints resolve the org once per request."""

from __future__ import annotations

from flask import Blueprint, Flask, abort, g, request
from flask_login import current_user
from sqlalchemy import select
from werkzeug.routing import BaseConverter

from helpdesk.core import tenancy
from helpdesk.core.models import utcnow
from helpdesk.extensions import db


def org_blueprint(name: str, import_name: str, section: str = "") -> Blueprint:
    """A blueprint under `/<org_slug>/<section>` whose views run with that org set.

    An unknown slug is a 404, before any view code runs.
    """
    prefix = f"/<org_slug>/{section}".rstrip("/")
    blueprint = Blueprint(name, import_name, url_prefix=prefix)

    @blueprint.url_value_preprocessor
    def _bind_org(endpoint, values) -> None:  # noqa: ARG001
        from helpdesk.orgs.models import Organization

        slug = (values or {}).pop("org_slug", None)
        if not slug or len(slug) > 63 or "\x00" in slug:  # cannot be a slug: skip the query
            abort(404)
        org = db.session.scalar(select(Organization).where(Organization.slug == slug))
        if org is None:
            abort(404)
        g.org = org
        tenancy.set_current_org(org.id)

    @blueprint.url_defaults
    def _add_org(endpoint, values) -> None:
        if "org_slug" not in values and g.get("org") is not None:
            values["org_slug"] = g.org.slug

    return blueprint


class IdConverter(BaseConverter):
    """`<id:name>`: a positive bigint. Longer digit strings do not match, so they are 404s."""

    regex = r"[1-9][0-9]{0,17}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(int(value))


def init_app(app: Flask) -> None:
    @app.before_request
    def _bind_user() -> None:
        # The database sees the signed-in staff user (RLS lets them read their own memberships).
        if request.endpoint != "static" and current_user.is_authenticated:
            tenancy.set_current_user(current_user.id)

    @app.after_request
    def _commit_or_roll_back(response):
        # The one commit point of a request: views and services only flush. An error response
        # (4xx/5xx) leaves nothing half-written behind.
        if response.status_code < 400:
            db.session.commit()
        else:
            db.session.rollback()
        return response

    @app.context_processor
    def _layout_context() -> dict:
        from helpdesk.core.auth import current_membership
        from helpdesk.orgs.services import orgs_of_user

        if g.get("backend_down"):
            return {"current_org": None, "my_orgs": [], "membership": None, "now": utcnow}
        orgs = orgs_of_user(current_user) if current_user.is_authenticated else []
        return {
            "current_org": g.get("org"),
            "my_orgs": orgs,
            "membership": current_membership(),
            "now": utcnow,
        }
