"""Absolute links for mail, built the same way in requests, jobs and the CLI."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app


def public_url(endpoint: str, **values) -> str:
    """PUBLIC_URL + the path of `endpoint` (pass org_slug explicitly for tenant URLs)."""
    base = urlsplit(current_app.config["PUBLIC_URL"])
    adapter = current_app.url_map.bind(base.netloc or "localhost",
                                       script_name=base.path or "/",
                                       url_scheme=base.scheme or "http")
    return adapter.build(endpoint, values, force_external=True)


def app_path(endpoint: str, **values) -> str:
    """The path of `endpoint` (no host), usable outside a request: links stored in HTML."""
    base = urlsplit(current_app.config["PUBLIC_URL"])
    adapter = current_app.url_map.bind("localhost", script_name=base.path or "/")
    return adapter.build(endpoint, values)
