"""End-to-end mail ingest benchmark: a real Dovecot mailbox -> RQ workers -> threaded tickets.

    .venv/bin/python bench/mail_ingest.py [--count 2000] [--seed 1] [--workers 1,2]
                                          [--repeat 1] [--profile | --profile-only]

Generates the workload with /work/shared/bench/make_mail.py (Maildir + truth file), starts a
throwaway Dovecot (the config of tests/mailservers.py), delivers the mails into one IMAP account
in arrival order (Date header) with one pipelined MULTIAPPEND, then per worker count: a fresh
database (drop, create, `flask db upgrade`), one org, one mailbox on the Dovecot account, N real
RQ worker processes on the `mail` queue (worker.main.run_worker, as `flask worker` runs it), and
the clock runs from enqueuing helpdesk.mail.jobs.poll_mailbox until every InboundEmail row is
processed. Scores threading against the truth file. --profile adds an in-process run under
cProfile. Prints a summary and writes bench/results-mail.md.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import cProfile
import email.utils
import io
import json
import os
import platform
import pstats
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from pathlib import Path
from urllib.parse import urlsplit

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
VENV_BIN = Path(sys.executable).parent
# The code measured: a snapshot of the working tree or of a commit (see snapshot_code), which
# the workers and in-process children import first (PYTHONPATH beats the editable install).
CODE = Path(os.environ.get("BENCH_MAIL_CODE", str(REPO)))
sys.path[:0] = [str(CODE), str(BENCH_DIR)]

import common  # noqa: E402  (bench/common.py: helpers shared by the benchmarks)

MAKE_MAIL = Path(os.environ.get("BENCH_MAKE_MAIL", "/work/shared/bench/make_mail.py"))
DB_URL = os.environ.get("BENCH_MAIL_DATABASE_URL",
                        "postgresql+psycopg://postgres@127.0.0.1:5432/helpdesk_bench_mail")
REDIS_URL = os.environ.get("BENCH_MAIL_REDIS_URL", "redis://127.0.0.1:6379/9")
SLUG = "bench-mail"
OWNER = "owner@bench-mail.example"
PASSWORD = "bench-password"
IMAP_PASSWORD = "bench-imap-secret"
RSS_INTERVAL = 0.05  # seconds between RSS samples of the worker processes
DONE_TIMEOUT = 1800  # seconds: give up on a run after this long
GOAL_RATE = 670  # messages/s per worker (the goal)
PEER = {"rate": 67, "threading": "35% (files in directory order; 80.5% in arrival order)",
        "tickets": 1669}


def log(*args) -> None:
    print(*args, flush=True)


def conninfo(url: str = DB_URL) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def db_name() -> str:
    return urlsplit(conninfo()).path.lstrip("/")


def admin_conninfo() -> str:
    return conninfo().rsplit("/", 1)[0] + "/postgres"


def app_env(instance: Path, parallelism: int = 1) -> dict[str, str]:
    """The environment of the app in this process and of the workers (SMTP_URL unset)."""
    env = {k: v for k, v in os.environ.items() if k != "SMTP_URL"}
    env.update({
        "DATABASE_URL": DB_URL,
        "REDIS_URL": REDIS_URL,
        "SECRET_KEY": "bench-secret-key-not-for-production",
        "ENCRYPTION_KEY": "YmVuY2gtZW5jcnlwdGlvbi1rZXktMzItYnl0ZXMhISE=",
        "PUBLIC_URL": "http://127.0.0.1",
        "INSTANCE_PATH": str(instance),  # attachments and the locally saved outbox go here
        "MAIL_PROCESS_PARALLELISM": str(parallelism),
        "PYTHONPATH": str(CODE),
        "BENCH_MAIL_CODE": str(CODE),
    })
    return env


# ---------------------------------------------------------------------------------------------
# workload
# ---------------------------------------------------------------------------------------------

def generate(count: int, seed: int, work: Path) -> tuple[Path, dict]:
    out = work / "maildir"
    subprocess.run([sys.executable, str(MAKE_MAIL), "--count", str(count), "--seed", str(seed),
                    "--format", "maildir", "--out", str(out)], check=True,
                   capture_output=True)
    truth = json.loads((work / "maildir.truth.json").read_text())
    return out, truth


def arrival_order(maildir: Path, truth: dict) -> tuple[list[tuple[Path, bytes, datetime]], str]:
    """The mails sorted by their Date header (ties: truth order), and a note on whether the
    truth file's order and the file names give the same order."""
    parser = BytesHeaderParser()
    index = {m["file"]: i for i, m in enumerate(truth["messages"])}
    mails = []
    for path in (maildir / "new").iterdir():
        raw = path.read_bytes()
        date = email.utils.parsedate_to_datetime(parser.parsebytes(raw)["Date"])
        mails.append((date, index.get(f"new/{path.name}", 1 << 30), path, raw))
    mails.sort(key=lambda m: (m[0].timestamp(), m[1]))
    by_date = [f"new/{m[2].name}" for m in mails]
    by_truth = [m["file"] for m in truth["messages"]]
    by_name = sorted(by_date, key=lambda f: f.split("/")[1])
    listing = [f"new/{p.name}" for p in (maildir / "new").iterdir()]
    note = (f"Date-header order {'==' if by_date == by_truth else '!='} truth-file order, "
            f"{'==' if by_date == by_name else '!='} sorted file names"
            f" ({'==' if by_date == listing else '!='} unsorted directory listing)")
    return [(m[2], m[3], m[0]) for m in mails], note


# ---------------------------------------------------------------------------------------------
# Dovecot
# ---------------------------------------------------------------------------------------------

def start_dovecot():
    """tests.mailservers.Dovecot outside pytest: the same as its session fixture does."""
    import pwd

    from tests.mailservers import MAIL_USER, ensure_os_user, find_binary, launch

    binary = find_binary("dovecot", "/usr/sbin/dovecot")
    if binary is None:
        raise SystemExit("dovecot not found: apt-get install -y dovecot-imapd")
    base = Path(tempfile.mkdtemp(prefix="bench-dovecot-", dir="/tmp"))
    os.chmod(base, 0o755)
    if os.geteuid() == 0:
        user, as_user = ensure_os_user(MAIL_USER), MAIL_USER
    else:
        user, as_user = pwd.getpwuid(os.geteuid()), None
    return launch(binary, base, user, as_user)


def stop_dovecot(server) -> None:
    server.stop()
    shutil.rmtree(server.base, ignore_errors=True)


