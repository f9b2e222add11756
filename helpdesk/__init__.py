"""The help desk application: `create_app` binds extensions and registers every domain."""

from __future__ import annotations

from typing import Any

from flask import Flask

from helpdesk.config import REPO_ROOT, load_config


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app from the environment, overridden by `config`. Opens no connection."""
    app = Flask(
        __name__,
        template_folder=str(REPO_ROOT / "templates"),
        static_folder=str(REPO_ROOT / "static"),
    )
    app.config.update(load_config())
    if config:
        app.config.update(config)
    if not app.config["SQLALCHEMY_DATABASE_URI"] or not app.config["REDIS_URL"]:
        raise RuntimeError(
            "DATABASE_URL and REDIS_URL must be set (./run starts embedded servers and sets them)"
        )

    import storefront
    from helpdesk import accounts, api, customers, desk, mail, orgs, reports, search, sla, tickets
    from helpdesk.core import cli, database, errors, health, security, web

    app.url_map.converters["id"] = web.IdConverter  # before any blueprint uses it
    database.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    accounts.init_app(app)
    web.init_app(app)
    app.register_blueprint(health.bp)
    orgs.init_app(app)
    desk.init_app(app)
    customers.init_app(app)
    tickets.init_app(app)
    mail.init_app(app)
    search.init_app(app)
    sla.init_app(app)
    reports.init_app(app)
    api.init_app(app)
    storefront.init_app(app)
    cli.init_app(app)
    return app
