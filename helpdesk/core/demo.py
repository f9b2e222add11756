"""The demo tenant: a small outdoor-gear shop. Later issues add tickets, products and orders."""

from __future__ import annotations

from sqlalchemy import select

from helpdesk.accounts import services as accounts
from helpdesk.core import tenancy
from helpdesk.customers.models import Customer
from helpdesk.extensions import db
from helpdesk.orgs import services as orgs
from helpdesk.orgs.models import Membership, Organization, Role

DEMO_SLUG = "demo"
DEMO_PASSWORD = "demo-password"
DEMO_LOGINS = [
    ("owner", "owner@demo.example", DEMO_PASSWORD),
    ("agent", "agent@demo.example", DEMO_PASSWORD),
]
DEMO_STAFF = [
    ("owner@demo.example", "Olivia Owens", Role.OWNER),
    ("admin@demo.example", "Arjun Patel", Role.ADMIN),
    ("manager@demo.example", "Maria Gonzalez", Role.MANAGER),
    ("agent@demo.example", "Sam Carter", Role.AGENT),
]
DEMO_CUSTOMERS = [
    ("Emma Schmidt", "emma.schmidt@example.de", "Bergfreunde Hamburg"),
    ("Liam O'Brien", "liam.obrien@example.ie", ""),
    ("Noah Kim", "noah.kim@example.com", "Trailhead Co."),
    ("Ava Rossi", "ava.rossi@example.it", ""),
    ("Lucas Martin", "lucas.martin@example.fr", "Club Alpin Lyon"),
    ("Mia Nowak", "mia.nowak@example.pl", ""),
    ("Ethan Brown", "ethan.brown@example.com", "Brown Family Camping"),
    ("Sofia Silva", "sofia.silva@example.pt", ""),
    ("Yuki Tanaka", "yuki.tanaka@example.jp", "Tanaka Outdoor"),
    ("Zoe Williams", "zoe.williams@example.co.uk", ""),
    ("Oskar Lindqvist", "oskar.lindqvist@example.se", "Fjällklubben"),
    ("Chloé Dubois", "chloe.dubois@example.fr", ""),
]


def seed_demo() -> bool:
    """Create the demo tenant unless it exists. Must run in the system scope; flushes only."""
    if db.session.scalar(select(Organization.id).where(Organization.slug == DEMO_SLUG)):
        return False
    owner_email, owner_name, _ = DEMO_STAFF[0]
    owner = accounts.find_user(owner_email) or accounts.create_user(
        email=owner_email, name=owner_name, password=DEMO_PASSWORD
    )
    org = orgs.create_org(name="Demo Outfitters", slug=DEMO_SLUG, owner=owner, plan="professional")
    tenancy.set_current_org(org.id)
    for email, name, role in DEMO_STAFF[1:]:
        user = accounts.find_user(email) or accounts.create_user(
            email=email, name=name, password=DEMO_PASSWORD
        )
        db.session.add(Membership(org_id=org.id, user=user, role=role))
    customers = [Customer(org_id=org.id, email=email, name=name, company=company)
                 for name, email, company in DEMO_CUSTOMERS]
    db.session.add_all(customers)
    db.session.flush()
    from helpdesk.core.demo_tickets import seed_ticket_data, spread_history, time_sla

    agent_ids = list(db.session.scalars(select(Membership.user_id).where(
        Membership.org_id == org.id)))
    # Tickets go through the services as the demo org (its rules, fields and agents only);
    # rewriting their history afterwards needs the owner (the timeline is append-only).
    with tenancy.org_scope(org.id):
        seed_ticket_data(org.id, customers, agent_ids)
    spread_history(org.id)
    with tenancy.org_scope(org.id):
        time_sla(org.id)
    from storefront.demo import seed_catalog

    with tenancy.org_scope(org.id):
        seed_catalog(owner.id)
    return True
