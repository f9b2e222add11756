"""Helpers shared by the benchmarks (bench/tickets.py, bench/search.py): the benchmark database,
gunicorn on a free loopback port, API tokens through the CLI, percentiles, EXPLAIN under RLS.

Everything takes the database URL / app environment explicitly, so each benchmark keeps its own
database, Redis DB and settings.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import psycopg.sql

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
VENV_BIN = Path(sys.executable).parent


_APP = None


def app_for_cli():
    """One in-process app for CLI commands and the SQL capture (the environment's database)."""
    global _APP
    if _APP is None:
        from helpdesk import create_app

        _APP = create_app()
    return _APP


def log(*args) -> None:
    print(*args, flush=True)


def mb(n: int) -> str:
    return f"{n / 1024 / 1024:,.0f} MB"


# ---------------------------------------------------------------------------------------------
# database
# ---------------------------------------------------------------------------------------------

def conninfo(url: str) -> str:
    """A SQLAlchemy URL (postgresql+psycopg://...) as a libpq connection string."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def db_name(url: str) -> str:
    return urlsplit(conninfo(url)).path.lstrip("/")


def admin_conninfo(url: str) -> str:
    return conninfo(url).rsplit("/", 1)[0] + "/postgres"


def ensure_database(url: str, fresh: bool, force: bool = False) -> None:
    """Create the database; a fresh run drops it first (refused while others use it, unless
    `force`)."""
    name = db_name(url)
    with psycopg.connect(admin_conninfo(url), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists and fresh and not force:
            users = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (name,)).fetchone()[0]
            if users:
                raise SystemExit(f"database {name} is in use by {users} other session(s): "
                                 "run with --reuse, or --force to drop it anyway")
        if exists and fresh:
            log(f"dropping database {name}")
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = None
        if not exists:
            log(f"creating database {name}")
            conn.execute(f'CREATE DATABASE "{name}"')


def save_seed_figures(url: str, who: str, text: str) -> None:
    """Kept as the database's comment, so a --reuse run can still report how it was seeded."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    with psycopg.connect(admin_conninfo(url), autocommit=True) as conn:
        conn.execute(f'COMMENT ON DATABASE "{db_name(url)}" IS '
                     + psycopg.sql.quote(f"{who} seed, {stamp}: {text}"))


def saved_seed_figures(url: str) -> str:
    with psycopg.connect(admin_conninfo(url)) as conn:
        row = conn.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database"
                           " WHERE datname = %s", (db_name(url),)).fetchone()
    return row[0] if row and row[0] else "unknown"


def migrate(env: dict[str, str], cwd: Path = REPO) -> None:
    """`flask db upgrade` against env's DATABASE_URL."""
    subprocess.run([str(VENV_BIN / "flask"), "--app", "wsgi", "db", "upgrade"], cwd=cwd,
                   env={**os.environ, **env}, check=True, capture_output=True)


