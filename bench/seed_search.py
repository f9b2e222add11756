"""Bulk seed for the search benchmark: 21 orgs sharing one vocabulary, loaded with COPY.

    search-big          250,000 tickets, 1,000,000 messages, 50,000 customers, 10 agents
    search-01..20        25,000 tickets,   100,000 messages,  5,000 customers,  3 agents each

All orgs share the vocabulary, the name pools, the number ranges (tickets 1..N in each org,
order numbers #100000-#999999, SKU-00000..19999) and the first 1,500 customer addresses, so
every word, number or address searched for in one org also exists in others.

Timeline: tickets over two years, volume growing ~2x; ids of customers, tickets and messages
increase with time across all orgs (every table is ordered by time before ids are given).

Loading: runs as the database owner (row-level security does not bind it), plain COPY with
every trigger active: the search-vector triggers compute the tsvectors (the org's
search_language) and the foreign-key checks run, so rows go parent before child (customers,
then tickets, then messages, each committed before the next starts). The three GIN indexes
are dropped first and rebuilt afterwards (timed one by one), then VACUUM ANALYZE.

Tickets and messages are cut into chunks of consecutive ids; two worker processes (fork)
generate a chunk's rows (its own seeded RNG, so the data does not depend on which worker takes
it) and COPY it on their own connection, one transaction per chunk.
"""

from __future__ import annotations

import bisect
import multiprocessing
import random
import time
import unicodedata
from array import array
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import psycopg
from search_text import (
    BRANDS,
    EMAIL_DOMAINS,
    FIRST_NAMES,
    LAST_NAMES,
    PRODUCT_TYPES,
    TextGenerator,
    pick,
    vocabulary,
)
from seed_tickets import CHANNELS, COMPANIES, PRIORITIES, TAGS, _cumulative

from helpdesk.tickets.sanitize import text_to_html

BIG, SMALL_COUNT = "search-big", 20
GIN_INDEXES = ("ix_messages_search", "ix_tickets_search", "ix_customers_search")
SHARED_CUSTOMERS = 1_500  # the same addresses in every org
TWO_YEARS = timedelta(days=730)
SPAN = TWO_YEARS.total_seconds()
DAY = 86400.0
CHUNK = 25_000
KINDS = ("customer", "reply", "note")
AGENT_FIRST = ("Mia", "Lukas", "Sofia", "Jamal", "Elif", "Tom", "Aylin", "Ravi", "Clara",
               "Mateus", "Hanna", "Diego", "Ingrid", "Kenji", "Leila", "Ruben")


@dataclass
class OrgSpec:
    slug: str
    name: str
    tickets: int
    messages: int
    customers: int
    agents: int
    org_id: int = 0
    owner_id: int = 0
    agent_ids: list[int] = field(default_factory=list)


def org_specs(scale: float = 1.0) -> list[OrgSpec]:
    def n(value: int) -> int:
        return max(10, int(value * scale))

    specs = [OrgSpec(BIG, "Search Big Retail", n(250_000), n(1_000_000), n(50_000), 10)]
    for i in range(1, SMALL_COUNT + 1):
        specs.append(OrgSpec(f"search-{i:02d}", f"Search Shop {i:02d}", n(25_000), n(100_000),
                             n(5_000), 3))
    return specs


def owner_email(slug: str) -> str:
    return f"owner@{slug}.example"


def agent_email(slug: str, i: int) -> str:
    return f"agent{i}@{slug}.example"


def agent_name(org_index: int, i: int) -> str:
    return (f"{AGENT_FIRST[(org_index * 3 + i) % len(AGENT_FIRST)]} "
            f"{LAST_NAMES[(org_index * 7 + i * 13) % len(LAST_NAMES)]}")


