"""CSRF, the login manager and security headers."""

from __future__ import annotations

from flask import Flask, abort, request

from helpdesk.extensions import csrf, db, login_manager

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "img-src 'self' data:",
        "style-src 'self'",
        "script-src 'self'",
        "connect-src 'self' ws: wss:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def init_app(app: Flask) -> None:
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.session_protection = "strong"

    @login_manager.user_loader
    def _load_user(user_id: str):
        from helpdesk.accounts import sessions
        from helpdesk.accounts.models import User

        if not user_id.isdigit() or not sessions.is_live(int(user_id)):
            return None  # signed out elsewhere, or the password was reset
        user = db.session.get(User, int(user_id))
        return user if user is not None and user.is_active else None

    @app.before_request
    def _refuse_nul_bytes() -> None:
        # PostgreSQL cannot store NUL in text: say so up front instead of failing at INSERT.
        if "\x00" in request.path:
            abort(404)
        view = app.view_functions.get(request.endpoint or "")
        # Search boxes clean their own query string (a NUL typed into one is no error).
        args = [] if getattr(view, "cleans_query_string", False) else request.args.values()
        values = [*args, *request.form.values()]
        if any("\x00" in value for value in values):
            abort(400, description="Text fields may not contain NUL characters (\\0).")

    @app.after_request
    def _security_headers(response):
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if app.config["SESSION_COOKIE_SECURE"]:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        if request.endpoint != "static" and "Cache-Control" not in headers:
            # Pages can carry another person's data: never store them in shared caches.
            headers["Cache-Control"] = "no-store"
        return response
