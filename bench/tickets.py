"""Ticket benchmark at scale: 1,000,000 tickets in one org, the real app under gunicorn.

    .venv/bin/python bench/tickets.py [--tickets 1000000] [--reuse]

Creates (or reuses) the database helpdesk_bench (BENCH_DATABASE_URL), migrates it, seeds it with
COPY as the owner, starts the app exactly like the Procfile's web line, signs in through the
login form, measures latencies and requests/s, prints EXPLAIN (ANALYZE, BUFFERS) of the inbox
queries as the app issues them (under RLS), and writes bench/results-tickets.md.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from html import unescape
from pathlib import Path

import psycopg

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
sys.path[:0] = [str(REPO), str(BENCH_DIR)]

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/helpdesk_bench"
DB_URL = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/8")
SLUG = "bench"
OWNER = "owner@bench.example"
AGENTS = [f"agent{i}@bench.example" for i in range(1, 11)]
PASSWORD = "bench-password"
APP_ENV = {
    "DATABASE_URL": DB_URL,
    "REDIS_URL": REDIS_URL,
    "SECRET_KEY": "bench-secret-key-not-for-production",
    "ENCRYPTION_KEY": "YmVuY2gtZW5jcnlwdGlvbi1rZXktMzItYnl0ZXMhISE=",  # 32 bytes, urlsafe b64
    "PUBLIC_URL": "http://127.0.0.1",
}
os.environ.update(APP_ENV)

import common  # noqa: E402
from common import log, mb, plan_nodes, seq_scans_of, summary  # noqa: E402
from seed_tickets import seed, verify  # noqa: E402

N_REQUESTS, N_WARMUP = 200, 20
PAGE_DEPTH = 50
WRK_SECONDS, WRK_CONNECTIONS = 10, 16


def conninfo(url: str = DB_URL) -> str:
    return common.conninfo(url)


def ensure_database(fresh: bool, force: bool = False) -> None:
    common.ensure_database(DB_URL, fresh, force)


def save_seed_figures(text: str) -> None:
    common.save_seed_figures(DB_URL, "bench/tickets.py", text)


def saved_seed_figures() -> str:
    return common.saved_seed_figures(DB_URL)


def migrate() -> None:
    common.migrate(APP_ENV)


def seeded_tickets() -> int:
    with psycopg.connect(conninfo()) as conn:
        row = conn.execute(
            "SELECT c.last_number FROM ticket_counters c JOIN organizations o ON o.id = c.org_id"
            " WHERE o.slug = %s", (SLUG,)).fetchone()
    return row[0] if row else 0


def create_org_and_staff(app) -> tuple[int, int, list[int]]:
    """Through the real CLI commands (in-process runner): org with owner, ten agents."""
    runner = app.test_cli_runner()

    def run(*args):
        result = runner.invoke(args=list(args))
        if result.exit_code != 0:
            raise RuntimeError(f"flask {' '.join(args)}: {result.output}")

    run("org", "create", SLUG, "--name", "Bench Retail", "--owner-email", OWNER,
        "--owner-password", PASSWORD, "--owner-name", "Olga Owner", "--plan", "enterprise")
    for i, email in enumerate(AGENTS, 1):
        run("user", "create", "--org", SLUG, "--email", email, "--password", PASSWORD,
            "--name", f"Agent {i}", "--role", "agent")
    with psycopg.connect(conninfo()) as conn:
        org_id = conn.execute("SELECT id FROM organizations WHERE slug = %s", (SLUG,)).fetchone()[0]
        ids = dict(conn.execute("SELECT email, id FROM users").fetchall())
    return org_id, ids[OWNER], [ids[e] for e in AGENTS]


def db_size() -> int:
    with psycopg.connect(conninfo()) as conn:
        return conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]


def table_sizes() -> list[tuple[str, int, int]]:
    with psycopg.connect(conninfo()) as conn:
        return conn.execute(
            "SELECT relname, pg_table_size(oid), pg_indexes_size(oid) FROM pg_class"
            " WHERE relname IN ('tickets', 'messages', 'ticket_events', 'customers')"
            " ORDER BY pg_total_relation_size(oid) DESC").fetchall()


def org_id_of(slug: str) -> int:
    with psycopg.connect(conninfo()) as conn:
        return conn.execute("SELECT id FROM organizations WHERE slug = %s", (slug,)).fetchone()[0]


def user_id_of(email: str) -> int:
    with psycopg.connect(conninfo()) as conn:
        return conn.execute("SELECT id FROM users WHERE email = %s", (email,)).fetchone()[0]


# ---------------------------------------------------------------------------------------------
# processes
# ---------------------------------------------------------------------------------------------

class Gunicorn(common.Gunicorn):
    """`gunicorn -w 1 --threads 64 ... APP` like the Procfile's web line, on loopback."""

    def __init__(self, app: str, name: str, cwd: Path = REPO):
        super().__init__(app, name, APP_ENV, cwd)


