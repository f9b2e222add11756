"""Bulk seed for the ticket benchmark: one org, N tickets over two years, loaded with COPY.

Runs as the database owner (the DATABASE_URL user), which row-level security does not bind.
Three connections COPY tickets, messages and ticket_events at the same time, fed by one
generator loop; `session_replication_role = replica` skips the per-row foreign-key triggers
(the generator only produces valid references; `verify()` checks them afterwards with joins).
"""

from __future__ import annotations

import bisect
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg

from helpdesk.tickets.sanitize import text_to_html

STATUSES = ("new", "open", "pending", "solved", "closed")
PRIORITIES = (("low", 20), ("normal", 60), ("high", 15), ("urgent", 5))
CHANNELS = (("email", 70), ("portal", 15), ("api", 4), ("phone", 6), ("store", 5))
TAGS = ("billing", "refund", "shipping", "delivery", "bug", "feature-request", "login", "password",
        "invoice", "vip", "order", "returns", "damaged", "api", "mobile", "android", "ios",
        "integration", "cancel", "upgrade", "downgrade", "feedback", "complaint", "praise",
        "wholesale", "gift-card", "coupon", "tracking", "address-change", "size-exchange",
        "out-of-stock", "payment-failed", "chargeback", "gdpr", "account-deletion", "newsletter",
        "partnership", "press", "warranty", "repair")
FIRST = ("Anna", "Ben", "Chloe", "David", "Emma", "Felix", "Grace", "Hugo", "Ines", "Jonas",
         "Kira", "Liam", "Maya", "Noah", "Olivia", "Paul", "Quinn", "Rosa", "Sam", "Tara",
         "Umar", "Vera", "Will", "Xenia", "Yusuf", "Zoe", "Lena", "Marco", "Nina", "Omar")
LAST = ("Smith", "Müller", "Garcia", "Rossi", "Dubois", "Nowak", "Jensen", "Silva", "Kim",
        "Tanaka", "Okafor", "Novak", "Berg", "Costa", "Larsen", "Schmidt", "Moreau", "Ivanova",
        "Haddad", "Fischer", "Lopez", "Wright", "Meyer", "Santos", "Kowalski", "Brown")
COMPANIES = ("", "", "", "", "Acme GmbH", "Northwind", "Globex", "Initech", "Umbrella Ltd",
             "Stark Retail", "Wayne Foods", "Hooli", "Vandelay Imports", "Soylent Co")
SUBJECTS = ("Where is my order #{n}?", "Order #{n} arrived damaged", "Refund for order #{n}",
            "Can't log in to my account", "Password reset link does not work",
            "Invoice {n} is wrong", "Change the delivery address of #{n}",
            "Question about {p}", "{p} stopped working", "Exchange {p} for another size",
            "Is {p} back in stock?", "Payment failed for order #{n}", "Cancel my subscription",
            "Upgrade to the yearly plan", "Wholesale inquiry", "Tracking number missing for #{n}",
            "Coupon code not accepted", "Warranty claim for {p}", "Delete my account (GDPR)",
            "Thank you!", "Complaint about the courier", "API returns 500 on /orders",
            "App crashes on Android when opening {p}", "Double charge on my card",
            "Gift card balance", "Partnership proposal", "Press inquiry")
PRODUCTS = ("the blue hoodie", "the ceramic mug", "the espresso grinder", "the hiking boots",
            "the phone case", "the desk lamp", "the yoga mat", "the travel backpack",
            "the wool scarf", "the smart scale", "the water bottle", "the linen shirt")
