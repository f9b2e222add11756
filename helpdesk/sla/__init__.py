"""SLA: business calendars, policies, the clock on each ticket, and the breach scan."""

from flask import Flask

from helpdesk.core.web import org_blueprint

bp = org_blueprint("sla", __name__, "desk")


def init_app(app: Flask) -> None:
    from helpdesk.sla import cli, views  # noqa: F401

    app.register_blueprint(bp)
    app.cli.add_command(cli.sla_cli)
    from helpdesk.extensions import db
    from helpdesk.sla.clock import install

    install(db.session.session_factory.class_)
