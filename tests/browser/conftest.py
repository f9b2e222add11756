"""Browser tests: the real app served over HTTP, driven by Debian's Chromium via Playwright."""

from __future__ import annotations

import shutil

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import close_app, make_test_app
from tests.servers import LiveServer

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if CHROMIUM is None:
        pytest.skip("the chromium binary is missing (Debian package: chromium)")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"],
    }


@pytest.fixture
def live_server(migrated, server_urls, tmp_path, smtp_server):
    """The app with CSRF on, committing for real; tables are emptied afterwards."""
    smtp_url, _ = smtp_server
    app = make_test_app(migrated, server_urls[1], tmp_path, WTF_CSRF_ENABLED=True,
                        SMTP_URL=smtp_url)
    server = LiveServer(app)
    app.config["PUBLIC_URL"] = server.url
    server.start()
    yield server
    server.stop()
    close_app(app)
    engine = create_engine(migrated)  # the owner, not the app role: RLS does not apply
    with engine.begin() as connection:
        tables = connection.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename <> 'alembic_version'"
        )).scalars().all()
        connection.execute(text(f"TRUNCATE {', '.join(tables)} CASCADE"))
    engine.dispose()
