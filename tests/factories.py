"""Factory fixtures. Each call runs in its own app context and commits (a savepoint), then
returns plain values (ids, emails), so tests never hold ORM objects across requests."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace

import pytest
from flask import g

from helpdesk.core import tenancy
from helpdesk.extensions import db

PASSWORD = "correct-horse-battery"
_counter = itertools.count(1)


@contextmanager
def _unit_of_work(app, org_id=None, user_id=None, system=False) -> Iterator:
    """A fresh app context, as a request or job has: set the scope, commit at the end."""
    with app.app_context():
        tenancy.set_current_org(org_id)
        tenancy.set_current_user(user_id)
        g.tenancy_system = system
        try:
            yield db.session
            db.session.commit()
        finally:
            db.session.rollback()


@pytest.fixture
def in_org(app):
    """`with in_org(org_id) as session:` with that org set (None: no org, to test failing)."""
    return lambda org_id, user_id=None: _unit_of_work(app, org_id, user_id)


@pytest.fixture
def as_system(app):
    """`with as_system() as session:` in the system scope, for set-up and checks across orgs."""
    return lambda: _unit_of_work(app, system=True)


@pytest.fixture
def make_org(as_system):
    from helpdesk.accounts import services as accounts
    from helpdesk.orgs import services as orgs

    def _make_org(slug: str | None = None, *, plan: str = "starter", name: str | None = None):
        n = next(_counter)
        slug = slug or f"org-{n}"
        email = f"owner{n}@{slug}.test"
        with as_system():
            owner = accounts.create_user(email=email, name=f"Owner {n}", password=PASSWORD)
            org = orgs.create_org(name=name or f"Org {n}", slug=slug, owner=owner, plan=plan)
            return SimpleNamespace(id=org.id, slug=org.slug, owner_id=owner.id,
                                   owner_email=email, password=PASSWORD)

    return _make_org


@pytest.fixture
def make_member(as_system):
    from helpdesk.accounts import services as accounts
    from helpdesk.orgs.models import Membership, Role

    def _make_member(org, role: str = "agent", email: str | None = None):
        n = next(_counter)
        email = email or f"{role}{n}@{org.slug}.test"
        with as_system():
            user = accounts.find_user(email) or accounts.create_user(
                email=email, name=f"{role.title()} {n}", password=PASSWORD
            )
            db.session.add(Membership(org_id=org.id, user=user, role=Role(role)))
            db.session.flush()
            return SimpleNamespace(id=user.id, email=email, password=PASSWORD)

    return _make_member


@pytest.fixture
def make_customer(in_org):
    from helpdesk.customers import services

    def _make_customer(org, email: str | None = None, name: str = "Casey Customer"):
        email = email or f"customer{next(_counter)}@example.com"
        with in_org(org.id):
            customer = services.create_customer(email=email, name=name)
            return SimpleNamespace(id=customer.id, email=email, org_id=org.id)

    return _make_customer


@pytest.fixture
def make_token(in_org):
    from sqlalchemy import select

    from helpdesk.api import services
    from helpdesk.orgs.models import Membership

    def _make_token(org, user_id: int) -> str:
        with in_org(org.id) as session:
            membership = session.scalar(select(Membership).where(Membership.user_id == user_id))
            _, raw = services.create_token(membership, "test")
            return raw

    return _make_token


@pytest.fixture
def login(client):
    def _login(email: str, password: str = PASSWORD, follow: bool = False):
        return client.post("/login", data={"email": email, "password": password},
                           follow_redirects=follow)

    return _login
