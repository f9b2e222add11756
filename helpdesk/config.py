"""Configuration from the environment (see docs/ARCHITECTURE.md, "Configuration")."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INSTANCE = REPO_ROOT / "instance"


def _secret_from_file(instance: Path, name: str, make) -> str:
    """Read a generated secret from instance/, creating it once (0600) when missing."""
    path = instance / name
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    value = make()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value


def load_config(environ: dict[str, str] | None = None) -> dict:
    """Build the Flask config mapping from environment variables.

    Missing DATABASE_URL / REDIS_URL are an error here: the embedded servers are started by the
    launcher (`./run`, helpdesk.embedded), which then exports the URLs, never by the app itself.
    """
    env = os.environ if environ is None else environ
    instance = Path(env.get("INSTANCE_PATH", DEFAULT_INSTANCE))
    public_url = env.get("PUBLIC_URL", "http://localhost:5000").rstrip("/")
    redis_url = env.get("REDIS_URL", "")
    return {
        "INSTANCE_DIR": str(instance),
        "SQLALCHEMY_DATABASE_URI": env.get("DATABASE_URL", ""),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "DATABASE_APP_ROLE": env.get("DATABASE_APP_ROLE", "helpdesk_app"),
        "REDIS_URL": redis_url,
        "SECRET_KEY": env.get("SECRET_KEY")
        or _secret_from_file(instance, "secret_key", lambda: secrets.token_urlsafe(48)),
        "ENCRYPTION_KEY": env.get("ENCRYPTION_KEY")
        or _secret_from_file(instance, "encryption_key", lambda: Fernet.generate_key().decode()),
        "ELASTICSEARCH_URL": env.get("ELASTICSEARCH_URL", ""),
        "ELASTICSEARCH_INDEX_PREFIX": env.get("ELASTICSEARCH_INDEX_PREFIX", "helpdesk"),
        "SMTP_URL": env.get("SMTP_URL", ""),
        "MAIL_FROM": env.get("MAIL_FROM", "Helpdesk <no-reply@localhost>"),
        "STRIPE_SECRET_KEY": env.get("STRIPE_SECRET_KEY", ""),
        "STRIPE_WEBHOOK_SECRET": env.get("STRIPE_WEBHOOK_SECRET", ""),
        "STRIPE_API_BASE": env.get("STRIPE_API_BASE", ""),
        "PUBLIC_URL": public_url,
        "SOCKETIO_MESSAGE_QUEUE": env.get("SOCKETIO_MESSAGE_QUEUE", redis_url) or None,
        # Cookies: Secure whenever the public address is https (plain http in local development).
        "SESSION_COOKIE_SECURE": public_url.startswith("https://"),
        "REMEMBER_COOKIE_SECURE": public_url.startswith("https://"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": None,
        "MAX_CONTENT_LENGTH": int(env.get("MAX_CONTENT_LENGTH", 25 * 1024 * 1024)),
        # Failed logins allowed per account+address and per address in LOGIN_WINDOW seconds.
        "LOGIN_MAX_FAILURES": int(env.get("LOGIN_MAX_FAILURES", 5)),
        "LOGIN_MAX_FAILURES_PER_IP": int(env.get("LOGIN_MAX_FAILURES_PER_IP", 50)),
        "LOGIN_WINDOW": int(env.get("LOGIN_WINDOW", 900)),
        "TRIAL_DAYS": 14,
        "ATTACHMENTS_DIR": env.get("ATTACHMENTS_DIR", str(instance / "attachments")),
        "MAX_ATTACHMENT_SIZE": int(env.get("MAX_ATTACHMENT_SIZE", 10 * 1024 * 1024)),
        # Larger inbound mail is not downloaded: its headers are kept and it is quarantined.
        "MAX_INBOUND_MAIL_SIZE": int(env.get("MAX_INBOUND_MAIL_SIZE", 40 * 1024 * 1024)),
        # Workers that may process one mailbox's backlog together (poll job + helpers).
        "MAIL_PROCESS_PARALLELISM": int(env.get("MAIL_PROCESS_PARALLELISM", 2)),
        # A poll holds its mailbox's lock this long past its last sign of life (seconds).
        "MAIL_POLL_LOCK_TTL": int(env.get("MAIL_POLL_LOCK_TTL", 120)),
    }
