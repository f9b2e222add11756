"""Customers: the tenant's end users (the portal and shop give them logins later)."""

from flask import Flask

from helpdesk.core.web import org_blueprint

bp = org_blueprint("customers", __name__, "desk/customers")


def init_app(app: Flask) -> None:
    from helpdesk.customers import views  # noqa: F401

    app.register_blueprint(bp)
