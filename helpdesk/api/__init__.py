"""REST API v1: JSON, bearer tokens, the org comes from the token."""

from flask import Blueprint, Flask

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def init_app(app: Flask) -> None:
    from helpdesk.api import views  # noqa: F401
    from helpdesk.extensions import csrf

    csrf.exempt(bp)  # bearer tokens, not cookies: CSRF does not apply
    app.register_blueprint(bp)
