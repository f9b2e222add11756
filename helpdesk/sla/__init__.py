"""SLA: business calendars, policies, the clock on each ticket, and the breach scan."""

from flask import Flask

from helpdesk.core.web import org_blueprint

bp = org_blueprint("sla", __name__, "desk")


def init_app(app: Flask) -> None:
    from helpdesk.sla import views  # noqa: F401

    app.register_blueprint(bp)
