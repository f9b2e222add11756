"""The agent desk. This issue: the home page; the ticket core fills it."""

from flask import Flask

from helpdesk.core.web import org_blueprint

bp = org_blueprint("desk", __name__, "desk")


def init_app(app: Flask) -> None:
    from helpdesk.desk import views  # noqa: F401

    app.register_blueprint(bp)
