"""Tickets: the desk's inbox and ticket pages (views), services, timeline, automation."""

from flask import Flask

from helpdesk.core.web import org_blueprint

bp = org_blueprint("tickets", __name__, "desk/tickets")


def init_app(app: Flask) -> None:
    from helpdesk.extensions import db
    from helpdesk.tickets import attachments, inbox_views, settings_views, views  # noqa: F401

    attachments.install(db.session.session_factory.class_)

    app.register_blueprint(bp)
