"""Bearer-token guard for API views."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import g, request

from helpdesk.api import services
from helpdesk.core.errors import ApiError


def token_required(view: Callable) -> Callable:
    """401 without a valid `Authorization: Bearer <token>`; sets g.org, g.membership."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        header = request.headers.get("Authorization", "")
        scheme, _, raw = header.partition(" ")
        if scheme.lower() != "bearer" or not raw.strip():
            raise ApiError(401, "Send an API token: Authorization: Bearer <token>.")
        found = services.authenticate(raw.strip())
        if found is None:
            raise ApiError(401, "The API token is invalid or revoked.")
        g.api_token, g.membership, g.org = found
        return view(*args, **kwargs)

    wrapper.requires_token = True  # the OpenAPI document marks these operations as secured
    return wrapper
