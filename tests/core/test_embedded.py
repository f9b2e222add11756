"""Command 1's zero-setup path: embedded PostgreSQL and Redis, migrated and seeded."""

import os
import re

import pytest
from sqlalchemy import select

from tests.conftest import close_app


@pytest.fixture
def embedded_env(tmp_path, monkeypatch):
    from helpdesk import launcher

    base = tmp_path / "instance"
    env = {"INSTANCE_PATH": str(base)}
    handles = launcher.prepare_environment(env)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("DATABASE_URL", env["DATABASE_URL"])
    monkeypatch.setenv("REDIS_URL", env["REDIS_URL"])
    yield env
    for handle in handles:
        launcher.stop_embedded(handle)


def test_embedded_servers_migrate_and_seed_the_demo(embedded_env):
    from helpdesk import create_app, launcher
    from helpdesk.core import tenancy
    from helpdesk.extensions import db
    from helpdesk.orgs.models import Organization

    assert embedded_env["DATABASE_URL"].startswith("postgresql+psycopg://")
    assert embedded_env["REDIS_URL"].startswith("unix://")
    assert launcher.migrate_and_seed() is True
    assert launcher.migrate_and_seed() is False  # second start: nothing new
    # Secrets were generated once into instance/, private to the owner.
    secret = os.path.join(embedded_env["INSTANCE_PATH"], "secret_key")
    assert oct(os.stat(secret).st_mode & 0o777) == "0o600"
    app = create_app({"SOCKETIO_MESSAGE_QUEUE": None})
    client = app.test_client()
    assert client.get("/healthz").json["checks"] == {"database": "ok", "redis": "ok"}
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post("/login", data={"email": "owner@demo.example",
                                           "password": "demo-password", "csrf_token": token})
    assert response.headers["Location"] == "/demo/desk/"  # the demo login works
    with app.app_context(), tenancy.system_scope():
        assert db.session.scalar(select(Organization.name).where(Organization.slug == "demo")) \
            == "Demo Outfitters"
    close_app(app)
