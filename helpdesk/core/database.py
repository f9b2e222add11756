"""Binds the database, migrations, Redis and Socket.IO to the app and installs tenancy."""

from __future__ import annotations

import re

import socketio as socketio_module
from flask import Flask

from helpdesk.core import jobs, tenancy
from helpdesk.extensions import db, migrate, redis_store, socketio


def init_app(app: Flask) -> None:
    role = app.config["DATABASE_APP_ROLE"]
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", role):
        raise ValueError(f"DATABASE_APP_ROLE must be a plain identifier, not {role!r}")
    _import_models()
    db.init_app(app)
    migrate.init_app(app, db, directory=str(app.config.get("MIGRATIONS_DIR", _migrations_dir())))
    redis_store.init_app(app)
    _init_socketio(app)
    tenancy.install(db.session.session_factory.class_)
    jobs.install(db.session.session_factory.class_)
    with app.app_context():
        tenancy.install_engine_role(db.engine, role)


def _init_socketio(app: Flask) -> None:
    # Fan-out between web processes goes through Redis. The manager is built here because
    # Flask-SocketIO only recognises redis:// URLs, and embedded Redis is a unix:// socket.
    options = {"async_mode": "threading"}
    queue_url = app.config["SOCKETIO_MESSAGE_QUEUE"]
    if queue_url:
        options["client_manager"] = socketio_module.RedisManager(
            queue_url, channel="flask-socketio"
        )
    socketio.init_app(app, **options)


def _migrations_dir() -> str:
    from helpdesk.config import REPO_ROOT

    return str(REPO_ROOT / "migrations")


def _import_models() -> None:
    """Import every model module so the metadata (and autogenerate) sees all tables."""
    import helpdesk.accounts.models  # noqa: F401
    import helpdesk.api.models  # noqa: F401
    import helpdesk.customers.models  # noqa: F401
    import helpdesk.mail.models  # noqa: F401
    import helpdesk.orgs.models  # noqa: F401
    import helpdesk.search.models  # noqa: F401
    import helpdesk.tickets.models  # noqa: F401
    import storefront.models  # noqa: F401
