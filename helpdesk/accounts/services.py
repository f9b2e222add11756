"""Staff accounts: creation, sign-in with rate limiting, password reset."""

from __future__ import annotations

import functools
import hashlib
import unicodedata

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from helpdesk.accounts import sessions
from helpdesk.accounts.models import User
from helpdesk.core import ratelimit
from helpdesk.core.emails import clean_email
from helpdesk.core.exceptions import Conflict, ServiceError, ValidationFailed
from helpdesk.core.mail import send_mail
from helpdesk.core.models import utcnow
from helpdesk.core.urls import public_url
from helpdesk.extensions import db

MIN_PASSWORD = 8
MAX_PASSWORD = 200
RESET_MAX_AGE = 3600


class InvalidCredentials(ServiceError):
    status = 401


class TooManyAttempts(ServiceError):
    status = 429

    def __init__(self, retry_after: int, what: str = "Too many failed sign-in attempts"):
        minutes = max(1, -(-retry_after // 60))
        super().__init__(f"{what}. Try again in {minutes} minute{'s' if minutes != 1 else ''}.")
        self.retry_after = retry_after


@functools.cache
def _timing_dummy_hash() -> str:
    return generate_password_hash("timing-equalizer", method="scrypt")


def normalize_email(email: str) -> str:
    """The form addresses are compared in: NFC (one spelling of "é"), trimmed, lower case."""
    return unicodedata.normalize("NFC", email or "").strip().lower()


def check_password_strength(password: str, field: str = "password") -> None:
    if len(password) < MIN_PASSWORD:
        raise ValidationFailed("Password too short.",
                               {field: f"Use at least {MIN_PASSWORD} characters."})
    if not password.strip():
        raise ValidationFailed("Password blank.", {field: "Use letters, digits or symbols, "
                                                          "not only spaces."})
    if len(password) > MAX_PASSWORD:
        raise ValidationFailed("Password too long.",
                               {field: f"Use at most {MAX_PASSWORD} characters."})


def find_user(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == normalize_email(email)))


def create_user(*, email: str, name: str, password: str) -> User:
    """Raises Conflict when the email is registered, ValidationFailed for a bad email or a weak
    password."""
    try:
        email = normalize_email(clean_email(email))
    except ValueError as error:
        raise ValidationFailed("Invalid email.", {"email": str(error)}) from error
    if find_user(email):
        raise Conflict("Email registered.",
                       {"email": f"An account with {email} already exists. Sign in instead."})
    check_password_strength(password)
    user = User(email=email, name=name.strip()[:200] or email.split("@")[0])
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    return user


def _login_limits(email: str, address: str) -> list[ratelimit.Limit]:
    config = current_app.config
    digest = hashlib.sha256(normalize_email(email).encode()).hexdigest()[:32]
    window = config["LOGIN_WINDOW"]
    return [
        ratelimit.Limit(f"login-fail:{address}:{digest}", config["LOGIN_MAX_FAILURES"], window),
        ratelimit.Limit(f"login-fail:{address}", config["LOGIN_MAX_FAILURES_PER_IP"], window),
    ]


def authenticate(email: str, password: str, address: str) -> User:
    """The user for these credentials. Raises TooManyAttempts or InvalidCredentials."""
    limits = _login_limits(email, address)
    wait = ratelimit.retry_after(limits)
    if wait:
        raise TooManyAttempts(wait)
    user = find_user(email)
    if user is None:
        # Hash anyway, so the response time does not tell whether the account exists.
        check_password_hash(_timing_dummy_hash(), password)
    if user is None or not user.is_active or not user.check_password(password):
        ratelimit.record_failure(limits)
        raise InvalidCredentials("Wrong email or password.")
    ratelimit.reset(limits[:1])
    user.last_login_at = utcnow()
    return user


def _reset_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="password-reset")


def _password_fingerprint(user: User) -> str:
    # Changes with the password, so a used link stops working.
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def make_reset_token(user: User) -> str:
    return _reset_serializer().dumps({"user": user.id, "pw": _password_fingerprint(user)})


RESET_REQUESTS_PER_HOUR = 5


def request_password_reset(email: str, address: str) -> None:
    """Mail a reset link if the account exists; say nothing either way (no account probing).

    Raises TooManyAttempts after RESET_REQUESTS_PER_HOUR requests for one address and email,
    so the form cannot be used to flood someone's inbox.
    """
    digest = hashlib.sha256(normalize_email(email).encode()).hexdigest()[:32]
    limits = [ratelimit.Limit(f"reset:{address}:{digest}", RESET_REQUESTS_PER_HOUR, 3600)]
    wait = ratelimit.retry_after(limits)
    if wait:
        raise TooManyAttempts(wait, "Too many reset requests")
    ratelimit.record_failure(limits)
    user = find_user(email)
    if user is None or not user.is_active:
        return
    link = public_url("accounts.reset_password", token=make_reset_token(user))
    send_mail(
        user.email,
        "Reset your Helpdesk password",
        f"Hello {user.name},\n\nSomeone asked to reset the password of this account.\n"
        f"Choose a new password here (the link works for one hour, once):\n{link}\n\n"
        f"If it wasn't you, ignore this mail: your password stays as it is.",
    )


def user_for_reset_token(token: str) -> User | None:
    try:
        data = _reset_serializer().loads(token, max_age=RESET_MAX_AGE)
    except (SignatureExpired, BadSignature):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("user"), int):
        return None
    user = db.session.get(User, data["user"])
    if user is None or data.get("pw") != _password_fingerprint(user):
        return None
    return user


def reset_password(token: str, password: str) -> User:
    """Raises ValidationFailed for a bad or used token or a weak password."""
    user = user_for_reset_token(token)
    if user is None:
        raise ValidationFailed("This reset link is invalid, used or expired. Ask for a new one.")
    check_password_strength(password)
    user.set_password(password)
    db.session.flush()
    sessions.end_all_sessions(user.id)
    return user