SENTENCES = (
    "Hi, I ordered last week and still have not received anything.",
    "The tracking page has not changed for five days.",
    "Could you please check what happened with my parcel?",
    "The package arrived today but the box was crushed and the item is broken.",
    "I attached a photo of the damage.",
    "I would like a refund to my original payment method.",
    "When I try to sign in it says my password is wrong, but I just reset it.",
    "The reset email never arrives, I checked the spam folder too.",
    "My invoice shows the wrong VAT number, can you send a corrected one?",
    "We moved and I need the order delivered to our new address instead.",
    "Is it possible to exchange it for a larger size?",
    "The product stopped working after two weeks of normal use.",
    "My card was charged twice for the same order.",
    "Thanks a lot for the quick help last time!",
    "Can you tell me when this will be back in stock?",
    "We are a small shop and would like to order in bulk.",
    "Please cancel my subscription at the end of the current period.",
    "The discount code from your newsletter is not accepted at checkout.",
    "Our integration gets an error from your API since this morning.",
    "Kind regards,", "Best wishes,", "Thank you in advance.",
)
REPLIES = (
    "Thanks for reaching out! I have checked your order and it is on its way.",
    "Sorry about that. I have issued a full refund; it will show up in 3-5 business days.",
    "I have sent you a new password reset link, it is valid for one hour.",
    "Here is the corrected invoice. Let us know if anything else is missing.",
    "We have updated the delivery address. You will get a new tracking number soon.",
    "The exchange is arranged: please use the enclosed return label.",
    "I have forwarded this to our engineers and will get back to you shortly.",
)

TWO_YEARS = timedelta(days=730)
DAY = 86400.0


@dataclass
class SeedResult:
    tickets: int
    messages: int
    events: int
    customers: int
    seconds: float
    phases: dict[str, float]


def _weighted(rng: random.Random, pairs) -> list[str]:
    """A 100-slot lookup table for fast weighted picks."""
    table: list[str] = []
    for value, weight in pairs:
        table.extend([value] * weight)
    return table


def _cumulative(weights) -> list[float]:
    total, acc = sum(weights), 0.0
    out = []
    for w in weights:
        acc += w / total
        out.append(acc)
    return out


def _pick(rng_random, cumulative, values):
    return values[min(bisect.bisect(cumulative, rng_random()), len(values) - 1)]


