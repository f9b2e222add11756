"""/healthz: is the database reachable, is Redis reachable."""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify
from sqlalchemy import text

from helpdesk.extensions import db, redis_store

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@bp.get("/healthz")
def healthz():
    checks = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as error:  # any failure means "not reachable" to a load balancer
        log.warning("healthz: database: %s", error)
        db.session.rollback()
        checks["database"] = f"unreachable: {type(error).__name__}"
    try:
        redis_store.client.ping()
        checks["redis"] = "ok"
    except Exception as error:
        log.warning("healthz: redis: %s", error)
        checks["redis"] = f"unreachable: {type(error).__name__}"
    healthy = all(value == "ok" for value in checks.values())
    return jsonify(status="ok" if healthy else "unavailable", checks=checks), (
        200 if healthy else 503
    )