def create_token(email: str) -> str:
    return common.create_token(SLUG, email, APP_ENV)


# ---------------------------------------------------------------------------------------------
# measurements
# ---------------------------------------------------------------------------------------------

def timed(client, paths, n: int = N_REQUESTS, warmup: int = N_WARMUP,
          headers: dict | None = None, expect: str | None = None) -> dict[str, float]:
    """Sequential GETs: `warmup` unmeasured, then `n` measured; every answer must be 200."""
    times = []
    for i in range(warmup + n):
        path = paths(i) if callable(paths) else paths
        response = client.get(path, headers=headers)
        if response.status != 200:
            raise RuntimeError(f"GET {path}: HTTP {response.status}: {response.text[:300]}")
        if expect and expect not in response.text:
            raise RuntimeError(f"GET {path}: {expect!r} not in the page")
        if i >= warmup:
            times.append(response.seconds)
    return summary(times)


def next_link(html: str) -> str | None:
    """The inbox's link to the next (older) page: an href with a cursor that goes forward."""
    import base64
    import json

    candidates = []
    for tag in re.finditer(r"<a\b[^>]*>", html):
        href = re.search(r'href="([^"]*cursor=[^"]*)"', tag.group(0))
        if not href:
            continue
        url = unescape(href.group(1))
        if 'rel="next"' in tag.group(0):
            return url
        cursor = re.search(r"cursor=([^&]+)", url).group(1)
        try:
            plain = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
            if isinstance(plain, list) and plain and plain[0] == "a":
                candidates.append(url)
        except ValueError:
            continue
    return candidates[0] if candidates else None


def cursor_one_year_back(path: str, assignee_id: int) -> str | None:
    """The same page URL with its cursor moved to a ticket of a year ago: the (timestamp, id)
    values inside the opaque cursor are replaced, the rest (direction, sort tag) kept."""
    import base64
    import json

    match = re.search(r"cursor=([^&]+)", path)
    if not match:
        return None
    try:
        plain = json.loads(base64.urlsafe_b64decode(match.group(1) + "=="))
        stamps = [i for i, v in enumerate(plain) if isinstance(v, str) and re.match(
            r"\d{4}-\d\d-\d\dT", v)]
        ints = [i for i, v in enumerate(plain) if type(v) is int]
    except ValueError:
        return None
    if len(stamps) != 1 or not ints:
        return None
    with psycopg.connect(conninfo()) as conn:
        row = conn.execute(
            "SELECT last_activity_at, id FROM tickets WHERE status = 'closed' AND assignee_id = %s"
            " AND last_activity_at < now() - interval '365 days'"
            " ORDER BY last_activity_at DESC, id DESC LIMIT 1", (assignee_id,)).fetchone()
    if row is None:
        return None
    plain[stamps[0]], plain[ints[-1]] = row[0].isoformat(), row[1]
    cursor = base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")
    return path[:match.start(1)] + cursor + path[match.end(1):]


LUA_TOKENS = """
local tokens = {%s}
local index = 0
function setup(thread)
  index = index + 1
  thread:set("token", tokens[index])
end
function request()
  return wrk.format("GET", nil, {["Authorization"] = "Bearer " .. token})
end
"""


