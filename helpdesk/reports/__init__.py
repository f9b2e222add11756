"""The manager's reports: ticket volume, reply and resolution times, SLA achievement, agents and
(with the customer portal) satisfaction; on the desk with charts and CSV, and in the API."""

from flask import Flask

from helpdesk.core.web import org_blueprint
from helpdesk.reports import models  # noqa: F401 - the report fact tables

bp = org_blueprint("reports", __name__, "desk")


def init_app(app: Flask) -> None:
    from helpdesk.reports import views  # noqa: F401

    app.register_blueprint(bp)
