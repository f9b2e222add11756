"""Helpers shared by the benchmarks (bench/tickets.py, bench/search.py, bench/reports.py): the
benchmark database, the code snapshot, gunicorn on a free loopback port, API tokens through the
CLI, the SQL an endpoint sends, percentiles, EXPLAIN under RLS.

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
import tempfile
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


def app_env(db_url: str, redis_url: str, code: Path | None = None) -> dict[str, str]:
    """The app's environment in a benchmark: its database and Redis, fixed keys, a loopback
    PUBLIC_URL, and PYTHONPATH = the code measured (a snapshot) when given."""
    env = {
        "DATABASE_URL": db_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": "bench-secret-key-not-for-production",
        "ENCRYPTION_KEY": "YmVuY2gtZW5jcnlwdGlvbi1rZXktMzItYnl0ZXMhISE=",  # 32 bytes, b64
        "PUBLIC_URL": "http://127.0.0.1",
    }
    if code is not None:
        env["PYTHONPATH"] = str(code)
    return env


def add_run_arguments(parser, out: Path) -> None:
    """The options every seeded benchmark takes: --reuse, --force, --scale, --workers,
    --seed-only, --out, --ref, --live."""
    parser.add_argument("--reuse", action="store_true",
                        help="keep the database if it holds the expected data")
    parser.add_argument("--force", action="store_true",
                        help="drop and reseed the database even if other sessions use it")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="fraction of the full dataset (tests of the harness)")
    parser.add_argument("--workers", type=int, default=2, help="COPY connections")
    parser.add_argument("--seed-only", action="store_true")
    parser.add_argument("--out", default=str(out))
    parser.add_argument("--ref", help="measure this commit (git archive) instead of a snapshot "
                        "of the working tree")
    parser.add_argument("--live", action="store_true",
                        help="import the live tree instead of a snapshot")


def flask_cli():
    """run("org", "create", ...): the app's CLI commands in-process; raises on a failure."""
    runner = app_for_cli().test_cli_runner()

    def run(*args: str) -> str:
        result = runner.invoke(args=list(args))
        if result.exit_code != 0:
            raise RuntimeError(f"flask {' '.join(args)}: {result.output}")
        return result.output

    return run


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


def run_on_snapshot(script: Path, ref: str | None, code_var: str, prefix: str) -> int:
    """Snapshot the code (`snapshot_code`), run `script` again on it as a child with the same
    arguments (environment: `code_var` = the snapshot, `code_var`_DESCRIPTION = what it is),
    remove the snapshot afterwards. SIGTERM and SIGINT are passed on to the child."""
    work = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    os.chmod(work, 0o755)
    try:
        description = snapshot_code(work / "code", ref)
        log(f"code: {description}")
        env = {**os.environ, code_var: str(work / "code"),
               f"{code_var}_DESCRIPTION": description}
        child = subprocess.Popen([sys.executable, str(script), *sys.argv[1:]], env=env)

        def forward(signum, _frame):
            child.send_signal(signum)

        signal.signal(signal.SIGTERM, forward)
        signal.signal(signal.SIGINT, forward)
        return child.wait()
    finally:
        shutil.rmtree(work, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# processes
# ---------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Gunicorn:
    """`gunicorn -w 1 --threads 64 ... APP` like the Procfile's web line, on loopback (other
    worker and thread counts when given)."""

    def __init__(self, app: str, name: str, env: dict[str, str], cwd: Path = REPO,
                 workers: int = 1, threads: int = 64):
        self.port = free_port()
        self.log_path = Path(f"/tmp/bench-{name}-{self.port}.log")
        self.log = self.log_path.open("w")
        command = [str(VENV_BIN / "gunicorn"), "-w", str(workers), "--threads", str(threads),
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
# the SQL an endpoint sends
# ---------------------------------------------------------------------------------------------

class StatementLog:
    """Every statement an engine sends while active (`with StatementLog(engine) as log:`):
    (statement, parameters, seconds) in `log.statements`, failed ones included."""

    def __init__(self, engine):
        self.engine = engine
        self.statements: list[tuple[str, object, float]] = []
        self._started: list[float] = []

    def _before(self, conn, cursor, statement, parameters, context, executemany):  # noqa: ARG002
        self._started.append(time.perf_counter())

    def _after(self, conn, cursor, statement, parameters, context, executemany):  # noqa: ARG002
        self.statements.append((statement, parameters, time.perf_counter() - self._started.pop()))

    def _failed(self, context):
        if context.statement and self._started:
            self.statements.append((context.statement, context.parameters,
                                    time.perf_counter() - self._started.pop()))

    def __enter__(self) -> StatementLog:
        from sqlalchemy import event

        event.listen(self.engine, "before_cursor_execute", self._before)
        event.listen(self.engine, "after_cursor_execute", self._after)
        event.listen(self.engine, "handle_error", self._failed)
        return self

    def __exit__(self, *exc) -> None:
        from sqlalchemy import event

        event.remove(self.engine, "before_cursor_execute", self._before)
        event.remove(self.engine, "after_cursor_execute", self._after)
        event.remove(self.engine, "handle_error", self._failed)


def capture_sql(app, headers: dict[str, str], paths: dict[str, str]
                ) -> dict[str, list[tuple[str, object, float]]]:
    """GET each path in-process (Flask test client) twice and record every statement the
    second request sends, with its parameters and duration."""
    from helpdesk.extensions import db

    with app.app_context():
        engine = db.engine
    client = app.test_client()
    result = {}
    with StatementLog(engine) as captured:
        for label, path in paths.items():
            client.get(path, headers=headers)  # warm
            captured.statements.clear()
            response = client.get(path, headers=headers)
            if response.status_code != 200:
                raise RuntimeError(f"in-process GET {path}: {response.status_code}")
            result[label] = list(captured.statements)
    return result


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

def explain(dsn: str, statement: str, parameters, org_id: int, user_id: int,
            settings: list[str] | tuple[str, ...] = ()) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) as the app role with the org set: RLS applies. `settings`:
    statements the app ran first in the same transaction (e.g. SET LOCAL jit = off)."""
    with psycopg.connect(dsn) as conn:
        conn.execute("SET ROLE helpdesk_app")
        lines = []
        for _attempt in range(2):  # the second run is the one shown (warm cache)
            with conn.transaction():
                conn.execute("SELECT set_config('app.current_org', %s, true),"
                             " set_config('app.current_user', %s, true)",
                             (str(org_id), str(user_id)))
                for setting in settings:
                    conn.execute(setting)
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