def wrk(url: str, headers: dict[str, str] | None = None, seconds: int = WRK_SECONDS,
        connections: int = WRK_CONNECTIONS, tokens: list[str] | None = None,
        ) -> tuple[float, str]:
    """Requests/s and a description of any errors. With `tokens`: one thread and connection
    per token, each sending its own bearer token."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s"]
    if tokens:
        script = Path(f"/tmp/bench-wrk-tokens-{os.getpid()}.lua")
        script.write_text(LUA_TOKENS % ", ".join(f'"{t}"' for t in tokens))
        command = ["wrk", f"-t{len(tokens)}", f"-c{len(tokens)}", f"-d{seconds}s",
                   "--timeout", "10s", "-s", str(script)]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run(command + [url], check=True, capture_output=True, text=True).stdout
    problems = [m.group(0) for m in (re.search(r"Non-2xx or 3xx responses: \d+", output),
                                     re.search(r"Socket errors: .*", output)) if m]
    return float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)), "; ".join(problems)


def threaded_rps(url_path: str, port: int, headers: dict[str, str] | None = None,
                 seconds: int = WRK_SECONDS, connections: int = WRK_CONNECTIONS,
                 tokens: list[str] | None = None) -> tuple[float, str]:
    """Fallback when wrk is missing: N client threads with keep-alive connections."""
    import threading

    from httpclient import Client

    stop = time.monotonic() + seconds
    n = len(tokens) if tokens else connections
    counts, failures = [0] * n, [0] * n

    def worker(index: int) -> None:
        own = {"Authorization": f"Bearer {tokens[index]}"} if tokens else headers
        client = Client("127.0.0.1", port, own)
        while time.monotonic() < stop:
            if client.get(url_path).status == 200:
                counts[index] += 1
            else:
                failures[index] += 1
        client.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return (sum(counts) / (time.monotonic() - started),
            f"{sum(failures)} failed requests" if sum(failures) else "")


def throughput(port: int, path: str, headers: dict[str, str] | None = None,
               tokens: list[str] | None = None) -> tuple[float, str]:
    url = f"http://127.0.0.1:{port}{path}"
    measure = (lambda s: wrk(url, headers, seconds=s, tokens=tokens)) if shutil.which("wrk") \
        else (lambda s: threaded_rps(path, port, headers, seconds=s, tokens=tokens))
    measure(2)  # warm-up
    return measure(WRK_SECONDS)


# ---------------------------------------------------------------------------------------------
# EXPLAIN of the SQL the app issues
# ---------------------------------------------------------------------------------------------

def capture_sql(app, email: str, paths: dict[str, str],
                headers: dict[str, dict[str, str]] | None = None,
                ) -> dict[str, list[tuple[str, dict]]]:
    """Run the real views in-process (Flask test client, real login form) and record every
    statement they send to PostgreSQL, with its parameters."""
    from sqlalchemy import event

    from helpdesk.extensions import db

    with app.app_context():
        engine = db.engine
    captured: list[tuple[str, dict]] = []

    def before(conn, cursor, statement, parameters, context, executemany):  # noqa: ARG001
        captured.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", before)
    try:
        client = app.test_client()
        page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        answer = client.post("/login", data={"csrf_token": token, "email": email,
                                             "password": PASSWORD})
        assert answer.status_code in (302, 303), answer.status_code
        result = {}
        for label, path in paths.items():
            captured.clear()
            response = client.get(path, headers=(headers or {}).get(label))
            assert response.status_code == 200, (path, response.status_code)
            result[label] = list(captured)
        return result
    finally:
        event.remove(engine, "before_cursor_execute", before)


def explain(statement: str, parameters, org_id: int, user_id: int) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) as the app role with the org set: RLS applies."""
    return common.explain(conninfo(), statement, parameters, org_id, user_id)


