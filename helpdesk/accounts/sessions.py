"""Server-side record of signed-in staff sessions, so that signing out or resetting a password
really ends a session (the cookie alone is signed, not revocable).

Each login gets a random session id, kept in the cookie and in the Redis sorted set
`staff-sessions:<user id>` scored by its sign-in time; a cookie whose id is not there, or is
older than SESSION_DAYS, is treated as signed out.
"""

from __future__ import annotations

import secrets
import time

from flask import session
from flask_login import login_user, logout_user

from helpdesk.core import tenancy
from helpdesk.extensions import redis_store

SESSION_DAYS = 30
MAX_AGE = SESSION_DAYS * 86400
_KEY = "staff-sessions:{user_id}"
_SESSION_FIELD = "staff_session"


def sign_in(user) -> None:
    session_id = secrets.token_urlsafe(24)
    key = _KEY.format(user_id=user.id)
    now = time.time()
    with redis_store.client.pipeline() as pipe:
        pipe.zremrangebyscore(key, "-inf", now - MAX_AGE)  # forget expired sessions
        pipe.zadd(key, {session_id: now})
        pipe.expire(key, MAX_AGE)
        pipe.execute()
    session.clear()  # a fresh session on every sign-in (no fixation)
    login_user(user)
    session[_SESSION_FIELD] = session_id
    tenancy.set_current_user(user.id)


def is_live(user_id: int) -> bool:
    session_id = session.get(_SESSION_FIELD)
    if not session_id:
        return False
    started = redis_store.client.zscore(_KEY.format(user_id=user_id), session_id)
    return started is not None and time.time() - started < MAX_AGE


def sign_out() -> None:
    from flask_login import current_user

    session_id = session.get(_SESSION_FIELD)
    if current_user.is_authenticated and session_id:
        redis_store.client.zrem(_KEY.format(user_id=current_user.id), session_id)
    logout_user()
    session.clear()


def end_all_sessions(user_id: int) -> None:
    """Sign the user out everywhere (after a password change)."""
    redis_store.client.delete(_KEY.format(user_id=user_id))