def snapshot_code(target: Path, ref: str | None = None) -> str:
    """Copy the code to measure into `target`, so that a run measures one version while others
    edit the tree: the commit `ref` (git archive), else the working tree as it is now (tracked
    and untracked files, ignored ones left out). Returns a description of what was copied."""
    target.mkdir(parents=True)
    git = ["git", "-C", str(REPO)]
    head = subprocess.run([*git, "rev-parse", "--short", ref or "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()
    if ref:
        archive = subprocess.run([*git, "archive", ref], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
        described = f"commit {head} (--ref {ref})"
    else:
        files = subprocess.run([*git, "ls-files", "-z", "--cached", "--others",
                                "--exclude-standard"], capture_output=True, check=True
                               ).stdout.decode().split("\0")
        for name in filter(None, files):
            source = REPO / name
            if source.is_file():
                (target / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target / name)
        changed = subprocess.run([*git, "status", "--porcelain", "--", "helpdesk", "worker",
                                  "migrations", "storefront"], capture_output=True, text=True
                                 ).stdout.splitlines()
        changed = [line[3:] for line in changed if line.strip()]
        described = (f"working tree at {datetime.now(UTC):%H:%M:%S} UTC: HEAD {head}"
                     + (f" + uncommitted {', '.join(changed)}" if changed else " (clean)"))
    digest = hashlib.sha1()
    for path in sorted(target.rglob("*.py")):
        if path.parts[len(target.parts)] in ("helpdesk", "worker", "migrations"):
            digest.update(str(path.relative_to(target)).encode() + path.read_bytes())
    return (f"{described}; snapshot sha1 of helpdesk/worker/migrations *.py "
            f"{digest.hexdigest()[:10]}")


# ---------------------------------------------------------------------------------------------
# processes
# ---------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Gunicorn:
    """`gunicorn -w 1 --threads 64 ... APP` like the Procfile's web line, on loopback."""

    def __init__(self, app: str, name: str, env: dict[str, str], cwd: Path = REPO):
        self.port = free_port()
        self.log_path = Path(f"/tmp/bench-{name}-{self.port}.log")
        self.log = self.log_path.open("w")
        command = [str(VENV_BIN / "gunicorn"), "-w", "1", "--threads", "64",
                   "-b", f"127.0.0.1:{self.port}", "--access-logfile", "-", app]
        self.process = subprocess.Popen(command, cwd=cwd, env={**os.environ, **env},
                                        stdout=self.log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        self.wait_ready()

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.log_path.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not start")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # the process group we started
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()


def create_token(slug: str, email: str, env: dict[str, str], cwd: Path = REPO) -> str:
    """A new API token through `flask --app wsgi token create` (the last line it prints)."""
    result = subprocess.run(
        [str(VENV_BIN / "flask"), "--app", "wsgi", "token", "create", "--org", slug,
         "--email", email], cwd=cwd, env={**os.environ, **env}, check=True,
        capture_output=True, text=True)
    return result.stdout.strip().splitlines()[-1].strip()


# ---------------------------------------------------------------------------------------------
# figures
# ---------------------------------------------------------------------------------------------

def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def summary(seconds: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in seconds]
    return {"p50": statistics.median(ms), "p95": percentile(ms, 95), "mean": statistics.fmean(ms),
            "max": max(ms), "n": len(ms)}


def machine(url: str) -> str:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024 ** 3
    with psycopg.connect(conninfo(url)) as conn:
        server_version = conn.execute("SHOW server_version").fetchone()[0]
    return (f"{os.cpu_count()} cores, {memory:.0f} GB RAM, {platform.system()} "
            f"{platform.release()}, PostgreSQL {server_version}, Python "
            f"{platform.python_version()}")


# ---------------------------------------------------------------------------------------------
# EXPLAIN
# ---------------------------------------------------------------------------------------------

def explain(dsn: str, statement: str, parameters, org_id: int, user_id: int) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) as the app role with the org set: RLS applies."""
    with psycopg.connect(dsn) as conn:
        conn.execute("SET ROLE helpdesk_app")
        lines = []
        for _attempt in range(2):  # the second run is the one shown (warm cache)
            with conn.transaction():
                conn.execute("SELECT set_config('app.current_org', %s, true),"
                             " set_config('app.current_user', %s, true)",
                             (str(org_id), str(user_id)))
                rows = conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement,
                                    parameters or None).fetchall()
                lines = [row[0] for row in rows]
        return "\n".join(lines)


PLAN_NODE = re.compile(r"((?:Parallel )?(?:Seq Scan|Index Only Scan|Index Scan|Bitmap Heap Scan|"
                       r"Bitmap Index Scan)(?: Backward)?)(?: using (\w+))? on (\w+)")


def seq_scans_of(plan: str, table: str = "tickets") -> list[int]:
    """Rows each Seq Scan on `table` read (returned + removed by its filter, times loops)."""
    lines, scans = plan.splitlines(), []
    for i, line in enumerate(lines):
        if f"Seq Scan on {table}" not in line:
            continue
        actual = re.search(r"actual time=[\d.]+\.\.[\d.]+ rows=(\d+) loops=(\d+)", line)
        rows, loops = (int(actual.group(1)), int(actual.group(2))) if actual else (0, 1)
        removed = 0
        depth = len(line) - len(line.lstrip())
        for detail in lines[i + 1:]:
            if len(detail) - len(detail.lstrip()) <= depth or "->" in detail:
                break
            if m := re.search(r"Rows Removed by Filter: (\d+)", detail):
                removed = int(m.group(1))
        scans.append((rows + removed) * loops)
    return scans


def plan_nodes(plan: str) -> str:
    """The scans of a plan, each once, and its execution time."""
    nodes = []
    for node, index, table in PLAN_NODE.findall(plan):
        text = f"{node} on {table}" + (f" ({index})" if index else "")
        if text not in nodes:
            nodes.append(text)
    took = re.search(r"Execution Time: ([\d.]+) ms", plan)
    return ", ".join(nodes) + f"; {took.group(1) if took else '?'} ms"
