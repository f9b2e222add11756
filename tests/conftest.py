"""Test fixtures: a fresh PostgreSQL database migrated once per run, Redis, and per-test
transactions rolled back at the end (app code may commit: it commits savepoints).

TEST_DATABASE_URL / TEST_REDIS_URL name the servers; without them embedded servers start.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine, make_url, text

from helpdesk import create_app
from helpdesk.extensions import db

pytest_plugins = ["tests.factories", "tests.servers", "tests.mailservers"]


@pytest.fixture(scope="session")
def server_urls(tmp_path_factory):
    """(admin database URL, Redis URL), starting embedded servers when none are given."""
    handles = []
    database_url = os.environ.get("TEST_DATABASE_URL")
    redis_url = os.environ.get("TEST_REDIS_URL")
    if not database_url or not redis_url:
        from helpdesk.embedded import start_postgres, start_redis

        base = Path(tempfile.mkdtemp(prefix="helpdesk-test-", dir="/tmp"))
        os.chmod(base, 0o755)
        if not database_url:
            handle, database_url = start_postgres(base / "pg")
            handles.append(handle)
        if not redis_url:
            handle, redis_url = start_redis(base / "redis")
            handles.append(handle)
    yield database_url, redis_url
    for handle in handles:
        if hasattr(handle, "cleanup"):
            handle.cleanup()
        else:
            handle.shutdown()


@pytest.fixture(scope="session")
def database_url(server_urls):
    """A new database for this run, dropped at the end."""
    admin_url = make_url(server_urls[0]).set(drivername="postgresql+psycopg")
    name = f"helpdesk_test_{secrets.token_hex(4)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield admin_url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def make_test_app(database_url: str, redis_url: str, tmp: Path, **extra):
    config = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": redis_url,
        "SOCKETIO_MESSAGE_QUEUE": None,
        "SECRET_KEY": "test-secret-key",
        "ENCRYPTION_KEY": "Xb3V2v3tq0m8XGd0n9Z1h0j8XnS6dJb2o5b3bUJ6h1c=",
        "INSTANCE_DIR": str(tmp),
        "WTF_CSRF_ENABLED": False,
        "PUBLIC_URL": "http://localhost",
        "SMTP_URL": "",
    }
    config.update(extra)
    return create_app(config)


@pytest.fixture(scope="session")
def migrated(database_url, server_urls, tmp_path_factory):
    """Build the schema with the real migration history (`flask db upgrade`)."""
    from flask_migrate import upgrade

    app = make_test_app(database_url, server_urls[1], tmp_path_factory.mktemp("migrate"))
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return database_url


@pytest.fixture(scope="session")
def app(migrated, server_urls, tmp_path_factory):
    app = make_test_app(migrated, server_urls[1], tmp_path_factory.mktemp("instance"))
    # Sessions bound to the test's connection commit and roll back savepoints, never the
    # test's outer transaction (which only applies when the bind is a Connection).
    db.session.session_factory.configure(join_transaction_mode="create_savepoint")
    yield app
    close_app(app)


def close_app(app) -> None:
    """Close the app's pooled connections (PostgreSQL and Redis) before the servers stop."""
    with app.app_context():
        for engine in db.engines.values():
            engine.dispose()
    app.extensions["redis"].close()


@pytest.fixture
def redis_client(app):
    client = redis.Redis.from_url(app.config["REDIS_URL"])
    client.flushdb()
    yield client
    client.close()


@pytest.fixture(autouse=True)
def _transaction(request, app, redis_client):
    """Run the test in one transaction rolled back at the end; live-server tests opt out.

    No app context stays pushed: each request, factory call or `in_org` block gets its own
    (as in production), and all of them share this one connection through savepoints.
    """
    if {"live_server", "committing_app"} & set(request.fixturenames):
        yield
        return
    with app.app_context():
        connection = db.engine.connect()
    outer = connection.begin()
    engines = db._app_engines[app]
    real_engine = engines[None]
    engines[None] = connection
    try:
        yield
    finally:
        engines[None] = real_engine
        outer.rollback()
        connection.close()


@pytest.fixture
def client(app):
    return app.test_client()


