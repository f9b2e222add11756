"""Staff accounts: signup, login, logout, password reset."""

from flask import Blueprint, Flask

bp = Blueprint("accounts", __name__)


def init_app(app: Flask) -> None:
    from helpdesk.accounts import views  # noqa: F401

    app.register_blueprint(bp)