def seed(conninfo: str, org_id: int, agent_ids: list[int], owner_id: int, *, tickets: int,
         customers: int, replies: bool = True, seed_value: int = 42, log=print) -> SeedResult:
    rng = random.Random(seed_value)
    rand = rng.random
    phases: dict[str, float] = {}
    started = time.perf_counter()
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - TWO_YEARS

    conns = [psycopg.connect(conninfo) for _ in range(3)]
    for conn in conns:
        conn.execute("SET session_replication_role = replica")
        conn.execute("SET synchronous_commit = off")
    tconn, mconn, econn = conns

    base = {table: tconn.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()[0]
            for table in ("customers", "tickets", "messages", "ticket_events")}
    first_number = tconn.execute("SELECT coalesce(max(number), 0) FROM tickets WHERE org_id = %s",
                                 (org_id,)).fetchone()[0]

    # --- customers ---------------------------------------------------------------------------
    t0 = time.perf_counter()
    cust_created: list[datetime] = []
    with tconn.cursor() as cur, cur.copy(
        "COPY customers (id, org_id, email, name, company, phone, is_blocked, created_at)"
        " FROM STDIN"
    ) as copy:
        for i in range(customers):
            first, last = FIRST[i % len(FIRST)], LAST[(i // len(FIRST)) % len(LAST)]
            created = start + timedelta(seconds=rand() * TWO_YEARS.total_seconds())
            cust_created.append(created)
            copy.write_row((base["customers"] + i + 1, org_id,
                            f"{first.lower()}.{last.lower()}.{i}@customer{i % 97}.example",
                            f"{first} {last}", COMPANIES[i % len(COMPANIES)],
                            f"+49 30 {1000000 + i}" if i % 3 == 0 else "", i % 500 == 0,
                            created))
    tconn.commit()
    phases["customers"] = time.perf_counter() - t0
    log(f"  customers: {customers:,} in {phases['customers']:.1f} s")

    # Zipf-like customer popularity: a few customers write a lot.
    cust_weights = _cumulative([1.0 / (k + 10) for k in range(customers)])
    cust_order = list(range(customers))
    rng.shuffle(cust_order)

    # Ticket creation times: volume grows ~2x over the two years (sorted, so id/number follow it).
    span = TWO_YEARS.total_seconds()
    offsets = sorted(span * ((1 + 3 * rand()) ** 0.5 - 1) for _ in range(tickets))  # 0..span

    assignable = agent_ids + [owner_id]
    agent_cum = _cumulative([3, 3, 2.5, 2.5, 2, 2, 1.5, 1.5, 1, 1][: len(agent_ids)] + [0.3])
    priority_table = _weighted(rng, PRIORITIES)
    channel_table = _weighted(rng, CHANNELS)
    tag_cum = _cumulative([1.0 / (k + 2) for k in range(len(TAGS))])
    subjects = [s.format(n=rng.randint(10000, 99999), p=rng.choice(PRODUCTS))
                for s in SUBJECTS for _ in range(40)]
    bodies = []
    for _ in range(3000):
        text = " ".join(rng.sample(SENTENCES, rng.randint(2, 6)))
        if rand() < 0.5:
            text += "\n\n" + rng.choice(FIRST)
        bodies.append((text, text_to_html(text)))
    reply_bodies = [(t, text_to_html(t)) for t in REPLIES]

    # --- tickets + messages + events, three COPY streams -------------------------------------
    t0 = time.perf_counter()
    n_msg = n_evt = 0
    tcur, mcur, ecur = tconn.cursor(), mconn.cursor(), econn.cursor()
    with tcur.copy(
        "COPY tickets (id, org_id, number, subject, status, priority, channel, customer_id,"
        " assignee_id, tags, is_spam, first_response_at, solved_at, closed_at, last_activity_at,"
        " updated_at, created_at) FROM STDIN"
    ) as tcopy, mcur.copy(
        "COPY messages (id, org_id, ticket_id, kind, author_user_id, author_customer_id,"
        " body_text, body_html, message_id, created_at) FROM STDIN"
    ) as mcopy, ecur.copy(
        "COPY ticket_events (id, org_id, ticket_id, actor_user_id, kind, data, created_at)"
        " FROM STDIN"
    ) as ecopy:
        for i, offset in enumerate(offsets):
            ticket_id = base["tickets"] + i + 1
            number = first_number + i + 1
            created = start + timedelta(seconds=offset)
            age_days = (span - offset) / DAY
            r = rand()
            if age_days > 30:
                status = ("closed" if r < 0.86 else "solved" if r < 0.975 else
                          "pending" if r < 0.985 else "open" if r < 0.997 else "new")
            elif age_days > 2:
                status = ("new" if r < 0.03 else "open" if r < 0.23 else "pending" if r < 0.38
                          else "solved" if r < 0.78 else "closed")
            else:
                status = ("new" if r < 0.35 else "open" if r < 0.70 else "pending" if r < 0.85
                          else "solved")
            if status == "new":
                assignee = None if rand() < 0.7 else _pick(rand, agent_cum, assignable)
            else:
                assignee = None if rand() < 0.06 else _pick(rand, agent_cum, assignable)
            customer_id = base["customers"] + 1 + cust_order[
                min(bisect.bisect(cust_weights, rand()), customers - 1)]
            first_response = solved = closed = None
            remaining = span - offset  # seconds until now
            if status != "new":
                first_response = created + timedelta(
                    seconds=min(rng.expovariate(1 / (6 * 3600)), remaining * 0.5))
            last_activity = created
            if status in ("solved", "closed"):
                solved = first_response + timedelta(
                    seconds=min(rng.expovariate(1 / (1.5 * DAY)), remaining * 0.4))
                last_activity = solved
                if status == "closed":
                    closed = solved + timedelta(seconds=min(4 * DAY, remaining * 0.1))
                    last_activity = closed
            elif status in ("open", "pending"):
                last_activity = first_response + timedelta(
                    seconds=rand() * (now - first_response).total_seconds())
            ntags = 0 if r < 0.35 else 1 if r < 0.75 else 2 if r < 0.93 else 3
            tags = sorted({_pick(rand, tag_cum, TAGS) for _ in range(ntags)})
            channel = channel_table[int(rand() * 100)]
            tcopy.write_row((
                ticket_id, org_id, number, subjects[int(rand() * len(subjects))], status,
                priority_table[int(rand() * 100)], channel, customer_id, assignee,
                tags, rand() < 0.002, first_response, solved, closed, last_activity,
                last_activity, created,
            ))
            body, html = bodies[int(rand() * len(bodies))]
            n_msg += 1
            mcopy.write_row((base["messages"] + n_msg, org_id, ticket_id, "customer", None,
                             customer_id, body, html,
                             f"<{number}.{ticket_id}@mail.customer.example>"
                             if channel == "email" else None, created))
            n_evt += 1
            ecopy.write_row((base["ticket_events"] + n_evt, org_id, ticket_id, None, "created",
                             f'{{"channel": "{channel}"}}', created))
            if replies and first_response is not None:
                rbody, rhtml = reply_bodies[i % len(reply_bodies)]
                n_msg += 1
                mcopy.write_row((base["messages"] + n_msg, org_id, ticket_id, "reply",
                                 assignee or owner_id, None, rbody, rhtml, None, first_response))
            if solved is not None:
                n_evt += 1
                ecopy.write_row((base["ticket_events"] + n_evt, org_id, ticket_id,
                                 assignee or owner_id, "status",
                                 '{"old": "open", "new": "solved", "reason": ""}', solved))
            if i and i % 200_000 == 0:
                log(f"  tickets: {i:,} ({time.perf_counter() - t0:.0f} s)")
    for conn in conns:
        conn.commit()
    phases["tickets+messages+events COPY"] = time.perf_counter() - t0
    log(f"  tickets {tickets:,}, messages {n_msg:,}, events {n_evt:,} in "
        f"{phases['tickets+messages+events COPY']:.1f} s")

    # --- counters, sequences -----------------------------------------------------------------
    with tconn.transaction():
        tconn.execute(
            "INSERT INTO ticket_counters (org_id, last_number) VALUES (%s, %s)"
            " ON CONFLICT (org_id) DO UPDATE SET last_number = EXCLUDED.last_number",
            (org_id, first_number + tickets))
        for table in ("customers", "tickets", "messages", "ticket_events", "ticket_counters"):
            tconn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                          f" (SELECT max(id) FROM {table}))")
    for conn in conns:
        conn.close()

    # --- vacuum/analyze (visibility map for index-only scans, planner statistics) ------------
    t0 = time.perf_counter()
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '512MB'")
        for table in ("customers", "tickets", "messages", "ticket_events", "ticket_counters",
                      "users", "memberships", "organizations"):
            conn.execute(f"VACUUM (ANALYZE) {table}")
    phases["VACUUM ANALYZE"] = time.perf_counter() - t0
    log(f"  VACUUM ANALYZE in {phases['VACUUM ANALYZE']:.1f} s")
    return SeedResult(tickets, n_msg, n_evt, customers, time.perf_counter() - started, phases)


def verify(conninfo: str) -> dict[str, int]:
    """The references the replica-mode load did not check, checked in bulk."""
    checks = {
        "tickets without customer": "SELECT count(*) FROM tickets t LEFT JOIN customers c"
        " ON c.org_id = t.org_id AND c.id = t.customer_id WHERE c.id IS NULL",
        "tickets with unknown assignee": "SELECT count(*) FROM tickets t LEFT JOIN users u"
        " ON u.id = t.assignee_id WHERE t.assignee_id IS NOT NULL AND u.id IS NULL",
        "messages without ticket": "SELECT count(*) FROM messages m LEFT JOIN tickets t"
        " ON t.org_id = m.org_id AND t.id = m.ticket_id WHERE t.id IS NULL",
        "events without ticket": "SELECT count(*) FROM ticket_events e LEFT JOIN tickets t"
        " ON t.org_id = e.org_id AND t.id = e.ticket_id WHERE t.id IS NULL",
    }
    with psycopg.connect(conninfo) as conn:
        return {name: conn.execute(sql).fetchone()[0] for name, sql in checks.items()}