def plan_summary(plan: str) -> str:
    summary_text = plan_nodes(plan)
    scans = seq_scans_of(plan, "tickets")
    if scans:
        big = max(scans)
        summary_text += (f"; Seq Scan on tickets read at most {big:,} rows"
                         + (" (a LIMIT stops it early)" if big <= 10_000 else
                            " -- A FULL SCAN, NOT AN INDEX"))
    return summary_text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--reuse", action="store_true",
                        help="keep the database if it already holds --tickets tickets")
    parser.add_argument("--force", action="store_true",
                        help="drop and reseed the database even if other sessions use it")
    parser.add_argument("--seed-only", action="store_true")
    args = parser.parse_args()

    figures: dict[str, str] = {}
    reuse = args.reuse
    if reuse:
        ensure_database(fresh=False)
        migrate()
        have = seeded_tickets()
        if have != args.tickets:
            log(f"--reuse: the database holds {have:,} tickets, not {args.tickets:,}: reseeding")
            reuse = False
    if not reuse:
        ensure_database(fresh=True, force=args.force)
        t0 = time.perf_counter()
        migrate()
        log(f"migrated in {time.perf_counter() - t0:.1f} s")
        org_id, owner_id, agent_ids = create_org_and_staff(common.app_for_cli())
        log(f"seeding {args.tickets:,} tickets, {args.customers:,} customers (COPY)")
        result = seed(conninfo(), org_id, agent_ids, owner_id, tickets=args.tickets,
                      customers=args.customers, log=log)
        problems = {k: v for k, v in verify(conninfo()).items() if v}
        if problems:
            raise SystemExit(f"seed produced broken references: {problems}")
        figures["seed"] = (f"{result.seconds:.0f} s ({result.tickets:,} tickets, "
                           f"{result.messages:,} messages, {result.events:,} events, "
                           f"{result.customers:,} customers; "
                           + ", ".join(f"{k} {v:.0f} s" for k, v in result.phases.items()) + ")")
        save_seed_figures(figures["seed"])
    else:
        figures["seed"] = f"reused (--reuse); {saved_seed_figures()}"
    figures["database size"] = mb(db_size())
    log(f"seed: {figures['seed']}")
    log(f"database size: {figures['database size']}")
    for name, table, index in table_sizes():
        log(f"  {name}: table {mb(table)}, indexes {mb(index)}")
    if args.seed_only:
        return 0
    n_tickets = seeded_tickets()
    org_id = org_id_of(SLUG)
    agent_email = AGENTS[0]
    agent_id = user_id_of(agent_email)
    latencies: dict[str, dict[str, float]] = {}
    notes: list[str] = []
    rps: dict[str, tuple[float, str]] = {}
    inbox = f"/{SLUG}/desk/tickets/"
    paths = {
        "inbox": f"{inbox}?view=open&status=open",
        "inbox default view": f"{inbox}?view=open",
        "deep start": f"{inbox}?view=solved&status=closed&assignee={agent_id}",
    }

    load_before = os.getloadavg()[0]
    server = Gunicorn("wsgi:app", "app")
    hello = None
    try:
        log(f"app: gunicorn -w 1 --threads 64 on 127.0.0.1:{server.port}")
        from httpclient import Client

        client = Client("127.0.0.1", server.port)
        landed = client.login(agent_email, PASSWORD)
        log(f"signed in as {agent_email} through the login form -> {landed}")
        probe = client.get(paths["inbox"])
        if probe.status != 200:
            raise SystemExit(f"the inbox {paths['inbox']} answers HTTP {probe.status}")

        log("(a) inbox, first page, status=open")
        latencies["(a) inbox ?view=open&status=open"] = timed(client, paths["inbox"])
        latencies["(a') inbox default ?view=open (new+open+pending)"] = timed(
            client, paths["inbox default view"])

        log(f"(b) deep page: following next links {PAGE_DEPTH} pages deep")
        path, walk = paths["deep start"], []
        for _ in range(PAGE_DEPTH):
            response = client.get(path)
            walk.append(response.seconds)
            following = next_link(response.text)
            if response.status != 200 or not following:
                raise RuntimeError(f"no next link on {path} (HTTP {response.status})")
            path = following
        paths["deep"] = path
        latencies[f"    walk: pages 1-{PAGE_DEPTH}, one request each"] = summary(walk)
        latencies[f"(b) page {PAGE_DEPTH + 1}, status=closed, assignee"] = timed(client, path)
        year_back = cursor_one_year_back(path, agent_id)
        if year_back:
            paths["year back"] = year_back
            latencies["(b') constructed cursor 1 year back, same filters"] = timed(
                client, year_back)
        else:
            notes.append("could not construct a cursor one year back (unknown cursor format)")

        log("(c) ticket page, random numbers")
        rng = random.Random(7)
        numbers = [rng.randint(1, n_tickets) for _ in range(N_WARMUP + N_REQUESTS)]
        latencies["(c) ticket page /desk/tickets/<number>"] = timed(
            client, lambda i: f"/{SLUG}/desk/tickets/{numbers[i]}")
        client.close()

        token = create_token(agent_email)
        bearer = {"Authorization": f"Bearer {token}"}
        api = Client("127.0.0.1", server.port, bearer)
        if api.get("/api/v1/tickets").status != 200:
            raise SystemExit("GET /api/v1/tickets does not answer 200")
        log("(d) GET /api/v1/tickets, first page")
        latencies["(d) GET /api/v1/tickets (first page)"] = timed(api, "/api/v1/tickets")
        api.close()

        log(f"requests/s: {WRK_CONNECTIONS} connections, {WRK_SECONDS} s each")
        rps["GET /api/v1/tickets"] = throughput(server.port, "/api/v1/tickets", bearer)
        # The same with one token per connection: shows what sharing one token costs.
        runner = common.app_for_cli().test_cli_runner()
        tokens = [runner.invoke(args=["token", "create", "--org", SLUG, "--email",
                                      AGENTS[i % len(AGENTS)]]).output.strip().splitlines()[-1]
                  for i in range(WRK_CONNECTIONS)]
        rps[f"GET /api/v1/tickets, {WRK_CONNECTIONS} tokens (one per connection)"] = throughput(
            server.port, "/api/v1/tickets", tokens=tokens)
        server.stop()
        hello = Gunicorn("hello_app:app", "hello", cwd=BENCH_DIR)
        rps["hello-world Flask"] = throughput(hello.port, "/")
    finally:
        server.stop()
        if hello is not None:
            hello.stop()

    figures["load"] = (f"1-minute load average {load_before:.1f} before the measurements, "
                       f"{os.getloadavg()[0]:.1f} after (2 cores; anything above ~1 is other "
                       "work on the machine competing with the benchmark)")
    log("EXPLAIN (ANALYZE, BUFFERS) of the statements the views send (as helpdesk_app, RLS on)")
    app = common.app_for_cli()
    captured = capture_sql(
        app, agent_email,
        {"inbox": paths["inbox"], "deep": paths["deep"],
         "inbox default view": paths["inbox default view"],
         **({"year back": paths["year back"]} if "year back" in paths else {}),
         "ticket page": f"/{SLUG}/desk/tickets/{n_tickets // 2}", "api": "/api/v1/tickets"},
        headers={"api": bearer})
    plans: list[tuple[str, str, str]] = []
    for label, statements in captured.items():
        for statement, parameters in statements:
            table = re.search(r"\bFROM (tickets|messages|ticket_events)\b", statement)
            if not table:
                continue
            plan = explain(statement, parameters, org_id, agent_id)
            kind = "count" if "count(" in statement else "list" if "LIMIT" in statement \
                else "rows"
            kind = f"{table.group(1)} {kind}"
            plans.append((f"{label} ({kind})", statement, plan))
            log(f"\n--- {label} ({kind}) ---\n{statement}\n{parameters}\n{plan}")

    report(args, figures, latencies, rps, plans, notes)
    return 0


