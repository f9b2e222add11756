"""Organizations: team settings, invitations, API tokens."""

from flask import Flask

from helpdesk.core.web import org_blueprint

bp = org_blueprint("orgs", __name__)
settings_bp = org_blueprint("settings", __name__, "desk/settings")


def init_app(app: Flask) -> None:
    # Other domains add pages to settings_bp (tickets.settings_views): their routes must exist
    # before it is registered, as Flask refuses routes added afterwards.
    from helpdesk.orgs import views  # noqa: F401
    from helpdesk.tickets import settings_views  # noqa: F401

    app.register_blueprint(bp)
    app.register_blueprint(settings_bp)
