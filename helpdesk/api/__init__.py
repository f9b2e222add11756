"""REST API v1: JSON, bearer tokens, the org comes from the token."""

from flask import Blueprint, Flask

from helpdesk.core.errors import error_response
from helpdesk.core.exceptions import ServiceError

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.errorhandler(ServiceError)
def _service_error(error: ServiceError):
    # Services refuse with a status (422 invalid, 409 conflict or impossible transition, 403).
    return error_response(error.status, error.message, error.fields)


def init_app(app: Flask) -> None:
    from helpdesk.api import (  # noqa: F401
        customers,
        messages,
        openapi,
        reports,
        search,
        store_orders,
        store_products,
        tickets,
        views,
    )
    from helpdesk.extensions import csrf

    csrf.exempt(bp)  # bearer tokens, not cookies: CSRF does not apply
    app.register_blueprint(bp)