GOALS = {"(a) ": 50.0, "(a') ": 50.0, "(b) ": 50.0, "(b') ": 50.0, "(c) ": 80.0}


def report(args, figures, latencies, rps, plans, notes) -> None:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine = common.machine(DB_URL)
    lines = [f"# Ticket benchmark, {now}", "",
             f"Machine: {machine}. Command: `.venv/bin/python bench/tickets.py "
             f"--tickets {args.tickets}{' --reuse' if args.reuse else ''}`.", "",
             f"- Seed: {figures['seed']}", f"- Database size: {figures['database size']}",
             f"- Load: {figures.get('load', '')}", "",
             f"| request ({N_REQUESTS} sequential after {N_WARMUP} warm-up) "
             "| p50 ms | p95 ms | mean ms | max ms | goal p95 |",
             "|---|---|---|---|---|---|"]
    for name, stats in latencies.items():
        goal = next((f"<= {v:.0f} ms {'ok' if stats['p95'] <= v else 'MISSED'}"
                     for k, v in GOALS.items() if name.startswith(k)), "")
        lines.append(f"| {name} | {stats['p50']:.1f} | {stats['p95']:.1f} | {stats['mean']:.1f}"
                     f" | {stats['max']:.1f} | {goal} |")
    api_rps, hello_rps = rps.get("GET /api/v1/tickets"), rps.get("hello-world Flask")
    lines += ["", f"| requests/s (wrk, {WRK_CONNECTIONS} connections, {WRK_SECONDS} s, "
              "gunicorn -w 1 --threads 64) | req/s | errors |", "|---|---|---|"]
    for name, (value, problems) in rps.items():
        lines.append(f"| {name} | {value:,.0f} | {problems} |")
    if api_rps and hello_rps:
        ratio = api_rps[0] / hello_rps[0] * 100
        lines.append(f"| ratio API (one token) / hello | {ratio:.1f}% (goal >= 40%: "
                     f"{'ok' if ratio >= 40 else 'MISSED'}) | |")
    lines += ["", "| EXPLAIN (ANALYZE, BUFFERS), as helpdesk_app under RLS | plan |", "|---|---|"]
    for label, _, plan in plans:
        lines.append(f"| {label} | {plan_summary(plan)} |")
    lines += [f"- {note}" for note in notes]
    table = "\n".join(lines)
    log("\n" + table)
    details = ["", "## Plans", ""]
    for label, statement, plan in plans:
        details += [f"### {label}", "", "```sql", statement.strip(), "```", "", "```",
                    plan, "```", ""]
    (BENCH_DIR / "results-tickets.md").write_text(table + "\n" + "\n".join(details))
    log(f"\nwritten to {BENCH_DIR / 'results-tickets.md'}")


if __name__ == "__main__":
    sys.exit(main())