def _imap_date(date: datetime) -> str:
    months = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
              "Dec")
    offset = int(date.utcoffset().total_seconds() // 60) if date.utcoffset() else 0
    sign, offset = ("-", -offset) if offset < 0 else ("+", offset)
    return (f'"{date.day:2d}-{months[date.month - 1]}-{date.year:04d} '
            f'{date:%H:%M:%S} {sign}{offset // 60:02d}{offset % 60:02d}"')


def _crlf(raw: bytes) -> bytes:
    return re.sub(rb"\r?\n", b"\r\n", raw)


def deliver(server, address: str, password: str,
            mails: list[tuple[Path, bytes, datetime]]) -> tuple[float, str]:
    """APPEND every mail to INBOX in order (INTERNALDATE = its Date). One connection, one
    MULTIAPPEND command with LITERAL+ literals (sent in one go, no round trip per mail) when the
    server offers both; else one APPEND per mail. Returns (seconds, how)."""
    started = time.perf_counter()
    with socket.create_connection((server.host, server.port), timeout=60) as sock:
        reader = sock.makefile("rb")

        def command(tag: bytes, line: bytes) -> list[bytes]:
            sock.sendall(tag + b" " + line + b"\r\n")
            return _until_tagged(reader, tag)

        greeting = reader.readline()
        caps = command(b"a1", b"CAPABILITY")
        login = command(b"a2", b"LOGIN " + _quote(address) + b" " + _quote(password))
        if not login[-1].startswith(b"a2 OK"):
            raise RuntimeError(f"IMAP login failed: {greeting!r} {login!r}")
        capabilities = set(b" ".join(caps + login).upper().replace(b"]", b" ").split())
        if {b"LITERAL+", b"MULTIAPPEND"} <= capabilities:
            parts = [b"a3 APPEND INBOX"]
            for _path, raw, date in mails:
                body = _crlf(raw)
                parts.append(b" () " + _imap_date(date).encode() + b" {%d+}\r\n" % len(body))
                parts.append(body)
            parts.append(b"\r\n")
            sock.sendall(b"".join(parts))
            answer = _until_tagged(reader, b"a3")
            if not answer[-1].startswith(b"a3 OK"):
                raise RuntimeError(f"MULTIAPPEND failed: {answer[-1]!r}")
            how = "one MULTIAPPEND command, LITERAL+ (no round trip per mail)"
        else:
            how = "one APPEND per mail (the server lacks MULTIAPPEND/LITERAL+)"
            for i, (_path, raw, date) in enumerate(mails):
                body = _crlf(raw)
                tag = b"m%d" % i
                sock.sendall(tag + b" APPEND INBOX () " + _imap_date(date).encode()
                             + b" {%d}\r\n" % len(body))
                if not reader.readline().startswith(b"+"):
                    raise RuntimeError("APPEND: no continuation")
                sock.sendall(body + b"\r\n")
                if not _until_tagged(reader, tag)[-1].startswith(tag + b" OK"):
                    raise RuntimeError(f"APPEND of {_path.name} failed")
        command(b"a9", b"LOGOUT")
    return time.perf_counter() - started, how


def _quote(value: str) -> bytes:
    return b'"' + value.replace("\\", "\\\\").replace('"', '\\"').encode() + b'"'


def _until_tagged(reader, tag: bytes) -> list[bytes]:
    lines = []
    while True:
        line = reader.readline()
        if not line:
            raise RuntimeError(f"IMAP connection closed waiting for {tag!r}: {lines[-3:]!r}")
        lines.append(line.rstrip(b"\r\n"))
        if line.startswith(tag + b" "):
            return lines


def check_mailbox(server, address: str, password: str, mails) -> str:
    """The folder holds the mails in UID order = arrival order."""
    parser = BytesHeaderParser()
    client = server.client(address, password)
    try:
        client.select_folder("INBOX", readonly=True)
        uids = sorted(client.search("ALL"))
        fetched = client.fetch(uids, ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
    finally:
        client.logout()
    got = [str(parser.parsebytes(fetched[u][b"BODY[HEADER.FIELDS (MESSAGE-ID)]"])["Message-ID"])
           .strip() for u in uids]
    wanted = [str(parser.parsebytes(raw)["Message-ID"]).strip() for _p, raw, _d in mails]
    if got != wanted:
        raise RuntimeError(f"the IMAP folder holds {len(got)} mails, not in arrival order")
    return f"{len(uids)} mails in INBOX, UID order = arrival order"


# ---------------------------------------------------------------------------------------------
# database, org, mailbox
# ---------------------------------------------------------------------------------------------

def fresh_database(env: dict[str, str]) -> float:
    import psycopg

    started = time.perf_counter()
    with psycopg.connect(admin_conninfo(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db_name()}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{db_name()}"')
    subprocess.run([str(VENV_BIN / "flask"), "--app", "wsgi", "db", "upgrade"], cwd=CODE,
                   env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def make_app(env: dict[str, str]):
    os.environ.update(env)
    os.environ.pop("SMTP_URL", None)
    from helpdesk import create_app

    return create_app({"SMTP_URL": ""})


def create_org_and_mailbox(app, server, address: str) -> tuple[int, int]:
    from helpdesk.core import tenancy
    from helpdesk.extensions import db
    from helpdesk.mail import services

    runner = app.test_cli_runner()
    result = runner.invoke(args=["org", "create", SLUG, "--name", "Bench Mail", "--owner-email",
                                 OWNER, "--owner-password", PASSWORD, "--plan", "enterprise"])
    if result.exit_code != 0:
        raise RuntimeError(f"flask org create: {result.output}")
    import psycopg

    with psycopg.connect(conninfo()) as conn:
        org_id = conn.execute("SELECT id FROM organizations WHERE slug = %s",
                              (SLUG,)).fetchone()[0]
    with app.app_context(), tenancy.org_scope(org_id):
        mailbox = services.create_mailbox(
            name="Support", address=address, imap_host=server.host, imap_port=server.port,
            imap_security="none", imap_user=address, imap_password=IMAP_PASSWORD,
            folder="INBOX")
        # The workload's mail is dated from 2025-03-03 on: the mailbox was connected before
        # it, so the mail is current (acknowledged), not history read on a first poll.
        mailbox.created_at = datetime(2025, 3, 1, tzinfo=UTC)
        mailbox_id = mailbox.id
        db.session.commit()
    return org_id, mailbox_id


def dispose(app) -> None:
    from helpdesk.extensions import db

    with app.app_context():
        for engine in db.engines.values():
            engine.dispose()


def flush_redis():
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()  # the benchmark's own Redis database (BENCH_MAIL_REDIS_URL)
    return client


def db_counts(conn) -> tuple[int, int]:
    return conn.execute("SELECT count(*), count(*) FILTER (WHERE status = 'received')"
                        " FROM inbound_emails").fetchone()


def ingest_facts(conn) -> dict:
    facts = {
        "inbound": dict(conn.execute("SELECT status || ' / ' || coalesce(outcome, '-'), count(*)"
                                     " FROM inbound_emails GROUP BY 1 ORDER BY 2 DESC")
                        .fetchall()),
        "tickets": conn.execute("SELECT count(*) FROM tickets").fetchone()[0],
        "messages": conn.execute("SELECT count(*) FROM messages").fetchone()[0],
        "outbox": dict(conn.execute("SELECT kind || ' ' || status, count(*) FROM outbox"
                                    " GROUP BY 1 ORDER BY 1").fetchall()),
        "quarantined": [r[0] for r in conn.execute(
            "SELECT error FROM inbound_emails WHERE status = 'quarantined' LIMIT 5")],
    }
    return facts


# ---------------------------------------------------------------------------------------------
# threading score
# ---------------------------------------------------------------------------------------------

def score_threading(truth: dict, ticket_of: dict[str, int], tickets_total: int) -> dict:
    """Replies in the ticket of their thread's first message, overall and per reply kind."""
    first: dict[str, str] = {}
    for m in truth["messages"]:
        first.setdefault(m["thread"], m["message_id"])
    kinds = collections.defaultdict(lambda: [0, 0])
    missing = 0
    for m in truth["messages"]:
        if m["message_id"] not in ticket_of:
            missing += 1
        if not m["is_reply"]:
            continue
        kind = m["threading_headers"] or "none"
        got, home = ticket_of.get(m["message_id"]), ticket_of.get(first[m["thread"]])
        kinds[kind][1] += 1
        kinds[kind][0] += got is not None and got == home
    right = sum(v[0] for v in kinds.values())
    replies = sum(v[1] for v in kinds.values())
    with_headers = [v for k, v in kinds.items() if k != "none"]
    threads_tickets = collections.defaultdict(set)
    tickets_threads = collections.defaultdict(set)
    for m in truth["messages"]:
        ticket = ticket_of.get(m["message_id"])
        if ticket is not None:
            threads_tickets[m["thread"]].add(ticket)
            tickets_threads[ticket].add(m["thread"])
    return {
        "replies": replies, "right": right, "accuracy": right / replies if replies else 0,
        "with_headers": (sum(v[0] for v in with_headers), sum(v[1] for v in with_headers)),
        "kinds": {k: tuple(v) for k, v in sorted(kinds.items(), key=lambda i: -i[1][1])},
        "threads": len({m["thread"] for m in truth["messages"]}),
        "tickets": len(tickets_threads), "tickets_total": tickets_total,
        "split_threads": sum(len(t) > 1 for t in threads_tickets.values()),
        "mixed_tickets": sum(len(t) > 1 for t in tickets_threads.values()),
        "missing": missing,
    }


def ticket_map(conn) -> dict[str, int]:
    return dict(conn.execute("SELECT message_id, ticket_id FROM messages"
                             " WHERE message_id IS NOT NULL").fetchall())


# ---------------------------------------------------------------------------------------------
# workers
# ---------------------------------------------------------------------------------------------

def worker_child(stats_path: str) -> int:
    """One RQ worker on `mail`, exactly what `flask worker --queue mail` runs, plus counters:
    SQL statements (by job function and kind) and commits, dumped on SIGUSR1 and at exit."""
    from rq.job import Job
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from helpdesk import create_app
    from worker.main import run_worker

    counts: collections.Counter = collections.Counter()
    job_times: collections.Counter = collections.Counter()
    job_counts: collections.Counter = collections.Counter()
    job_cpu: collections.Counter = collections.Counter()
    current = ["(outside jobs)"]

    def before(conn, cursor, statement, parameters, context, executemany):  # noqa: ARG001
        counts[(current[0], statement.lstrip().split(None, 1)[0].upper())] += 1

    def commit(conn):  # noqa: ARG001
        counts[(current[0], "(commit)")] += 1

    event.listen(Engine, "before_cursor_execute", before)
    event.listen(Engine, "commit", commit)
    perform = Job.perform

    def labelled(self):
        current[0] = self.func_name.rsplit(".", 1)[-1]
        started, cpu = time.perf_counter(), time.process_time()
        try:
            return perform(self)
        finally:
            job_times[current[0]] += time.perf_counter() - started
            job_cpu[current[0]] += time.process_time() - cpu
            job_counts[current[0]] += 1
            current[0] = "(outside jobs)"

    Job.perform = labelled

    def dump(suffix: str) -> None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        data = {"sql": [[k[0], k[1], v] for k, v in counts.items()],
                "job_seconds": dict(job_times), "jobs": dict(job_counts),
                "job_cpu": dict(job_cpu),
                "maxrss_kb": usage.ru_maxrss, "cpu_s": usage.ru_utime + usage.ru_stime,
                "helpdesk": sys.modules["helpdesk"].__file__}
        Path(stats_path + suffix).write_text(json.dumps(data))

    signal.signal(signal.SIGUSR1, lambda *_: dump(".at-done"))
    app = create_app()
    with app.app_context():
        run_worker(["mail"])
    dump("")
    return 0


def backend_cpu() -> dict[int, float]:
    """CPU seconds (user + system) so far of each PostgreSQL backend connected to the bench
    database (but this query's own)."""
    import psutil
    import psycopg

    with psycopg.connect(conninfo(), autocommit=True) as conn:
        pids = [r[0] for r in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND backend_type = 'client backend'")]
    cpu = {}
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            times = psutil.Process(pid).cpu_times()
            cpu[pid] = times.user + times.system
    return cpu


class RssSampler(threading.Thread):
    """Every RSS_INTERVAL: RSS of each worker process (and its children, if any)."""

    def __init__(self, pids: list[int]):
        super().__init__(daemon=True)
        import psutil

        self.processes = [psutil.Process(pid) for pid in pids]
        self.peak = {pid: 0 for pid in pids}
        self.samples = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        import psutil

        while not self.stopping.is_set():
            for process in self.processes:
                try:
                    rss = process.memory_info().rss + sum(
                        c.memory_info().rss for c in process.children(recursive=True))
                except psutil.Error:
                    continue
                self.peak[process.pid] = max(self.peak[process.pid], rss)
            self.samples += 1
            self.stopping.wait(RSS_INTERVAL)

    def stop(self) -> dict[int, int]:
        self.stopping.set()
        self.join()
        return self.peak


class BackendSampler:
    """What the workers' PostgreSQL backends are doing, sampled with the progress query: working
    on a statement, waiting for the worker (idle in transaction), waiting on a lock (and in
    which statement)."""

    QUERY = ("SELECT state, coalesce(wait_event_type || ':' || wait_event, ''),"
             " left(regexp_replace(query, '\\s+', ' ', 'g'), 90) FROM pg_stat_activity"
             " WHERE datname = current_database() AND pid <> pg_backend_pid()"
             " AND backend_type = 'client backend'")

    def __init__(self):
        self.samples = 0
        self.states: collections.Counter = collections.Counter()
        self.locks: collections.Counter = collections.Counter()

    def sample(self, conn) -> None:
        self.samples += 1
        for state, wait, query in conn.execute(self.QUERY):
            if state == "active" and wait.startswith("Lock:"):
                self.states[f"waiting on a lock ({wait})"] += 1
                self.locks[query] += 1
            elif state == "active":
                self.states["active (PostgreSQL working or sending)"
                            + (f" {wait}" if wait else "")] += 1
            else:
                self.states[f"{state} (waiting for the worker)"
                            if state == "idle in transaction" else state] += 1

    def summary(self) -> dict:
        return {"samples": self.samples, "states": self.states.most_common(),
                "locks": self.locks.most_common(5)}


def rss_now(pids: list[int]) -> dict[int, int]:
    import psutil

    return {pid: psutil.Process(pid).memory_info().rss for pid in pids}


def run_workers(n: int, app, server, address: str, truth: dict, work: Path, run_no: int) -> dict:
    import psycopg
    from rq import Queue, Worker
    from rq.job import Job
    from rq.registry import FailedJobRegistry, FinishedJobRegistry, StartedJobRegistry

    instance = work / f"instance-{n}w-{run_no}"
    env = app_env(instance, parallelism=n)
    dispose(app)
    migrate_s = fresh_database(env)
    org_id, mailbox_id = create_org_and_mailbox(app, server, address)
    dispose(app)
    redis_client = flush_redis()  # after the set-up: nothing but our jobs on the queues
    queue = Queue("mail", connection=redis_client)
    stats = [work / f"worker-{n}w-{run_no}-{i}.json" for i in range(n)]
    logs = [open(work / f"worker-{n}w-{run_no}-{i}.log", "wb") for i in range(n)]  # noqa: SIM115
    children = [subprocess.Popen([sys.executable, str(Path(__file__).resolve()),
                                  "--worker-child", str(path)], cwd=CODE, env=env,
                                 stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
                for path, out in zip(stats, logs, strict=True)]
    pids = [c.pid for c in children]
    result: dict = {"workers": n, "migrate_s": migrate_s}
    try:
        deadline = time.monotonic() + 60
        while Worker.count(connection=redis_client, queue=queue) < n:
            if any(c.poll() is not None for c in children) or time.monotonic() > deadline:
                raise RuntimeError(f"workers did not start: see {work}/worker-*.log")
            time.sleep(0.05)
        time.sleep(0.3)  # let them settle into waiting on the queue
        result["idle_rss"] = rss_now(pids)
        pg_cpu_before = backend_cpu()
        sampler = RssSampler(pids)
        sampler.start()
        load_before = os.getloadavg()[0]
        expected = len(truth["messages"])
        with psycopg.connect(conninfo(), autocommit=True) as conn:
            from helpdesk.core.jobs import get_queue
            from helpdesk.mail import jobs

            with app.app_context():
                wall0 = time.time()
                t0 = time.perf_counter()
                poll_job = get_queue("mail").enqueue(jobs.poll_mailbox, org_id, mailbox_id,
                                                     job_timeout=jobs.JOB_TIMEOUT)
            stored_at = first_at = None
            progress = []
            backends = BackendSampler()
            while True:
                total, received = db_counts(conn)
                now = time.perf_counter() - t0
                if stored_at is None and total >= expected:
                    stored_at = now
                if first_at is None and total - received > 0:
                    first_at = now
                if not progress or now - progress[-1][0] >= 1:
                    progress.append((now, total, total - received))
                if total >= expected and received == 0:
                    done = now
                    break
                backends.sample(conn)
                failed = FailedJobRegistry(queue=queue).count
                if failed or now > DONE_TIMEOUT or any(c.poll() is not None for c in children):
                    raise RuntimeError(f"run stalled: {total} stored, {received} received, "
                                       f"{failed} failed jobs; see {work}/worker-*.log")
                time.sleep(0.05)
            for child in children:
                child.send_signal(signal.SIGUSR1)  # SQL counters as of the clock stop
            pg_cpu = backend_cpu()
            result["pg_cpu_s"] = sum(v - pg_cpu_before.get(pid, 0) for pid, v in pg_cpu.items())
            peak_at_done = dict(sampler.peak)
            # The acknowledgements' deliver_outbox jobs (saved to files: SMTP_URL unset) and
            # the helpers' tails: wait for an empty queue with no job running.
            while len(queue) or StartedJobRegistry(queue=queue).count:
                if time.perf_counter() - t0 > DONE_TIMEOUT:
                    break
                time.sleep(0.05)
            drained = time.perf_counter() - t0
            result["load"] = (load_before, os.getloadavg()[0])
            result["backends"] = backends.summary()
            result.update(facts=ingest_facts(conn), ticket_of=ticket_map(conn))
        result["peak_rss"] = sampler.stop()
        result["peak_rss_at_done"] = peak_at_done
        result["rss_samples"] = sampler.samples
        result.update(seconds=done, stored_at=stored_at, first_processed_at=first_at,
                      drained=drained, progress=progress, rate=expected / done)
        result["poll_result"] = Job.fetch(poll_job.id, connection=redis_client).return_value()
        finished = Job.fetch_many(FinishedJobRegistry(queue=queue).get_job_ids(),
                                  connection=redis_client)
        timeline = []
        for job in filter(None, finished):
            start = _epoch(job.started_at) - wall0
            timeline.append((job.func_name.rsplit(".", 1)[-1], start,
                             _epoch(job.ended_at) - wall0, job.worker_name))
        result["timeline"] = sorted(timeline, key=lambda j: j[1])
        result["failed_jobs"] = FailedJobRegistry(queue=queue).count
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)  # RQ's warm shutdown (idle: at once)
        for child in children:
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
        for out in logs:
            out.close()
    result["worker_stats"] = [json.loads(p.read_text()) for p in stats if p.exists()]
    result["worker_stats_at_done"] = [json.loads(Path(str(p) + ".at-done").read_text())
                                      for p in stats if Path(str(p) + ".at-done").exists()]
    result["outbox_files"] = len(list((instance / "outbox").glob("*.eml"))) \
        if (instance / "outbox").exists() else 0
    result["threading"] = score_threading(truth, result.pop("ticket_of"),
                                          result["facts"]["tickets"])
    return result


def _epoch(value: datetime | None) -> float:
    if value is None:
        return float("nan")
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def sql_summary(stats: list[dict], messages: int) -> dict:
    by_kind: collections.Counter = collections.Counter()
    by_job: collections.Counter = collections.Counter()
    for data in stats:
        for job, kind, count in data["sql"]:
            by_kind[kind] += count
            if kind != "(commit)":
                by_job[job] += count
    commits = by_kind.pop("(commit)", 0)
    total = sum(by_kind.values())
    return {"total": total, "per_message": total / messages, "commits": commits,
            "commits_per_message": commits / messages, "by_kind": by_kind.most_common(),
            "by_job": by_job.most_common()}


# ---------------------------------------------------------------------------------------------
# in-process profile
# ---------------------------------------------------------------------------------------------

STEPS = [  # (label, file suffix, function): cumulative time, where the function exists
    ("process_pending (everything)", "helpdesk/mail/pipeline.py", "process_pending"),
    ("pipeline.process_one (the per-mail chain)", "helpdesk/mail/pipeline.py", "process_one"),
    ("parse (helpdesk/mail/parsing.py)", "helpdesk/mail/parsing.py", "parse"),
    ("classify", "helpdesk/mail/classify.py", "classify"),
    ("pipeline.identify_customer", "helpdesk/mail/pipeline.py", "identify_customer"),
    ("threads.find_ticket", "helpdesk/mail/threads.py", "find_ticket"),
    ("pipeline.save", "helpdesk/mail/pipeline.py", "save"),
    ("pipeline.sanitize (clean_html, html_to_text, visible_part)",
     "helpdesk/mail/pipeline.py", "sanitize"),
    ("clean_html", "helpdesk/tickets/sanitize.py", "clean_html"),
    ("visible_part (reply parsing)", "helpdesk/mail/visible.py", "visible_part"),
    ("services.find_or_create_customer", "helpdesk/tickets/services.py",
     "find_or_create_customer"),
    ("services.create_ticket", "helpdesk/tickets/services.py", "create_ticket"),
    ("services.add_customer_message", "helpdesk/tickets/services.py", "add_customer_message"),
    ("outbound.queue_acknowledgement", "helpdesk/mail/outbound.py", "queue_acknowledgement"),
    ("outbound.build (an outgoing MIME message)", "helpdesk/mail/outbound.py", "build"),
    ("Session.begin_nested (savepoints)", "sqlalchemy/orm/session.py", "begin_nested"),
    ("Session.flush (autoflush included)", "sqlalchemy/orm/session.py", "flush"),
    ("Session.commit", "sqlalchemy/orm/session.py", "commit"),
    ("psycopg Cursor.execute (SQL round trips)", "psycopg/cursor.py", "execute"),
]


class SqlRecorder:
    """Counts and times (wall) every statement sent to PostgreSQL, by statement text."""

    def __init__(self):
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        self.stats: dict[str, list] = collections.defaultdict(lambda: [0, 0.0])
        self.commits = 0
        self.commit_seconds = 0.0
        self._started: list[float] = []
        self._event, self._engine = event, Engine

    def before(self, conn, cursor, statement, parameters, context, executemany):  # noqa: ARG002
        conn.info["bench_t"] = time.perf_counter()

    def after(self, conn, cursor, statement, parameters, context, executemany):  # noqa: ARG002
        entry = self.stats[" ".join(statement.split())[:110]]
        entry[0] += 1
        entry[1] += time.perf_counter() - conn.info.pop("bench_t", time.perf_counter())

    def commit(self, conn):  # noqa: ARG002
        self.commits += 1

    def __enter__(self):
        self._event.listen(self._engine, "before_cursor_execute", self.before)
        self._event.listen(self._engine, "after_cursor_execute", self.after)
        self._event.listen(self._engine, "commit", self.commit)
        return self

    def __exit__(self, *exc_info):
        self._event.remove(self._engine, "before_cursor_execute", self.before)
        self._event.remove(self._engine, "after_cursor_execute", self.after)
        self._event.remove(self._engine, "commit", self.commit)



def in_process(app, server, address: str, work: Path, *, profile: bool) -> dict:
    """Fresh database, then a new process (like a worker, but without RQ) that fetches and
    stores (timed), then runs process_pending as the poll job would, with cProfile when
    `profile`."""
    label = "profiled" if profile else "plain"
    env = app_env(work / f"instance-inproc-{label}")
    dispose(app)
    fresh_database(env)
    org_id, mailbox_id = create_org_and_mailbox(app, server, address)
    dispose(app)
    flush_redis()
    out = work / f"inproc-{label}"
    spec = json.dumps({"org_id": org_id, "mailbox_id": mailbox_id, "profile": profile,
                       "out": str(out)})
    subprocess.run([sys.executable, str(Path(__file__).resolve()), "--inprocess-child", spec],
                   cwd=CODE, env=env, check=True)
    result = json.loads(Path(str(out) + ".json").read_text())
    if profile:
        result["profile"] = str(out) + ".pstats"
    return result


def inprocess_child(spec_json: str) -> int:
    from helpdesk import create_app
    from helpdesk.core import tenancy
    from helpdesk.extensions import db
    from helpdesk.mail import pipeline, poller
    from helpdesk.mail.models import Mailbox

    spec = json.loads(spec_json)
    org_id, mailbox_id = spec["org_id"], spec["mailbox_id"]
    app = create_app()
    result: dict = {}
    with app.app_context():
        tenancy.set_current_org(org_id)
        mailbox = db.session.get(Mailbox, mailbox_id)
        started = time.perf_counter()
        result["stored"] = poller.fetch_new(mailbox)
        db.session.commit()
        result["fetch_s"] = time.perf_counter() - started
        profiler = cProfile.Profile() if spec["profile"] else None
        pg_before = backend_cpu()
        with SqlRecorder() as sql:
            started, cpu = time.perf_counter(), time.process_time()
            if profiler:
                profiler.enable()
            result["processed"] = pipeline.process_pending(org_id, mailbox_id=mailbox_id)
            db.session.commit()
            if profiler:
                profiler.disable()
            result["process_s"] = time.perf_counter() - started
            result["cpu_s"] = time.process_time() - cpu
        result["pg_cpu_s"] = sum(v - pg_before.get(pid, 0) for pid, v in backend_cpu().items())
        db.session.rollback()
    result["sql"] = {"stats": dict(sql.stats), "commits": sql.commits}
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["maxrss_kb"] = usage.ru_maxrss
    result["helpdesk"] = sys.modules["helpdesk"].__file__
    Path(spec["out"] + ".json").write_text(json.dumps(result))
    if profiler:
        profiler.dump_stats(spec["out"] + ".pstats")
    return 0


def profile_report(profiler: str, wall: float, top: int = 15) -> dict[str, str]:
    stream = io.StringIO()
    stats = pstats.Stats(profiler, stream=stream)
    stats.strip_dirs().sort_stats("cumulative").print_stats(top)
    cumulative = _stats_table(stream.getvalue())
    stream = io.StringIO()
    stats = pstats.Stats(profiler, stream=stream)
    stats.strip_dirs().sort_stats("tottime").print_stats(top)
    own = _stats_table(stream.getvalue())
    raw = pstats.Stats(profiler).stats  # {(file, line, name): (cc, nc, tt, ct, callers)}
    total = max((v[3] for (f, _l, n), v in raw.items()
                 if f.endswith("helpdesk/mail/pipeline.py") and n == "process_pending"),
                default=wall)
    lines = []
    for label, suffix, name in STEPS:
        matches = [v for (f, _l, n), v in raw.items() if f.endswith(suffix) and n == name]
        if not matches:
            continue
        calls = sum(v[1] for v in matches)
        seconds = sum(v[3] for v in matches)
        lines.append(f"{label:<60} {calls:>7,} calls {seconds:8.2f} s {seconds / total:6.1%}")
    return {"cumulative": cumulative, "own": own, "steps": "\n".join(lines),
            "tree": call_tree(raw, total), "buckets": own_time_buckets(raw, total)}


def _ours(file: str) -> bool:
    return any(f"/{top}/" in file for top in ("helpdesk", "worker"))


def _label(key: tuple) -> str:
    file, line, name = key
    if file == "~":
        return name
    parts = Path(file).parts
    for top in ("helpdesk", "worker", "site-packages", "python3.11"):
        if top in parts:
            parts = parts[parts.index(top) + (top != "helpdesk" and top != "worker"):]
            break
    return f"{'/'.join(parts[-3:])}:{line}({name})"


def call_tree(raw: dict, total: float, share: float = 0.02, depth: int = 8) -> str:
    """From process_pending down: every callee taking >= `share` of the time (cumulative time
    through that call edge); our own functions are expanded, library calls are leaves."""
    children = collections.defaultdict(list)
    for callee, value in raw.items():
        for caller, edge in value[4].items():
            children[caller].append((callee, edge[3]))
    roots = [k for k in raw if k[0].endswith("helpdesk/mail/pipeline.py")
             and k[2] == "process_pending"]
    lines: list[str] = []

    def walk(key: tuple, seconds: float, level: int, path: frozenset) -> None:
        lines.append(f"{seconds:7.2f} s {seconds / total:6.1%} {'  ' * level}{_label(key)}")
        if level >= depth or key in path or (level and not _ours(key[0])):
            return
        for child, spent in sorted(children[key], key=lambda c: -c[1]):
            if spent >= share * total:
                walk(child, spent, level + 1, path | {key})

    for root in roots:
        walk(root, raw[root][3], 0, frozenset())
    return "\n".join(lines)


BUCKETS = [  # (label, test on the file path) for own time; first match wins
    ("psycopg: sending statements, waiting for PostgreSQL", lambda f: "/psycopg" in f),
    ("SQLAlchemy ORM and Core", lambda f: "/sqlalchemy/" in f),
    ("helpdesk mail parsing (helpdesk/mail/parsing.py and its modules)",
     lambda f: f.endswith(("mail/parsing.py", "mail/charsets.py", "mail/headers.py",
                           "mail/addresses.py", "mail/mime.py"))),
    ("reply parsing (helpdesk/mail/visible.py)", lambda f: f.endswith("mail/visible.py")),
    ("HTML sanitizing (helpdesk/tickets/sanitize.py + libraries)",
     lambda f: f.endswith("tickets/sanitize.py") or any(
         x in f for x in ("/bleach/", "/nh3", "/lxml/", "/html5lib/", "/tinycss2/"))),
    ("stdlib email (parse, build, serialize MIME)", lambda f: "/email/" in f and
     "site-packages" not in f),
    ("Jinja2 templates", lambda f: "/jinja2/" in f or "/markupsafe/" in f),
    ("other helpdesk code", lambda f: "/helpdesk/" in f),
    ("Python builtins and C functions (regex, str, dict...) called from anywhere",
     lambda f: f == "~"),
]


def own_time_buckets(raw: dict, total: float) -> str:
    sums: collections.Counter = collections.Counter()
    for (file, _line, _name), value in raw.items():
        label = next((b for b, test in BUCKETS if test(file)), None)
        if label is None:
            parts = Path(file).parts
            label = ("other library: " + parts[parts.index("site-packages") + 1]
                     if "site-packages" in parts else "other stdlib")
        sums[label] += value[2]
    return "\n".join(f"{seconds:7.2f} s {seconds / total:6.1%}  {label}"
                     for label, seconds in sums.most_common(14))


def _stats_table(text: str) -> str:
    """pstats' table without its preamble."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls")), 0)
    return "\n".join(line for line in lines[start:] if line.strip())


# ---------------------------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------------------------

def mb(n: int | float) -> str:
    return f"{n / 1024 / 1024:,.0f} MB"


def machine() -> str:
    import psycopg

    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024 ** 3
    with psycopg.connect(admin_conninfo()) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
    dovecot = subprocess.run(["dovecot", "--version"], capture_output=True, text=True).stdout
    return (f"{os.cpu_count()} cores (nproc), {memory:.0f} GB RAM, {platform.system()} "
            f"{platform.release()}, PostgreSQL {version}, Dovecot {dovecot.split()[0]}, "
            f"Python {platform.python_version()}")


def snapshot_code(work: Path, ref: str | None) -> str:
    """Copy the code to measure into work/code (common.snapshot_code) and import it from there
    from now on (this process, the workers and the in-process children). Returns a
    description."""
    global CODE
    target = work / "code"
    described = common.snapshot_code(target, ref)
    CODE = target
    os.environ["BENCH_MAIL_CODE"] = str(target)
    sys.path.insert(0, str(target))
    return described


def pct(a: int, b: int) -> str:
    return f"{a / b:.1%} ({a}/{b})" if b else "-"


def report(args, context: dict, runs: list[dict], inproc: dict | None) -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    n = context["count"]
    lines = [
        f"# Mail ingest benchmark, {now}", "",
        f"Machine: {context['machine']}. Code: {context['code']}. Command: "
        f"`.venv/bin/python bench/mail_ingest.py --count {args.count} --seed {args.seed} "
        f"--workers {args.workers} --repeat {args.repeat}"
        f"{' --profile' if args.profile else ''}{f' --ref {args.ref}' if args.ref else ''}`.",
        "",
        f"- Workload: make_mail.py --count {n} --seed {args.seed}: {context['threads']} threads,"
        f" {context['replies']} replies, {context['customers']} customers, "
        f"{context['bytes'] / 1024:,.0f} KB; {context['order']}.",
        f"- Delivery (before the clock): {context['deliver_s']:.2f} s into Dovecot by IMAP "
        f"APPEND, {context['deliver_how']}; INTERNALDATE = Date header; {context['mailbox']}.",
        "- Clock: from enqueuing helpdesk.mail.jobs.poll_mailbox on the RQ `mail` queue until "
        "every inbound_emails row is processed (count = "
        f"{n}, none `received`), polled every 50 ms. Workers: separate processes running "
        "worker.main.run_worker(['mail']) (what `flask worker --queue mail` runs), started and "
        "idle before the clock; MAIL_PROCESS_PARALLELISM = number of workers; each run on a "
        "fresh database.",
        "- SMTP_URL unset: acknowledgements are queued in the Outbox; their deliver_outbox jobs "
        "(same `mail` queue) save them as .eml files under the instance folder instead of "
        "sending (nothing leaves the machine). 'drained' = the queue empty, no job running.",
        "",
        "| workers | run | msgs/s | msgs/s per worker | stored all at | done at | drained at "
        "| peak RSS per worker (idle) | SQL stmts/msg | commits/msg | CPU ms/msg workers "
        "(ingest jobs) | CPU ms/msg PostgreSQL | load before/after |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        rss = ", ".join(f"{mb(run['peak_rss'][p])} ({mb(run['idle_rss'][p])})"
                        for p in run["peak_rss"])
        sql = run["sql_at_done"]
        lines.append(
            f"| {run['workers']} | {run['run']} | **{run['rate']:.0f}** | "
            f"{run['rate'] / run['workers']:.0f} | {run['stored_at']:.1f} s | "
            f"{run['seconds']:.1f} s | {run['drained']:.1f} s | {rss} | "
            f"{sql['per_message']:.1f} | {sql['commits_per_message']:.2f} | "
            f"{ingest_cpu(run) * 1000 / n:.2f} | {run['pg_cpu_s'] * 1000 / n:.2f} | "
            f"{run['load'][0]:.1f} / {run['load'][1]:.1f} |")
    lines += ["", f"Goal: >= {GOAL_RATE} messages/s per worker. Peer django-helpdesk "
              f"(2,000 messages, seed 1): {PEER['rate']} msg/s, threading {PEER['threading']}, "
              f"{PEER['tickets']:,} tickets for 1,224 true threads.", ""]
    best = {}
    for run in runs:
        if run["workers"] not in best or run["rate"] > best[run["workers"]]["rate"]:
            best[run["workers"]] = run
    for workers, run in sorted(best.items()):
        lines.append(f"- {workers} worker(s), best run: {run['rate']:.0f} msgs/s = "
                     f"{run['rate'] / workers / GOAL_RATE:.0%} of the per-worker goal; "
                     f"{run['rate'] / PEER['rate']:.1f}x the peer.")
    if runs:
        lines += _threading_lines(runs)
    if inproc:
        lines += _inproc_lines(inproc, n)
    return "\n".join(lines) + "\n"


def ingest_cpu(run: dict) -> float:
    """CPU seconds the workers spent in poll_mailbox and process_inbound jobs."""
    return sum(seconds for stats in run["worker_stats"]
               for job, seconds in stats.get("job_cpu", {}).items()
               if job in ("poll_mailbox", "process_inbound"))


def _threading_lines(runs: list[dict]) -> list[str]:
    lines = ["", "## Threading (truth file scoring rule)", "",
              "| run | replies right | with In-Reply-To/References | tickets (true threads) | "
              "threads split | tickets mixing threads | mails without a message |",
              "|---|---|---|---|---|---|---|"]
    for run in runs:
        t = run["threading"]
        lines.append(f"| {run['workers']}w #{run['run']} | {pct(t['right'], t['replies'])} | "
                     f"{pct(*t['with_headers'])} | {t['tickets']:,} ({t['threads']:,}) | "
                     f"{t['split_threads']} | {t['mixed_tickets']} | {t['missing']} |")
    t = runs[-1]["threading"]
    lines += ["", "| reply kind (last run) | right | goal |", "|---|---|---|"]
    for kind, (right, total) in t["kinds"].items():
        goal = "100%" if kind != "none" else "(overall >= 98%)"
        lines.append(f"| {kind} | {pct(right, total)} | {goal} |")
    lines += ["", f"Goals: 100% for replies with In-Reply-To or References "
              f"({'ok' if t['with_headers'][0] == t['with_headers'][1] else 'MISSED'}); "
              f">= 98% of all replies ({'ok' if t['accuracy'] >= 0.98 else 'MISSED'}).", ""]
    lines += ["## Per run details", ""]
    for run in runs:
        facts = run["facts"]
        sql = run["sql_at_done"]
        lines += [f"### {run['workers']} worker(s), run {run['run']}", "",
                  f"- Poll job result: {run['poll_result']}; failed jobs: {run['failed_jobs']}.",
                  f"- inbound_emails: {facts['inbound']}; tickets {facts['tickets']:,}, "
                  f"messages {facts['messages']:,}; outbox {facts['outbox']} "
                  f"({run['outbox_files']} saved as files).",
                  f"- SQL at the clock stop: {sql['total']:,} statements "
                  f"({sql['per_message']:.1f}/message), {sql['commits']:,} commits; by kind: "
                  + ", ".join(f"{k} {v:,}" for k, v in sql["by_kind"]) + "; by job: "
                  + ", ".join(f"{k} {v:,}" for k, v in sql["by_job"]) + ".",
                  "- Worker peak RSS (ru_maxrss at exit): "
                  + ", ".join(f"{s['maxrss_kb'] / 1024:,.0f} MB" for s in run["worker_stats"])
                  + "; CPU seconds: " + ", ".join(f"{s['cpu_s']:.1f}"
                                                   for s in run["worker_stats"])
                  + f"; RSS samples: {run['rss_samples']}.",
                  "- Jobs (start..end, seconds after the enqueue): "
                  + _timeline(run["timeline"]) + ".",
                  f"- PostgreSQL backends of the workers, {run['backends']['samples']} samples"
                  " (backend-samples per state): "
                  + ", ".join(f"{k} {v}" for k, v in run["backends"]["states"]) + "."
                  + (" Lock waits in: " + "; ".join(f"`{q}` {v}" for q, v in
                                                    run["backends"]["locks"]) + "."
                     if run["backends"]["locks"] else ""),
                  "- Progress (s: stored, processed): "
                  + ", ".join(f"{p[0]:.0f}: {p[1]}/{p[2]}" for p in run["progress"][::2]) + ".",
                  ""]
        if facts["quarantined"]:
            lines.append(f"- Quarantined (first 5): {facts['quarantined']}")
    return lines


def _timeline(timeline: list) -> str:
    grouped = collections.defaultdict(list)
    for name, start, end, worker in timeline:
        grouped[name].append((start, end, worker))
    parts = []
    for name, items in grouped.items():
        if len(items) <= 3:
            parts += [f"{name} {s:.1f}..{e:.1f}" for s, e, _w in items]
        else:
            parts.append(f"{name} x{len(items)} {min(i[0] for i in items):.1f}.."
                         f"{max(i[1] for i in items):.1f} "
                         f"(busy {sum(i[1] - i[0] for i in items):.1f} s)")
    return "; ".join(parts)


def _inproc_lines(inproc: dict, n: int) -> list[str]:
    lines = ["## In-process runs (a fresh process each, no RQ: fetch + store, then "
             "process_pending)", ""]
    for label in ("plain", "profiled"):
        run = inproc.get(label)
        if not run:
            continue
        sql = run["sql"]["stats"]
        count = sum(v[0] for v in sql.values())
        seconds = sum(v[1] for v in sql.values())
        lines.append(
            f"- {label}: fetch + store {run['fetch_s']:.2f} s ({run['stored']} mails, "
            f"{run['stored'] / run['fetch_s']:.0f}/s); process_pending {run['process_s']:.2f} s "
            f"= {run['processed'] / run['process_s']:.0f} msgs/s; SQL: {count:,} statements "
            f"({count / n:.1f}/message), {run['sql']['commits']} commits, {seconds:.2f} s "
            f"waiting on statements = {seconds / run['process_s']:.0%} of process_pending; "
            f"CPU: this process {run['cpu_s'] * 1000 / run['processed']:.2f} ms/message, "
            f"PostgreSQL {run['pg_cpu_s'] * 1000 / run['processed']:.2f} ms/message; "
            f"peak RSS {run['maxrss_kb'] / 1024:,.0f} MB")
    plain = inproc.get("plain")
    if plain:
        sql = plain["sql"]["stats"]
        lines += ["", "Statements by total time (plain run):", "",
                  "| statement | count | per msg | total s | mean ms |", "|---|---|---|---|---|"]
        for text, (count, seconds) in sorted(sql.items(), key=lambda i: -i[1][1])[:20]:
            lines.append(f"| `{text.replace('|', '/')}` | {count:,} | {count / n:.2f} | "
                         f"{seconds:.2f} | {seconds / count * 1000:.2f} |")
    report_ = inproc.get("profile_report")
    if report_:
        lines += ["", "Named steps, where they exist in this code (cProfile cumulative time; "
                  "they overlap: a step includes what it calls; cProfile inflates Python-heavy "
                  "code relative to waiting on PostgreSQL):", "", "```", report_["steps"], "```",
                  "",
                  "Call tree from process_pending (callees >= 2% of the time; cumulative time "
                  "through each call; library calls are leaves):", "",
                  "```", report_["tree"], "```", "",
                  "Own time by where the code lives (cProfile tottime):", "",
                  "```", report_["buckets"], "```", "",
                  "Top 15 by cumulative time:", "", "```", report_["cumulative"], "```", "",
                  "Top 15 by own time:", "", "```", report_["own"], "```"]
    return lines


# ---------------------------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", default="1,2", help="worker counts to measure, e.g. 1,2")
    parser.add_argument("--repeat", type=int, default=1, help="runs per worker count")
    parser.add_argument("--profile", action="store_true",
                        help="also run in-process, plain and under cProfile")
    parser.add_argument("--profile-only", action="store_true",
                        help="only the in-process runs (printed; no results file written)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--ref", help="measure this commit (git archive) instead of a snapshot "
                        "of the working tree")
    parser.add_argument("--out", default=str(BENCH_DIR / "results-mail.md"),
                        help="where to write the results (default bench/results-mail.md)")
    parser.add_argument("--live", action="store_true",
                        help="import the live tree instead of a snapshot")
    parser.add_argument("--worker-child", help=argparse.SUPPRESS)
    parser.add_argument("--inprocess-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker_child:
        return worker_child(args.worker_child)
    if args.inprocess_child:
        return inprocess_child(args.inprocess_child)

    work = Path(tempfile.mkdtemp(prefix="bench-mail-", dir="/tmp"))
    os.chmod(work, 0o755)
    server = None
    try:
        log(f"work folder {work}")
        code = snapshot_code(work, args.ref) if not args.live else (
            f"the live tree {REPO} (--live; it may change during the run)")
        log(f"code: {code}")
        maildir, truth = generate(args.count, args.seed, work)
        mails, order = arrival_order(maildir, truth)
        log(f"workload: {len(mails)} mails, {truth['n_threads']} threads, "
            f"{truth['n_replies']} replies; {order}")
        server = start_dovecot()
        address = truth.get("queue_address", "support@helpdesk.example")
        server.add_user(address, IMAP_PASSWORD)
        deliver_s, how = deliver(server, address, IMAP_PASSWORD, mails)
        mailbox_note = check_mailbox(server, address, IMAP_PASSWORD, mails)
        log(f"delivered into Dovecot 127.0.0.1:{server.port} in {deliver_s:.2f} s ({how}); "
            f"{mailbox_note}")
        context = {"count": len(mails), "threads": truth["n_threads"],
                   "replies": truth["n_replies"], "customers": truth.get("customers"),
                   "bytes": sum(len(m[1]) for m in mails), "order": order,
                   "deliver_s": deliver_s, "deliver_how": how, "mailbox": mailbox_note,
                   "machine": machine(), "code": code}
        app = make_app(app_env(work / "instance-setup"))
        runs: list[dict] = []
        if not args.profile_only:
            for workers in [int(w) for w in args.workers.split(",") if w.strip()]:
                for run_no in range(1, args.repeat + 1):
                    log(f"--- {workers} worker(s), run {run_no}")
                    run = run_workers(workers, app, server, address, truth, work, run_no)
                    run["run"] = run_no
                    run["sql_at_done"] = sql_summary(run["worker_stats_at_done"]
                                                     or run["worker_stats"], len(mails))
                    runs.append(run)
                    print_run(run)
                    log("workers imported " + ", ".join(
                        sorted({w.get("helpdesk", "?") for w in run["worker_stats"]})))
        inproc = None
        if args.profile or args.profile_only:
            inproc = {}
            log("--- in-process, plain")
            inproc["plain"] = in_process(app, server, address, work, profile=False)
            log(f"in-process child imported {inproc['plain']['helpdesk']}")
            log("--- in-process, under cProfile")
            inproc["profiled"] = in_process(app, server, address, work, profile=True)
            inproc["profile_report"] = profile_report(inproc["profiled"].pop("profile"),
                                                      inproc["profiled"]["process_s"])
        text = report(args, context, runs, inproc)
        log("\n" + text)
        if runs:
            Path(args.out).write_text(text)
            log(f"written to {args.out}")
        dispose(app)
    finally:
        if server is not None:
            stop_dovecot(server)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


def print_run(run: dict) -> None:
    t = run["threading"]
    log(f"{run['workers']} worker(s): {run['rate']:.0f} msgs/s ({run['seconds']:.1f} s; "
        f"stored all at {run['stored_at']:.1f} s; drained at {run['drained']:.1f} s); "
        f"peak RSS {', '.join(mb(v) for v in run['peak_rss'].values())}; "
        f"SQL {run['sql_at_done']['per_message']:.1f} statements/message; threading "
        f"{t['accuracy']:.1%}, {t['tickets']} tickets for {t['threads']} threads")


if __name__ == "__main__":
    sys.exit(main())