def ascii_lower(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


# ---------------------------------------------------------------------------------------------
# the plan: every row's structure (no text yet), in id order
# ---------------------------------------------------------------------------------------------

@dataclass
class Plan:
    start: datetime
    specs: list[OrgSpec]
    # customers, by id - 1
    c_org: array
    c_email: list[str]
    c_first: array  # index into FIRST_NAMES
    c_last: array
    c_created: array
    c_local: array  # index within the org (company/phone/blocked derive from it)
    # tickets, by id - 1
    t_org: array
    t_number: array
    t_customer: array
    t_assignee: array  # 0 = none
    t_order: array
    t_product: array
    t_status: list[str]
    t_created: array
    t_first_response: array  # -1 = none
    t_solved: array
    t_closed: array
    t_last: array
    # messages, by id - 1
    m_ticket: array
    m_kind: array  # index into KINDS
    m_author: array  # customer id or user id
    m_seq: array
    m_created: array
    user_names: dict[int, str]

    @property
    def counts(self) -> dict[str, int]:
        return {"customers": len(self.c_org), "tickets": len(self.t_org),
                "messages": len(self.m_ticket)}


def _spread(rng: random.Random, total: int, n: int, mean_extra: float) -> list[int]:
    """n counts >= 1 summing to total, skewed (most tickets short, some long threads)."""
    counts = [1 + min(int(rng.expovariate(1 / mean_extra)), 40) for _ in range(n)]
    diff = total - sum(counts)
    while diff:
        i = rng.randrange(n)
        if diff > 0:
            counts[i] += 1
            diff -= 1
        elif counts[i] > 1:
            counts[i] -= 1
            diff += 1
    return counts


def build_plan(specs: list[OrgSpec], seed: int = 42, log=print) -> Plan:
    rng = random.Random(seed)
    rand = rng.random
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - TWO_YEARS
    last_second = SPAN - 60

    # --- customers of each org (names, addresses), no ids yet ---------------------------------
    shared_rng = random.Random(f"{seed}-shared-customers")
    org_customers: list[list[tuple[int, int, str]]] = []  # (first, last, email)
    for spec in specs:
        people, seen = [], set()
        for i in range(spec.customers):
            source = shared_rng if i < SHARED_CUSTOMERS and spec is specs[0] else rng
            if i < SHARED_CUSTOMERS and spec is not specs[0] and i < len(org_customers[0]):
                first, last, email = org_customers[0][i]
            else:
                while True:
                    first = source.randrange(len(FIRST_NAMES))
                    last = source.randrange(len(LAST_NAMES))
                    number = "" if source.random() < 0.4 else str(source.randint(1, 9999))
                    sep = source.choice((".", "_", "", "."))
                    email = (f"{ascii_lower(FIRST_NAMES[first])}{sep}"
                             f"{ascii_lower(LAST_NAMES[last])}{number}@"
                             f"{source.choice(EMAIL_DOMAINS)}")
                    if email not in seen:
                        break
            seen.add(email)
            people.append((first, last, email))
        org_customers.append(people)

    # --- tickets: creation times per org, merged over all orgs for the ids --------------------
    everything = []
    for o, spec in enumerate(specs):
        offsets = sorted(min(SPAN * ((1 + 3 * rand()) ** 0.5 - 1), last_second - 3600)
                         for _ in range(spec.tickets))
        everything.extend((offset, o, k) for k, offset in enumerate(offsets))
    everything.sort()
    n_tickets = len(everything)
    log(f"  plan: {n_tickets:,} tickets ordered by time")

    t_org = array("b", bytes(n_tickets))
    t_number, t_customer = array("l", [0]) * n_tickets, array("l", [0]) * n_tickets
    t_created = array("d", [0.0]) * n_tickets
    per_org_tickets: list[list[int]] = [[] for _ in specs]  # global index by number - 1
    for g, (offset, o, k) in enumerate(everything):
        t_org[g], t_number[g], t_created[g] = o, k + 1, offset
        per_org_tickets[o].append(g)
    del everything

    # customer of each ticket: Zipf-like popularity within the org
    first_ticket: list[list[float]] = [[-1.0] * s.customers for s in specs]
    local_customer = array("l", [0]) * n_tickets
    for o, spec in enumerate(specs):
        weights = _cumulative([1.0 / (k + 10) for k in range(spec.customers)])
        order = list(range(spec.customers))
        rng.shuffle(order)
        firsts = first_ticket[o]
        for g in per_org_tickets[o]:
            c = order[min(bisect.bisect(weights, rand()), spec.customers - 1)]
            local_customer[g] = c
            if firsts[c] < 0:
                firsts[c] = t_created[g]

    # customers get ids in order of creation (before their first ticket), across orgs
    rows = []
    for o, spec in enumerate(specs):
        for c in range(spec.customers):
            first = first_ticket[o][c]
            created = (max(0.0, first - rand() * 60 * DAY) if first >= 0
                       else rand() * last_second)
            rows.append((created, o, c))
    rows.sort()
    n_customers = len(rows)
    c_org = array("b", bytes(n_customers))
    c_first, c_last = array("l", [0]) * n_customers, array("l", [0]) * n_customers
    c_created, c_local = array("d", [0.0]) * n_customers, array("l", [0]) * n_customers
    c_email: list[str] = [""] * n_customers
    customer_id: list[list[int]] = [[0] * s.customers for s in specs]
    for i, (created, o, c) in enumerate(rows):
        first, last, email = org_customers[o][c]
        c_org[i], c_first[i], c_last[i], c_created[i], c_local[i] = o, first, last, created, c
        c_email[i] = email
        customer_id[o][c] = i + 1
    del rows, org_customers
    for g in range(n_tickets):
        t_customer[g] = customer_id[t_org[g]][local_customer[g]]
    del local_customer, customer_id, first_ticket
    log(f"  plan: {n_customers:,} customers")

    # --- messages per ticket: counts, kinds, times, authors -----------------------------------
    user_names: dict[int, str] = {}
    for o, spec in enumerate(specs):
        user_names[spec.owner_id] = agent_name(o, 0)
        for i, uid in enumerate(spec.agent_ids, 1):
            user_names[uid] = agent_name(o, i)
    agent_cums = [_cumulative([3, 3, 2.5, 2.5, 2, 2, 1.5, 1.5, 1, 1][:len(s.agent_ids)] + [0.3])
                  for s in specs]
    staff = [s.agent_ids + [s.owner_id] for s in specs]

    t_assignee = array("l", [0]) * n_tickets
    t_order, t_product = array("l", [0]) * n_tickets, array("l", [0]) * n_tickets
    t_status: list[str] = [""] * n_tickets
    t_first_response = array("d", [-1.0]) * n_tickets
    t_solved = array("d", [-1.0]) * n_tickets
    t_closed = array("d", [-1.0]) * n_tickets
    t_last = array("d", [0.0]) * n_tickets
    n_products = len(BRANDS) * len(PRODUCT_TYPES)

    msgs: list[tuple[float, int, int, int, int]] = []  # (time, ticket, seq, kind, author)
    expo = rng.expovariate
    for o, spec in enumerate(specs):
        counts = _spread(rng, spec.messages, spec.tickets, spec.messages / spec.tickets - 1)
        for g, count in zip(per_org_tickets[o], counts, strict=True):
            t_order[g] = rng.randint(100000, 999999)
            t_product[g] = int(rand() * n_products)
            assignee = pick(rand, agent_cums[o], staff[o]) if rand() > 0.06 else 0
            created = t_created[g]
            thread = [(created, 0, t_customer[g])]  # (time, kind, author)
            when, kind = created, 0
            for _ in range(1, count):
                if kind == 0:
                    kind = 2 if rand() < 0.1 else 1
                    when += expo(1 / (6 * 3600))
                elif kind == 1:
                    kind = 0 if rand() < 0.75 else 1
                    when += expo(1 / DAY) if kind == 0 else expo(1 / (12 * 3600))
                else:
                    kind = 1
                    when += expo(1 / 3600)
                author = t_customer[g] if kind == 0 else (
                    assignee or staff[o][int(rand() * len(staff[o]))])
                thread.append((when, kind, author))
            if when > last_second:  # a recent ticket: its thread is squeezed up to now
                factor = (last_second - created) * (0.2 + 0.8 * rand()) / (when - created)
                thread = [(created + (t - created) * factor, k, a) for t, k, a in thread]
            for seq, (when, kind, author) in enumerate(thread):
                if kind == 1 and t_first_response[g] < 0:
                    t_first_response[g] = when
                msgs.append((when, g, seq, kind, author))
            age_days = (SPAN - when) / DAY
            r = rand()
            if count == 1 and age_days < 3:
                status = "new"
                assignee = 0 if rand() < 0.7 else assignee
            elif age_days > 30:
                status = ("closed" if r < 0.86 else "solved" if r < 0.975 else
                          "pending" if r < 0.985 else "open")
            elif age_days > 2:
                status = ("open" if r < 0.2 else "pending" if r < 0.35 else "solved"
                          if r < 0.8 else "closed")
            else:
                status = "open" if r < 0.5 else "pending" if r < 0.8 else "solved"
            last = when
            if status in ("solved", "closed"):
                solved = min(when + expo(1 / (2 * 3600)), last_second)
                t_solved[g], last = solved, solved
                if status == "closed":
                    closed = min(solved + 4 * DAY, last_second)
                    t_closed[g], last = closed, closed
            t_status[g], t_assignee[g], t_last[g] = status, assignee, last
    log(f"  plan: {len(msgs):,} messages, sorting by time")
    msgs.sort()
    n_messages = len(msgs)
    m_ticket, m_author = array("l", [0]) * n_messages, array("l", [0]) * n_messages
    m_kind, m_seq = array("b", bytes(n_messages)), array("l", [0]) * n_messages
    m_created = array("d", [0.0]) * n_messages
    for i, (when, g, seq, kind, author) in enumerate(msgs):
        m_created[i], m_ticket[i], m_seq[i], m_kind[i], m_author[i] = when, g + 1, seq, kind, \
            author
    del msgs
    return Plan(start, specs, c_org, c_email, c_first, c_last, c_created, c_local, t_org,
                t_number, t_customer, t_assignee, t_order, t_product, t_status, t_created,
                t_first_response, t_solved, t_closed, t_last, m_ticket, m_kind, m_author, m_seq,
                m_created, user_names)


# ---------------------------------------------------------------------------------------------
# rows
# ---------------------------------------------------------------------------------------------

_PLAN: Plan | None = None
_VOCAB: list[str] = []
_CONN: psycopg.Connection | None = None
_PRODUCTS = [f"{b} {t}" for b in BRANDS for t in PRODUCT_TYPES]

CUSTOMER_COPY = ("COPY customers (id, org_id, email, name, company, phone, is_blocked,"
                 " created_at) FROM STDIN")
TICKET_COPY = ("COPY tickets (id, org_id, number, subject, status, priority, channel,"
               " customer_id, assignee_id, tags, is_spam, first_response_at, solved_at,"
               " closed_at, last_activity_at, updated_at, created_at) FROM STDIN")
MESSAGE_COPY = ("COPY messages (id, org_id, ticket_id, kind, author_user_id, author_customer_id,"
                " body_text, body_html, body_visible, message_id, created_at) FROM STDIN")


def _when(plan: Plan, offset: float) -> datetime | None:
    return None if offset < 0 else plan.start + timedelta(seconds=offset)


def customer_rows(plan: Plan):
    for i in range(len(plan.c_org)):
        spec = plan.specs[plan.c_org[i]]
        local = plan.c_local[i]
        yield (i + 1, spec.org_id, plan.c_email[i],
               f"{FIRST_NAMES[plan.c_first[i]]} {LAST_NAMES[plan.c_last[i]]}",
               COMPANIES[local % len(COMPANIES)],
               f"+49 30 {1000000 + local}" if local % 3 == 0 else "", local % 500 == 7,
               _when(plan, plan.c_created[i]))


def ticket_rows(plan: Plan, begin: int, end: int, rng: random.Random):
    gen = TextGenerator(rng, _VOCAB)
    rand = rng.random
    priorities = [p for p, w in PRIORITIES for _ in range(w)]
    channels = [c for c, w in CHANNELS for _ in range(w)]
    tag_cum = _cumulative([1.0 / (k + 2) for k in range(len(TAGS))])
    for g in range(begin, end):
        spec = plan.specs[plan.t_org[g]]
        r = rand()
        ntags = 0 if r < 0.35 else 1 if r < 0.75 else 2 if r < 0.93 else 3
        last = _when(plan, plan.t_last[g])
        yield (g + 1, spec.org_id, plan.t_number[g],
               gen.subject(plan.t_order[g], _PRODUCTS[plan.t_product[g]]), plan.t_status[g],
               priorities[int(rand() * len(priorities))],
               channels[int(rand() * len(channels))], plan.t_customer[g],
               plan.t_assignee[g] or None, sorted({pick(rand, tag_cum, TAGS)
                                                    for _ in range(ntags)}),
               rand() < 0.002, _when(plan, plan.t_first_response[g]),
               _when(plan, plan.t_solved[g]), _when(plan, plan.t_closed[g]), last, last,
               _when(plan, plan.t_created[g]))


def message_rows(plan: Plan, begin: int, end: int, rng: random.Random):
    gen = TextGenerator(rng, _VOCAB)
    for i in range(begin, end):
        g = plan.m_ticket[i] - 1
        spec = plan.specs[plan.t_org[g]]
        customer = plan.t_customer[g] - 1
        first_name = FIRST_NAMES[plan.c_first[customer]]
        order, product = plan.t_order[g], _PRODUCTS[plan.t_product[g]]
        kind = plan.m_kind[i]
        author = plan.m_author[i]
        visible = None
        if kind == 0:
            body, visible = gen.customer_message(first_name, order, product, plan.m_seq[i] > 0)
            user, cust = None, author
            domain = plan.c_email[customer].rsplit("@", 1)[1]
            message_id = f"<{i + 1}.{plan.t_number[g]}@mail.{domain}>"
        elif kind == 1:
            body = gen.agent_reply(first_name, plan.user_names[author], spec.name, order, product)
            user, cust = author, None
            message_id = f"<reply.{i + 1}@{spec.slug}.helpdesk.example>"
        else:
            body = gen.note(order, product)
            user, cust, message_id = author, None, None
        yield (i + 1, spec.org_id, g + 1, KINDS[kind], user, cust, body, text_to_html(body),
               visible, message_id, _when(plan, plan.m_created[i]))


def _worker_init(dsn: str) -> None:
    global _CONN
    _CONN = psycopg.connect(dsn)
    _CONN.execute("SET synchronous_commit = off")


def _copy_chunk(task: tuple[str, int, int, int, int]) -> tuple[str, int, float]:
    """COPY one chunk of ids [begin, end) of a table, in its own transaction."""
    table, index, begin, end, seed = task
    started = time.perf_counter()
    rng = random.Random(f"{seed}-{table}-{index}")
    statement, rows = ((TICKET_COPY, ticket_rows) if table == "tickets"
                       else (MESSAGE_COPY, message_rows))
    with _CONN.cursor() as cur, cur.copy(statement) as copy:
        for row in rows(_PLAN, begin, end, rng):
            copy.write_row(row)
    _CONN.commit()
    return table, end - begin, time.perf_counter() - started


# ---------------------------------------------------------------------------------------------
# the load
# ---------------------------------------------------------------------------------------------

@dataclass
class SeedResult:
    counts: dict[str, int]
    seconds: float
    phases: dict[str, float]


def index_definitions(conn) -> dict[str, str]:
    rows = conn.execute("SELECT indexname, indexdef FROM pg_indexes WHERE indexname = ANY(%s)",
                        (list(GIN_INDEXES),)).fetchall()
    return dict(rows)


def build_gin_indexes(dsn: str, definitions: dict[str, str], log=print) -> dict[str, float]:
    """CREATE INDEX one by one (timed), with a large maintenance_work_mem."""
    times = {}
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '1GB'")
        for name in GIN_INDEXES:
            t0 = time.perf_counter()
            conn.execute(definitions[name])
            times[name] = time.perf_counter() - t0
            log(f"  GIN build {name}: {times[name]:.1f} s")
    return times


def seed(dsn: str, specs: list[OrgSpec], *, seed_value: int = 42, workers: int = 2,
         log=print) -> SeedResult:
    """Load everything into an empty, migrated database whose orgs and staff exist."""
    global _PLAN, _VOCAB
    phases: dict[str, float] = {}
    started = time.perf_counter()
    with psycopg.connect(dsn) as conn:
        for table in ("customers", "tickets", "messages"):
            if conn.execute(f"SELECT EXISTS (SELECT 1 FROM {table})").fetchone()[0]:
                raise RuntimeError(f"{table} is not empty: seed needs a fresh database")
        definitions = index_definitions(conn)
        missing = set(GIN_INDEXES) - set(definitions)
        if missing:
            raise RuntimeError(f"indexes not found (migration not applied?): {missing}")
        languages = conn.execute("SELECT DISTINCT search_language FROM organizations"
                                 " WHERE slug LIKE 'search-%'").fetchall()
    log(f"  search_language of the orgs: {', '.join(r[0] for r in languages)}")

    t0 = time.perf_counter()
    _VOCAB = vocabulary(seed_value)
    _PLAN = plan = build_plan(specs, seed_value, log)
    phases["plan (Python)"] = time.perf_counter() - t0
    log(f"  plan in {phases['plan (Python)']:.1f} s: {plan.counts}; vocabulary "
        f"{len(_VOCAB):,} words")

    with psycopg.connect(dsn, autocommit=True) as conn:
        for name in GIN_INDEXES:
            conn.execute(f"DROP INDEX {name}")
    log(f"  dropped {', '.join(GIN_INDEXES)}")

    # customers: one stream (small)
    t0 = time.perf_counter()
    with psycopg.connect(dsn) as conn:
        conn.execute("SET synchronous_commit = off")
        with conn.cursor() as cur, cur.copy(CUSTOMER_COPY) as copy:
            for row in customer_rows(plan):
                copy.write_row(row)
    phases["COPY customers (with vector triggers)"] = time.perf_counter() - t0
    log(f"  customers: {plan.counts['customers']:,} in "
        f"{phases['COPY customers (with vector triggers)']:.1f} s")

    # tickets, then messages: chunks over `workers` processes
    context = multiprocessing.get_context("fork")
    with context.Pool(workers, initializer=_worker_init, initargs=(dsn,)) as pool:
        for table in ("tickets", "messages"):
            total = plan.counts[table]
            tasks = [(table, k, begin, min(begin + CHUNK, total), seed_value)
                     for k, begin in enumerate(range(0, total, CHUNK))]
            t0 = time.perf_counter()
            done = 0
            for _, rows, _seconds in pool.imap_unordered(_copy_chunk, tasks):
                done += rows
                if done % (CHUNK * 20) < CHUNK:
                    log(f"  {table}: {done:,}/{total:,} ({time.perf_counter() - t0:.0f} s)")
            key = f"COPY {table} (with vector triggers, {workers} connections)"
            phases[key] = time.perf_counter() - t0
            log(f"  {table}: {total:,} in {phases[key]:.1f} s")
    phases["COPY total"] = sum(v for k, v in phases.items() if k.startswith("COPY "))

    with psycopg.connect(dsn) as conn, conn.transaction():
        for spec in specs:
            conn.execute("INSERT INTO ticket_counters (org_id, last_number) VALUES (%s, %s)"
                         " ON CONFLICT (org_id) DO UPDATE SET last_number = EXCLUDED.last_number",
                         (spec.org_id, spec.tickets))
        for table in ("customers", "tickets", "messages", "ticket_counters"):
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                         f" (SELECT max(id) FROM {table}))")

    for name, seconds in build_gin_indexes(dsn, definitions, log).items():
        phases[f"GIN build {name}"] = seconds

    t0 = time.perf_counter()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '1GB'")
        for table in ("customers", "tickets", "messages", "ticket_counters", "users",
                      "memberships", "organizations"):
            conn.execute(f"VACUUM (ANALYZE) {table}")
    phases["VACUUM ANALYZE"] = time.perf_counter() - t0
    log(f"  VACUUM ANALYZE in {phases['VACUUM ANALYZE']:.1f} s")
    _PLAN = None
    return SeedResult(plan.counts, time.perf_counter() - started, phases)


def verify(dsn: str) -> dict[str, int]:
    """Sanity checks of the load (the foreign keys were checked by PostgreSQL during COPY)."""
    checks = {
        "messages without a vector": "SELECT count(*) FROM messages WHERE search_vector IS NULL",
        "tickets without a vector": "SELECT count(*) FROM tickets WHERE search_vector IS NULL",
        "customers without a vector":
            "SELECT count(*) FROM customers WHERE search_vector IS NULL",
        "messages before their ticket": "SELECT count(*) FROM messages m JOIN tickets t"
        " ON t.id = m.ticket_id WHERE m.created_at < t.created_at",
        "messages with both or no author": "SELECT count(*) FROM messages WHERE"
        " (author_user_id IS NULL) = (author_customer_id IS NULL)",
        "messages ids not in time order": "SELECT count(*) FROM (SELECT created_at < lag("
        "created_at) OVER (ORDER BY id) AS back FROM messages) x WHERE back",
    }
    with psycopg.connect(dsn) as conn:
        return {name: conn.execute(sql).fetchone()[0] for name, sql in checks.items()}
