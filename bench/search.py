"""Search benchmark: 3M messages in 21 orgs, full-text search through the real API.

    .venv/bin/python bench/search.py            # fresh: create, migrate, seed, measure
    .venv/bin/python bench/search.py --reuse    # keep the data if the database holds it

Creates (or reuses) the database helpdesk_bench_search (BENCH_SEARCH_DATABASE_URL), seeds it
with bench/seed_search.py (COPY with the search-vector triggers active, GIN indexes rebuilt
afterwards, every phase timed), starts the app like the Procfile's web line, creates API tokens
with `flask token create` and measures `GET /api/v1/search` for a fixed mix of queries drawn
from the data: per query kind and per type (all, messages, tickets, customers), newest first
and by relevance, in the big org and in a small one (checking by SQL that no hit belongs to
another org). The statements the endpoint sends are captured in-process and the slowest ones
EXPLAINed (ANALYZE, BUFFERS) under RLS. Writes bench/results-search.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import psycopg

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
# The code measured: a snapshot of the working tree (or of --ref) made by the parent process,
# which the app, the CLI commands and this process import first (PYTHONPATH beats the editable
# install), so that a run measures one version while others edit helpdesk/.
CODE = Path(os.environ.get("BENCH_SEARCH_CODE", str(REPO)))
sys.path[:0] = [str(CODE), str(BENCH_DIR)]

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/helpdesk_bench_search"
DB_URL = os.environ.get("BENCH_SEARCH_DATABASE_URL", DEFAULT_URL)
REDIS_URL = os.environ.get("BENCH_SEARCH_REDIS_URL", "redis://127.0.0.1:6379/9")
PASSWORD = "bench-password"

import common  # noqa: E402

APP_ENV = common.app_env(DB_URL, REDIS_URL, CODE)
os.environ.update(APP_ENV)

import seed_search  # noqa: E402
from common import log, mb, summary  # noqa: E402
from search_text import CORE_WORDS, vocabulary  # noqa: E402

N_REQUESTS, N_WARMUP = 200, 20
SMALL = "search-07"
TYPES = ("all", "messages", "tickets", "customers")
KINDS = ("common word", "mid word", "rare token", "two words", "phrase", "ticket number",
         "#ticket number", "email")
SEARCH_PATH = "/api/v1/search"
# Adjacent words of the templates (bench/search_text.py): each pair occurs in the messages.
PHRASES = ("tracking number", "credit card", "return label", "delivery address",
           "business days", "gift card", "full refund", "spam folder", "reset link",
           "original payment", "free shipping", "confirmation email", "order history",
           "wrong item", "customer service", "payment method", "bank account", "size chart",
           "import duty", "loud noise")


def dsn() -> str:
    return common.conninfo(DB_URL)


# ---------------------------------------------------------------------------------------------
# database and data
# ---------------------------------------------------------------------------------------------

def org_ids() -> dict[str, int]:
    with psycopg.connect(dsn()) as conn:
        return dict(conn.execute("SELECT slug, id FROM organizations WHERE slug LIKE 'search-%'"
                                 ).fetchall())


def seeded_as_expected(specs: list[seed_search.OrgSpec]) -> str | None:
    """None when the database holds the data of `specs` with its GIN indexes, else why not."""
    with psycopg.connect(dsn()) as conn:
        counters = dict(conn.execute(
            "SELECT o.slug, c.last_number FROM organizations o JOIN ticket_counters c"
            " ON c.org_id = o.id WHERE o.slug LIKE 'search-%'").fetchall())
        indexes = {r[0] for r in conn.execute(
            "SELECT indexname FROM pg_indexes WHERE indexname = ANY(%s)",
            (list(seed_search.GIN_INDEXES),)).fetchall()}
        messages = conn.execute("SELECT count(*) FROM messages").fetchone()[0]
    want = {s.slug: s.tickets for s in specs}
    if counters != want:
        return f"ticket counters {len(counters)} orgs, not the expected {len(want)}"
    if indexes != set(seed_search.GIN_INDEXES):
        return f"GIN indexes missing: {set(seed_search.GIN_INDEXES) - indexes}"
    if messages != sum(s.messages for s in specs):
        return f"{messages:,} messages, expected {sum(s.messages for s in specs):,}"
    return None


def create_orgs_and_staff(specs: list[seed_search.OrgSpec]) -> None:
    """Orgs, owners and agents through the real CLI commands (in-process runner)."""
    run = common.flask_cli()
    for o, spec in enumerate(specs):
        run("org", "create", spec.slug, "--name", spec.name, "--owner-email",
            seed_search.owner_email(spec.slug), "--owner-password", PASSWORD, "--owner-name",
            seed_search.agent_name(o, 0), "--plan", "enterprise")
        for i in range(1, spec.agents + 1):
            run("user", "create", "--org", spec.slug, "--email",
                seed_search.agent_email(spec.slug, i), "--password", PASSWORD, "--name",
                seed_search.agent_name(o, i), "--role", "agent")
    with psycopg.connect(dsn()) as conn:
        ids = org_ids()
        users = dict(conn.execute("SELECT email, id FROM users").fetchall())
    for spec in specs:
        spec.org_id = ids[spec.slug]
        spec.owner_id = users[seed_search.owner_email(spec.slug)]
        spec.agent_ids = [users[seed_search.agent_email(spec.slug, i)]
                          for i in range(1, spec.agents + 1)]


def dataset_figures() -> dict[str, str]:
    """Counts and text statistics, measured once after the seed."""
    with psycopg.connect(dsn()) as conn:
        row = conn.execute(
            "SELECT count(*), avg(array_length(regexp_split_to_array(coalesce(body_visible,"
            " body_text), '\\s+'), 1)), avg(length(body_text)), avg(length(search_vector)),"
            " count(body_visible), count(*) FILTER (WHERE kind = 'customer'),"
            " count(*) FILTER (WHERE kind = 'reply'), count(*) FILTER (WHERE kind = 'note')"
            " FROM messages TABLESAMPLE SYSTEM (2) REPEATABLE (1)").fetchone()
        per_org = conn.execute(
            "SELECT o.slug, (SELECT count(*) FROM customers c WHERE c.org_id = o.id),"
            " (SELECT count(*) FROM tickets t WHERE t.org_id = o.id),"
            " (SELECT count(*) FROM messages m WHERE m.org_id = o.id)"
            " FROM organizations o WHERE o.slug IN (%s, %s) ORDER BY o.slug",
            (seed_search.BIG, SMALL)).fetchall()
        totals = conn.execute(
            "SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM tickets),"
            " (SELECT count(*) FROM messages), (SELECT min(created_at)::date FROM messages),"
            " (SELECT max(created_at)::date FROM messages),"
            " (SELECT count(*) FROM (SELECT email FROM customers GROUP BY email"
            "  HAVING count(*) > 1) x)").fetchone()
    sample, words, chars, lexemes, visible, customer, reply, note = row
    return {
        "rows": (f"{totals[0]:,} customers, {totals[1]:,} tickets, {totals[2]:,} messages "
                 f"({totals[3]} .. {totals[4]}); "
                 + "; ".join(f"{s}: {c:,} customers, {t:,} tickets, {m:,} messages"
                             for s, c, t, m in per_org)
                 + f"; {totals[5]:,} addresses exist in more than one org"),
        "text": (f"vocabulary {len(vocabulary()):,} words (Zipf-like) + names, numbers, "
                 f"SKUs, tracking numbers; a 2% sample of {sample:,} messages: "
                 f"{words:.0f} words of indexed text on average ({chars:.0f} characters of "
                 f"body_text), {lexemes:.0f} distinct lexemes per vector, "
                 f"{visible / sample:.0%} with a shorter body_visible; "
                 f"{customer / sample:.0%} customer / {reply / sample:.0%} reply / "
                 f"{note / sample:.0%} note"),
    }


def sizes() -> tuple[int, list[tuple[str, int, int, int]], list[tuple[str, int]]]:
    with psycopg.connect(dsn()) as conn:
        total = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        tables = conn.execute(
            "SELECT relname, pg_relation_size(oid), pg_table_size(oid) - pg_relation_size(oid),"
            " pg_indexes_size(oid) FROM pg_class"
            " WHERE relname IN ('tickets', 'messages', 'customers') ORDER BY relname").fetchall()
        indexes = conn.execute(
            "SELECT relname, pg_relation_size(oid) FROM pg_class WHERE relname = ANY(%s)"
            " ORDER BY relname", (list(seed_search.GIN_INDEXES),)).fetchall()
    return total, tables, indexes


# ---------------------------------------------------------------------------------------------
# the queries, drawn from the data
# ---------------------------------------------------------------------------------------------

def _matches(conn, org_id: int, table: str, query: str, function: str = "plainto_tsquery"
             ) -> int:
    return conn.execute(
        f"SELECT count(*) FROM {table} WHERE org_id = %s AND search_vector @@"
        f" {function}('simple', %s)", (org_id, query)).fetchone()[0]


def build_queries(slug: str, per_kind: int, seed: int = 5) -> dict[str, list[tuple[str, int]]]:
    """`per_kind` queries of each kind that match something in the org's data, with the
    number of matching messages (or tickets/customers for numbers and addresses)."""
    rng = random.Random(f"{seed}-{slug}")
    vocab = vocabulary()
    with psycopg.connect(dsn()) as conn:
        org_id = conn.execute("SELECT id FROM organizations WHERE slug = %s",
                              (slug,)).fetchone()[0]
        n_messages = conn.execute("SELECT count(*) FROM messages WHERE org_id = %s",
                                  (org_id,)).fetchone()[0]
        n_tickets = conn.execute("SELECT last_number FROM ticket_counters WHERE org_id = %s",
                                 (org_id,)).fetchone()[0]
        queries: dict[str, list[tuple[str, int]]] = {kind: [] for kind in KINDS}

        # Document frequencies from the GIN index, for words from bands of the ranking.
        def df(word: str) -> int:
            return _matches(conn, org_id, "messages", word)

        core = [w for w in CORE_WORDS if w.isalpha()]
        for word in rng.sample(core[:60], min(per_kind, 60)):
            queries["common word"].append((word, df(word)))
        mid_band = (0.002 * n_messages, 0.03 * n_messages)
        candidates = [w for w in vocab[600:2000] if w.isalpha()]
        rng.shuffle(candidates)
        for word in candidates:
            if len(queries["mid word"]) >= per_kind:
                break
            count = df(word)
            if mid_band[0] <= count <= mid_band[1]:
                queries["mid word"].append((word, count))

        # Rare tokens: SKUs, tracking and invoice numbers as they occur in this org's mail.
        sample = conn.execute(
            "SELECT body_text FROM messages WHERE org_id = %s AND id %% 97 = 3"
            " ORDER BY id LIMIT 5000", (org_id,)).fetchall()
        tokens = []
        for (body,) in sample:
            tokens += re.findall(r"\bSKU-\d{5}\b|\b1Z[0-9A-Z]{16}\b|\bJJD\d{15}\b|"
                                 r"\bRM\d{9}GB\b|\bINV-\d{4}-\d{6}\b", body)
        tokens = sorted(set(tokens))
        rng.shuffle(tokens)
        for token in tokens:
            if len(queries["rare token"]) >= per_kind:
                break
            count = _matches(conn, org_id, "messages", token)
            if 1 <= count <= 100:
                queries["rare token"].append((token, count))

        commons = [w for w, _ in queries["common word"]]
        mids = [w for w, _ in queries["mid word"]]
        for i in range(per_kind * 3):
            if len(queries["two words"]) >= per_kind:
                break
            pair = f"{commons[i % len(commons)]} {mids[(i * 7) % len(mids)]}"
            count = _matches(conn, org_id, "messages", pair)
            if count:
                queries["two words"].append((pair, count))

        phrases = list(PHRASES)
        rng.shuffle(phrases)
        for phrase in (phrases * 3)[:per_kind]:
            count = _matches(conn, org_id, "messages", phrase, "phraseto_tsquery")
            if count:
                queries["phrase"].append((f'"{phrase}"', count))

        for _ in range(per_kind):
            number = rng.randint(1, n_tickets)
            queries["ticket number"].append((str(number), 1))
            number = rng.randint(1, n_tickets)
            queries["#ticket number"].append((f"#{number}", 1))

        emails = conn.execute(
            "SELECT email FROM customers WHERE org_id = %s AND id %% 13 = 5 ORDER BY id"
            " LIMIT %s", (org_id, per_kind * 4)).fetchall()
        for (email,) in rng.sample(emails, min(per_kind, len(emails))):
            queries["email"].append((email, _matches(conn, org_id, "customers", email)))
    short = {kind: len(found) for kind, found in queries.items() if len(found) < per_kind}
    if short:
        log(f"  warning: fewer queries than wanted for {short}")
    return queries


def request_order(queries: dict[str, list[tuple[str, int]]], n: int, warmup: int,
                  seed: int = 11) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(warm-up, measured) lists of (kind, query): kinds interleaved, warm-ups from the end of
    each kind's list so that they differ from the measured queries where possible."""
    rng = random.Random(seed)
    per_kind = n // len(KINDS)
    measured = [(kind, queries[kind][i % len(queries[kind])][0])
                for i in range(per_kind) for kind in KINDS]
    rng.shuffle(measured)
    warm = [(kind, queries[kind][-1 - (i // len(KINDS)) % len(queries[kind])][0])
            for i, kind in zip(range(warmup), KINDS * warmup, strict=False)]
    return warm, measured[:n]


# ---------------------------------------------------------------------------------------------
# measurements
# ---------------------------------------------------------------------------------------------

def search_path(query: str, type_: str, sort: str | None = None) -> str:
    path = f"{SEARCH_PATH}?q={quote(query, safe='')}"
    if type_ != "all":
        path += f"&type={type_}"
    if sort:
        path += f"&sort={sort}"
    return path


def run_searches(client, warm, measured, type_: str, sort: str | None = None):
    """Sequential GETs; returns per-kind and overall summaries, hit counts and every hit."""
    for _, query in warm:
        response = client.get(search_path(query, type_, sort))
        if response.status != 200:
            raise RuntimeError(f"GET {search_path(query, type_, sort)}: HTTP {response.status}:"
                               f" {response.text[:300]}")
    per_kind: dict[str, list[float]] = {}
    hits_per_kind: dict[str, list[int]] = {}
    stopped: dict[str, int] = {}
    every_hit: list[tuple[str, int]] = []
    for kind, query in measured:
        path = search_path(query, type_, sort)
        response = client.get(path)
        if response.status != 200:
            raise RuntimeError(f"GET {path}: HTTP {response.status}: {response.text[:300]}")
        body = json.loads(response.body)
        per_kind.setdefault(kind, []).append(response.seconds)
        hits_per_kind.setdefault(kind, []).append(len(body["data"]))
        if body.get("notice"):  # the search was stopped by its statement timeout
            stopped[kind] = stopped.get(kind, 0) + 1
        every_hit += [(hit["type"], hit["id"]) for hit in body["data"]]
    stats = {kind: summary(times) for kind, times in per_kind.items()}
    stats["overall"] = summary([t for times in per_kind.values() for t in times])
    return stats, hits_per_kind, stopped, every_hit


def foreign_hits(hits: list[tuple[str, int]], org_id: int) -> tuple[int, int]:
    """(hits checked, hits whose row belongs to another org), by SQL as the owner."""
    tables = {"ticket": "tickets", "message": "messages", "customer": "customers"}
    by_type: dict[str, set[int]] = {}
    for type_, id_ in hits:
        if type_ not in tables:
            raise RuntimeError(f"unknown hit type {type_!r}")
        by_type.setdefault(type_, set()).add(id_)
    checked = foreign = 0
    with psycopg.connect(dsn()) as conn:
        for type_, ids in by_type.items():
            rows = conn.execute(f"SELECT id, org_id FROM {tables[type_]} WHERE id = ANY(%s)",
                                (list(ids),)).fetchall()
            found = dict(rows)
            checked += len(ids)
            foreign += sum(1 for i in ids if found.get(i) != org_id)
    return checked, foreign


SQL_REFERENCE = {
    "messages": "SELECT id FROM messages WHERE org_id = %(org)s AND search_vector @@ q"
                " ORDER BY id DESC LIMIT 25",
    "tickets": "SELECT id FROM tickets WHERE org_id = %(org)s AND search_vector @@ q"
               " ORDER BY id DESC LIMIT 25",
    "customers": "SELECT id FROM customers WHERE org_id = %(org)s AND search_vector @@ q"
                 " ORDER BY id DESC LIMIT 25",
    "messages, every match ranked": "SELECT id FROM messages WHERE org_id = %(org)s AND"
                                    " search_vector @@ q ORDER BY ts_rank_cd(search_vector, q)"
                                    " DESC, id DESC LIMIT 25",
}


def sql_reference(org_id: int, measured, n: int) -> dict[str, dict[str, dict[str, float]]]:
    """Plain SQL of the kind an endpoint would send (not the app's), as helpdesk_app under RLS:
    what the database alone needs for each query kind."""
    results = {}
    with psycopg.connect(dsn()) as conn:
        conn.execute("SET ROLE helpdesk_app")
        for label, sql in SQL_REFERENCE.items():
            statement = sql.replace("FROM ", "FROM websearch_to_tsquery('simple', %(q)s) q, ", 1)
            per_kind: dict[str, list[float]] = {}
            for kind, query in measured[:n]:
                with conn.transaction():
                    conn.execute("SELECT set_config('app.current_org', %s, true)",
                                 (str(org_id),))
                    t0 = time.perf_counter()
                    conn.execute(statement, {"org": org_id, "q": query}).fetchall()
                    per_kind.setdefault(kind, []).append(time.perf_counter() - t0)
            stats = {kind: summary(times) for kind, times in per_kind.items()}
            stats["overall"] = summary([t for times in per_kind.values() for t in times])
            results[label] = stats
            log(f"  SQL {label}: p50 {stats['overall']['p50']:.1f} ms, p95 "
                f"{stats['overall']['p95']:.1f} ms, max {stats['overall']['max']:.1f} ms")
    return results


def api_available(port: int, token: str) -> tuple[bool, str]:
    from httpclient import Client

    client = Client("127.0.0.1", port, {"Authorization": f"Bearer {token}"})
    response = client.get(search_path("refund", "all"))
    client.close()
    if response.status == 200:
        try:
            body = json.loads(response.body)
        except ValueError:
            return False, "answers 200 without JSON"
        if isinstance(body, dict) and isinstance(body.get("data"), list):
            return True, ""
        return False, f"unexpected body {response.text[:200]}"
    return False, f"HTTP {response.status}"


def search_commit() -> str | None:
    """The commit that brought GET /api/v1/search, if it has landed."""
    out = subprocess.run(["git", "-C", str(REPO), "log", "--oneline", "-100"],
                         capture_output=True, text=True).stdout
    for line in reversed(out.splitlines()):  # the oldest such commit
        if re.search(r"/api/v1/search|search api", line, re.I):
            return line
    return None


def code_state() -> str:
    """What the run measured: the snapshot's description, or the live tree (--live)."""
    if os.environ.get("BENCH_SEARCH_CODE_DESCRIPTION"):
        return os.environ["BENCH_SEARCH_CODE_DESCRIPTION"]
    head = subprocess.run(["git", "-C", str(REPO), "log", "--oneline", "-1"],
                          capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--short", "--", "helpdesk",
                            "migrations"], capture_output=True, text=True).stdout.split("\n")
    dirty = [line[3:] for line in dirty if line.strip()]
    return (f"the live tree (--live; it may have changed during the run): {head}"
            + (f" + uncommitted {', '.join(dirty)}" if dirty else ""))


def schema_state() -> str:
    """What the plans depend on besides the code: migration, LEAKPROOF, statistics targets."""
    with psycopg.connect(dsn()) as conn:
        version = conn.execute("SELECT version_num FROM alembic_version").fetchone()[0]
        leakproof = conn.execute("SELECT proleakproof FROM pg_proc WHERE proname = 'ts_match_vq'"
                                 ).fetchone()[0]
        targets = conn.execute(
            "SELECT string_agg(c.relname || ' ' || a.attstattarget, ', ' ORDER BY c.relname)"
            " FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
            " WHERE a.attname = 'search_vector' AND c.relname IN"
            " ('tickets', 'messages', 'customers')").fetchone()[0]
    return (f"alembic {version}; ts_match_vq leakproof: {leakproof}; statistics target of "
            f"search_vector (-1 = default): {targets}")


def run_on_snapshot(args) -> int:
    """Snapshot the code, run this script again on it (as a child), remove the snapshot."""
    return common.run_on_snapshot(Path(__file__).resolve(), args.ref, "BENCH_SEARCH_CODE",
                                  "bench-search-")


def reindex_available() -> bool:
    result = subprocess.run([str(common.VENV_BIN / "flask"), "--app", "wsgi", "search",
                             "--help"], cwd=CODE, env={**os.environ, **APP_ENV},
                            capture_output=True, text=True)
    return result.returncode == 0 and "reindex" in result.stdout


def time_reindex(slug: str) -> tuple[float, str, float]:
    """`flask search reindex --org SLUG` (seconds, its summary line), then VACUUM ANALYZE of
    the rewritten tables (seconds) so that later --reuse runs do not measure the dead rows."""
    t0 = time.perf_counter()
    result = subprocess.run([str(common.VENV_BIN / "flask"), "--app", "wsgi", "search",
                             "reindex", "--org", slug], cwd=CODE,
                            env={**os.environ, **APP_ENV}, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if result.returncode != 0:
        raise RuntimeError(f"flask search reindex: exit {result.returncode}: "
                           f"{(result.stdout + result.stderr)[-1000:]}")
    lines = result.stdout.strip().splitlines()
    t0 = time.perf_counter()
    with psycopg.connect(dsn(), autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '1GB'")
        for table in ("tickets", "customers", "messages"):
            conn.execute(f"VACUUM (ANALYZE) {table}")
    return seconds, lines[-1] if lines else "", time.perf_counter() - t0


# ---------------------------------------------------------------------------------------------
# the SQL the endpoint sends
# ---------------------------------------------------------------------------------------------

def capture_sql(token: str, paths: dict[str, str]) -> dict[str, list[tuple[str, dict, float]]]:
    """Run the endpoint in-process (Flask test client, the bearer token) and record every
    statement it sends with its parameters and duration."""
    return common.capture_sql(common.app_for_cli(), {"Authorization": f"Bearer {token}"}, paths)


# ---------------------------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=N_REQUESTS)
    parser.add_argument("--sql", action="store_true",
                        help="also time plain reference SQL without the app (slow: ranks "
                             "every match)")
    parser.add_argument("--skip-reindex", action="store_true",
                        help="do not time `flask search reindex` (it rewrites 1.3M rows)")
    common.add_run_arguments(parser, BENCH_DIR / "results-search.md")
    args = parser.parse_args()
    if not args.live and "BENCH_SEARCH_CODE" not in os.environ:
        return run_on_snapshot(args)
    # A plain kill runs the finally blocks (gunicorn is stopped) instead of dying on the spot.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    specs = seed_search.org_specs(args.scale)
    figures: dict[str, str] = {}
    notes: list[str] = []

    reuse = args.reuse
    if reuse:
        common.ensure_database(DB_URL, fresh=False)
        common.migrate(APP_ENV, cwd=CODE)
        why = seeded_as_expected(specs)
        if why:
            log(f"--reuse: {why}: reseeding")
            reuse = False
        else:  # a migration may have changed statistics targets: fresh planner statistics
            t0 = time.perf_counter()
            with psycopg.connect(dsn(), autocommit=True) as conn:
                conn.execute("ANALYZE tickets, messages, customers")
            log(f"--reuse: ANALYZE of tickets, messages, customers in "
                f"{time.perf_counter() - t0:.1f} s")
    if not reuse:
        common.ensure_database(DB_URL, fresh=True, force=args.force)
        t0 = time.perf_counter()
        common.migrate(APP_ENV, cwd=CODE)
        log(f"migrated in {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        create_orgs_and_staff(specs)
        log(f"{len(specs)} orgs with their staff (flask org/user create) in "
            f"{time.perf_counter() - t0:.1f} s")
        log(f"seeding (scale {args.scale}, {args.workers} COPY connections)")
        result = seed_search.seed(dsn(), specs, workers=args.workers, log=log)
        problems = {k: v for k, v in seed_search.verify(dsn()).items() if v}
        if problems:
            raise SystemExit(f"seed problems: {problems}")
        seeded = {"seed": f"{result.seconds:.0f} s", "phases": {
            k: round(v, 1) for k, v in result.phases.items()}, **dataset_figures()}
        common.save_seed_figures(DB_URL, "bench/search.py", json.dumps(seeded))
    else:
        saved = common.saved_seed_figures(DB_URL)
        try:
            seeded = json.loads(saved[saved.index("{"):])
        except ValueError:
            seeded = {"seed": saved, "phases": {}}
        seeded["seed"] = f"reused (--reuse); seeded {seeded['seed']}"
    figures["seed"] = seeded["seed"]
    phases = seeded.get("phases", {})
    total, tables, indexes = sizes()
    figures["database size"] = mb(total)
    log(f"seed: {figures['seed']}")
    for name, seconds in phases.items():
        log(f"  {name}: {seconds:.1f} s")
    log(f"database size: {figures['database size']}")
    for name, heap, toast, index in tables:
        log(f"  {name}: heap {mb(heap)}, TOAST {mb(toast)}, indexes {mb(index)}")
    for name, size in indexes:
        log(f"  {name}: {mb(size)}")
    if args.seed_only:
        return 0

    ids = org_ids()
    log("building the query mix from the data")
    per_kind = max(3, args.requests // len(KINDS)) + 3
    mixes = {slug: build_queries(slug, per_kind) for slug in (seed_search.BIG, SMALL)}
    for slug, queries in mixes.items():
        for kind, found in queries.items():
            counts = sorted(c for _, c in found)
            log(f"  {slug} {kind}: {len(found)} queries, e.g. {found[0][0]!r}; matching rows "
                f"median {counts[len(counts) // 2]:,}, max {counts[-1]:,}")
    orders = {slug: request_order(q, args.requests, N_WARMUP) for slug, q in mixes.items()}

    sql_stats = {}
    if args.sql:
        log("reference SQL (not the app), big org, as helpdesk_app under RLS")
        sql_stats = sql_reference(ids[seed_search.BIG], orders[seed_search.BIG][1],
                                  args.requests)

    landed = search_commit()
    log(f"search API commit: {landed or 'none yet'}")
    latencies: dict[str, dict] = {}
    hits: dict[str, dict[str, list[int]]] = {}
    timeouts: dict[str, dict[str, int]] = {}
    in_process: dict[str, tuple[int, float, float]] = {}
    isolation = ""
    plans: list[tuple[str, str, str, float]] = []
    figures["code"] = code_state()
    figures["schema"] = schema_state()
    load_before = os.getloadavg()[0]
    big_agent = seed_search.agent_email(seed_search.BIG, 1)
    small_agent = seed_search.agent_email(SMALL, 1)
    big_token = common.create_token(seed_search.BIG, big_agent, APP_ENV, cwd=CODE)
    small_token = common.create_token(SMALL, small_agent, APP_ENV, cwd=CODE)
    server = common.Gunicorn("wsgi:app", "search", APP_ENV, cwd=CODE)
    api_ok = False
    try:
        log(f"app: gunicorn -w 1 --threads 64 on 127.0.0.1:{server.port}")
        api_ok, why = api_available(server.port, big_token)
        if not api_ok:
            notes.append(f"GET {SEARCH_PATH} is not available ({why}): no HTTP figures")
            log(notes[-1])
        else:
            from httpclient import Client

            runs = [(seed_search.BIG, big_token, t, None) for t in TYPES]
            runs.append((seed_search.BIG, big_token, "messages", "relevance"))
            runs += [(SMALL, small_token, t, None) for t in TYPES]
            small_hits: list[tuple[str, int]] = []
            for slug, token, type_, sort in runs:
                label = f"{slug} type={type_}" + (f" sort={sort}" if sort else "")
                log(f"{label}: {args.requests} searches after {N_WARMUP} warm-ups")
                client = Client("127.0.0.1", server.port, {"Authorization": f"Bearer {token}"})
                warm, measured = orders[slug]
                stats, hit_counts, stopped, every_hit = run_searches(client, warm, measured,
                                                                     type_, sort)
                client.close()
                latencies[label] = stats
                hits[label] = hit_counts
                timeouts[label] = stopped
                o = stats["overall"]
                log(f"  p50 {o['p50']:.1f} ms, p95 {o['p95']:.1f} ms, max {o['max']:.1f} ms; "
                    f"stopped by the time limit: {sum(stopped.values())} {stopped or ''}")
                for kind in KINDS:
                    k = stats.get(kind)
                    if k:
                        log(f"    {kind}: p50 {k['p50']:.1f}, p95 {k['p95']:.1f}, max "
                            f"{k['max']:.1f} ms; hits median "
                            f"{sorted(hit_counts[kind])[len(hit_counts[kind]) // 2]}")
                if slug == SMALL:
                    small_hits += every_hit
            checked, foreign = foreign_hits(small_hits, ids[SMALL])
            isolation = (f"{checked:,} distinct hits returned to the {SMALL} agent checked by"
                         f" SQL: {foreign} belong to another org")
            log(isolation)
            if foreign:
                notes.append(f"ISOLATION FAILURE: {isolation}")
    finally:
        server.stop()
    figures["load"] = (f"1-minute load average {load_before:.1f} before the measurements, "
                       f"{os.getloadavg()[0]:.1f} after (2 cores; above ~1 means other work "
                       "competed with the benchmark)")

    if api_ok:
        try:
            log("capturing the endpoint's SQL in-process; EXPLAIN (ANALYZE, BUFFERS) of the "
                "slowest statements")
            paths = {}
            queries = mixes[seed_search.BIG]
            for kind in KINDS:
                query = queries[kind][0][0]
                for type_ in TYPES:
                    paths[f"{kind} type={type_}"] = search_path(query, type_)
                paths[f"{kind} type=messages sort=relevance"] = search_path(query, "messages",
                                                                            "relevance")
            captured = capture_sql(big_token, paths)
            slowest = sorted(((seconds, label, statement, parameters)
                              for label, statements in captured.items()
                              for statement, parameters, seconds in statements
                              if re.search(r"search_vector|tsquery", statement)),
                             key=lambda x: -x[0])
            seen = set()
            big_id = ids[seed_search.BIG]
            user_id = user_id_of(big_agent)
            for seconds, label, statement, parameters in slowest:
                key = (statement, label.split(" type=")[0])
                if key in seen or len(plans) >= 8:
                    continue
                seen.add(key)
                plan = common.explain(dsn(), statement, parameters, big_id, user_id)
                plans.append((label, statement, plan, seconds * 1000))
                log(f"\n--- {label} ({seconds * 1000:.0f} ms in-process) ---\n{statement}\n"
                    f"{parameters}\n{plan}")
            for label, statements in captured.items():
                searching = [sec for st, _, sec in statements
                             if re.search(r"search_vector|tsquery", st)]
                in_process[label] = (len(statements), sum(sec for _, _, sec in statements),
                                     max(searching, default=0.0))
        except Exception as error:  # the HTTP figures are still worth writing
            notes.append(f"SQL capture / EXPLAIN failed: {error!r}")
            log(notes[-1])

    if args.skip_reindex:
        figures["reindex"] = "not measured (--skip-reindex)"
    elif reindex_available():
        log(f"flask search reindex --org {seed_search.BIG}")
        seconds, output, vacuum = time_reindex(seed_search.BIG)
        figures["reindex"] = (f"{seconds:.1f} s ({output}); VACUUM ANALYZE of the three "
                              f"tables afterwards {vacuum:.1f} s")
        log(f"  {figures['reindex']}")
    else:
        figures["reindex"] = "not measured: `flask search reindex` does not exist (yet)"
        log(figures["reindex"])

    report(args, figures, seeded, phases, (total, tables, indexes), mixes, sql_stats,
           latencies, hits, timeouts, isolation, plans, in_process, notes, landed)
    return 0


def user_id_of(email: str) -> int:
    with psycopg.connect(dsn()) as conn:
        return conn.execute("SELECT id FROM users WHERE email = %s", (email,)).fetchone()[0]


def _stats_table(title: str, runs: dict[str, dict], hits: dict | None = None) -> list[str]:
    columns = list(KINDS) + ["overall"]
    lines = [f"| {title} | " + " | ".join(columns) + " |",
             "|---|" + "---|" * len(columns)]
    for label, stats in runs.items():
        cells = []
        for kind in columns:
            s = stats.get(kind)
            cells.append(f"{s['p50']:.0f} / {s['p95']:.0f} / {s['max']:.0f}" if s else "")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    if hits:
        lines += ["", "Hits on the first page (median per kind):", "",
                  "| run | " + " | ".join(KINDS) + " |", "|---|" + "---|" * len(KINDS)]
        for label, per_kind in hits.items():
            cells = [str(sorted(per_kind[k])[len(per_kind[k]) // 2]) if per_kind.get(k) else ""
                     for k in KINDS]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def report(args, figures, seeded, phases, sizes_, mixes, sql_stats, latencies, hits, timeouts,
           isolation, plans, in_process, notes, landed) -> None:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    total, tables, indexes = sizes_
    command = "`.venv/bin/python bench/search.py" + (" --reuse" if args.reuse else "") + (
        f" --scale {args.scale}" if args.scale != 1 else "") + "`"
    lines = [f"# Search benchmark, {now}", "",
             f"Machine: {common.machine(DB_URL)}. Command: {command}.", "",
             f"Code: {figures['code']}" + (f" (search API: {landed})" if landed else ""), "",
             f"Database: {figures['schema']}", "",
             f"- Data: {seeded.get('rows', '')}",
             f"- Text: {seeded.get('text', '')}",
             f"- Seed: {figures['seed']}"]
    lines += [f"  - {name}: {seconds:.1f} s" for name, seconds in phases.items()]
    lines.append(f"- Database size: {mb(total)}")
    lines += [f"  - {name}: heap {mb(heap)}, TOAST {mb(toast)}, indexes {mb(index)}"
              for name, heap, toast, index in tables]
    lines += [f"  - {name}: {mb(size)}" for name, size in indexes]
    lines += [f"- Load: {figures.get('load', '')}",
              f"- `flask search reindex --org {seed_search.BIG}`: {figures['reindex']}", ""]
    lines += ["## Query mix", "",
              f"{args.requests} sequential searches per run after {N_WARMUP} warm-ups, kinds "
              "interleaved, drawn from each org's data. Matching rows counted by SQL in the "
              "org: messages for words, tokens and phrases (`plainto_tsquery` / "
              "`phraseto_tsquery`); customers with the address for emails; a ticket number is "
              "one ticket (numbers are drawn from 1..N, and also match any text with that "
              "number).", "",
              "| kind | org | examples | matching rows (median, max) |", "|---|---|---|---|"]
    for slug, queries in mixes.items():
        for kind, found in queries.items():
            counts = sorted(c for _, c in found)
            examples = ", ".join(f"`{q}`" for q, _ in found[:3])
            lines.append(f"| {kind} | {slug} | {examples} | {counts[len(counts) // 2]:,}, "
                         f"{counts[-1]:,} |")
    lines.append("")
    if latencies:
        lines += ["## GET /api/v1/search through gunicorn (ms: p50 / p95 / max)", ""]
        lines += _stats_table("run", latencies, hits)
        lines += ["", "Searches stopped by the endpoint's statement timeout (an empty page "
                  "with a notice), per kind:", "",
                  "| run | " + " | ".join(KINDS) + " | total |",
                  "|---|" + "---|" * (len(KINDS) + 1)]
        for label, stopped in timeouts.items():
            lines.append(f"| {label} | " + " | ".join(str(stopped.get(k, 0)) for k in KINDS)
                         + f" | {sum(stopped.values())} |")
        lines += ["", f"- Isolation: {isolation}", ""]
    if sql_stats:
        lines += ["## Reference SQL without the app (ms: p50 / p95 / max)", "",
                  "One `websearch_to_tsquery('simple', q)` statement per search as "
                  "helpdesk_app under RLS, first 25 rows; not the endpoint's SQL:", ""]
        for label, sql in SQL_REFERENCE.items():
            lines.append(f"- {label}: `{sql}`")
        lines.append("")
        lines += _stats_table("statement", sql_stats)
        lines.append("")
    if in_process:
        lines += ["## The endpoint in-process (first query of each kind, search-big)", "",
                  "| request | statements | their time ms | slowest search statement ms |",
                  "|---|---|---|---|"]
        lines += [f"| {label} | {n} | {total * 1000:.0f} | {slowest * 1000:.0f} |"
                  for label, (n, total, slowest) in in_process.items()]
        lines.append("")
    if plans:
        lines += ["## The endpoint's slowest statements", "",
                  "| request | in-process ms | plan |", "|---|---|---|"]
        lines += [f"| {label} | {ms:.0f} | {common.plan_nodes(plan)} |"
                  for label, _, plan, ms in plans]
        lines.append("")
    lines += [f"- {note}" for note in notes]
    table = "\n".join(lines)
    log("\n" + table)
    details = ["", "## Plans", ""]
    for label, statement, plan, _ in plans:
        details += [f"### {label}", "", "```sql", statement.strip(), "```", "", "```", plan,
                    "```", ""]
    Path(args.out).write_text(table + "\n" + "\n".join(details))
    log(f"\nwritten to {args.out}")


if __name__ == "__main__":
    sys.exit(main())
