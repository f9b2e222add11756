"""Demo tickets: a few hundred conversations of an outdoor-gear shop, spread over 60 days."""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import select, text

from helpdesk.core.models import utcnow
from helpdesk.extensions import db
from helpdesk.tickets import services, workflow
from helpdesk.tickets.models import (
    AutomationRule,
    CannedResponse,
    Channel,
    CustomField,
    CustomFieldType,
    Priority,
    Status,
    Team,
    Ticket,
)

TOPICS = [
    ("Where is my order #{n}?", "I ordered a {item} ten days ago and the tracking has not moved.",
     ["shipping"]),
    ("Wrong size {item}", "The {item} I received is a size too small. Can I exchange it?",
     ["returns", "exchange"]),
    ("Refund for order #{n}", "I returned the {item} last week; when will the refund arrive?",
     ["refund", "billing"]),
    ("{item} broke after two trips", "The zip on my {item} broke. Is this covered by warranty?",
     ["warranty"]),
    ("Discount code not working", "The code SPRING10 is rejected at checkout for the {item}.",
     ["billing", "checkout"]),
    ("Question about the {item}", "Is the {item} waterproof enough for a week in Scotland?",
     ["pre-sales"]),
    ("Change delivery address", "Could you ship order #{n} to my office instead?",
     ["shipping"]),
    ("Invoice for order #{n}", "Our accounting needs a VAT invoice for the {item}.", ["billing"]),
]
CHANNELS = [Channel.EMAIL] * 6 + [Channel.PORTAL, Channel.PHONE, Channel.STORE]
ITEMS = ["tent", "sleeping bag", "rain jacket", "hiking boots", "backpack", "stove",
         "trekking poles", "headlamp"]
REPLIES = ["Thanks for writing! I've checked with our warehouse and will update you shortly.",
           "Sorry about that. I've started the exchange; you'll get a return label by mail.",
           "Your refund was issued today; it shows on your statement in 3-5 working days."]
CANNED = [
    ("Greeting", "Hi {{ customer.name }},\n\nThanks for contacting {{ org.name }}!"),
    ("Refund issued", "Hi {{ customer.name }}, the refund for ticket #{{ ticket.number }} has "
                      "been issued. It shows on your statement in 3-5 working days.\n\n"
                      "{{ agent.name }}"),
    ("Return label", "Hi {{ customer.name }}, your prepaid return label is attached. "
                     "Drop the parcel at any post office."),
]


def seed_ticket_data(org_id: int, customers: list, agent_ids: list[int], count: int = 300,
                     seed: int = 7) -> int:
    """Create settings (teams, fields, canned responses, a rule) and `count` tickets."""
    rng = random.Random(seed)
    db.session.add_all([Team(org_id=org_id, name="Support"), Team(org_id=org_id, name="Billing")])
    db.session.add_all([
        CustomField(org_id=org_id, key="order_number", label="Order number",
                    field_type=CustomFieldType.TEXT, options=[], position=0),
        CustomField(org_id=org_id, key="product", label="Product",
                    field_type=CustomFieldType.DROPDOWN, options=ITEMS, position=1),
    ])
    db.session.add_all([CannedResponse(org_id=org_id, title=t, body=b, owner_user_id=None,
                                       usage_count=0) for t, b in CANNED])
    db.session.add(AutomationRule(
        org_id=org_id, name="Refunds go to billing", event="created", position=0,
        conditions=[{"field": "subject", "op": "contains", "value": "refund"}],
        actions=[{"type": "set_priority", "value": "high"}], match_all=True))
    db.session.flush()
    now = utcnow()
    for index in range(count):
        subject, body, tags = rng.choice(TOPICS)
        item, number = rng.choice(ITEMS), rng.randint(10000, 99999)
        customer = rng.choice(customers)
        ticket = services.create_ticket(
            None, subject=subject.format(n=number, item=item),
            body_text=body.format(n=number, item=item), customer=customer,
            channel=rng.choice(CHANNELS),
            priority=rng.choice([Priority.LOW, Priority.NORMAL, Priority.NORMAL, Priority.HIGH,
                                 Priority.URGENT]),
            tags=tags, custom_fields={"product": item, "order_number": str(number)},
            assignee_id=rng.choice(agent_ids + [None]))
        age = timedelta(days=rng.uniform(0, 60), minutes=index)
        ticket.created_at = ticket.last_activity_at = now - age
        fate = rng.random()
        if fate > 0.25 and ticket.assignee_id:
            services.add_reply(ticket.assignee_id, ticket, body_text=rng.choice(REPLIES),
                               send=False)
        if fate > 0.55:
            workflow.change_status(ticket.assignee_id, ticket, Status.SOLVED)
        if fate > 0.8:
            workflow.change_status(ticket.assignee_id, ticket, Status.CLOSED)
        elif 0.45 < fate <= 0.55:
            workflow.change_status(ticket.assignee_id, ticket, Status.PENDING)
        if index % 50 == 0:
            db.session.flush()
    db.session.flush()
    return count


def spread_history(org_id: int) -> None:
    """Messages and events happened after their ticket was opened, not at seeding time.
    Runs in the system scope (the timeline is append-only for the app role)."""
    # Rank each ticket's messages and events together in the order they were written, then
    # space them 23 minutes apart from the ticket's opening (never later than now).
    db.session.execute(text("""
        CREATE TEMP TABLE demo_timeline ON COMMIT DROP AS
        SELECT src, id, ticket_id,
               row_number() OVER (PARTITION BY ticket_id
                                  ORDER BY kind = 'created' DESC, created_at, src, id) - 1 AS n
        FROM (SELECT 'event' AS src, id, ticket_id, kind, created_at FROM ticket_events
              WHERE org_id = :org
              UNION ALL
              SELECT 'message', id, ticket_id, kind, created_at FROM messages
              WHERE org_id = :org) AS x
    """), {"org": org_id})
    for table, src in (("messages", "message"), ("ticket_events", "event")):
        db.session.execute(text(f"""
            UPDATE {table} AS row
            SET created_at = LEAST(t.created_at + r.n * interval '23 minutes', now())
            FROM demo_timeline AS r JOIN tickets AS t ON t.id = r.ticket_id
            WHERE r.src = :src AND row.id = r.id
        """), {"src": src})
    db.session.execute(text("""
        UPDATE tickets AS t SET last_activity_at = m.latest, updated_at = m.latest,
            first_response_at = CASE WHEN t.first_response_at IS NULL THEN NULL
                                     ELSE m.first_reply END,
            solved_at = CASE WHEN t.solved_at IS NULL THEN NULL ELSE m.latest END,
            closed_at = CASE WHEN t.closed_at IS NULL THEN NULL ELSE m.latest END
        FROM (SELECT ticket_id, max(created_at) AS latest,
                     min(created_at) FILTER (WHERE kind = 'reply') AS first_reply
              FROM messages WHERE org_id = :org GROUP BY ticket_id) AS m
        WHERE t.org_id = :org AND t.id = m.ticket_id
    """), {"org": org_id})


def time_sla(org_id: int) -> None:
    """The SLA clock and reply records follow the spread history; thresholds the past already
    crossed count as announced (no flood of old warnings when the demo starts)."""
    from helpdesk.sla import clock

    for ticket in db.session.scalars(select(Ticket).where(Ticket.org_id == org_id)
                                     .order_by(Ticket.id)):
        clock.rebuild_history(ticket)
        clock.silence_past_alerts(ticket)
    db.session.flush()
