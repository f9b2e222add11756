"""Wall two: PostgreSQL row-level security holds even for raw SQL that skips the ORM."""

import psycopg.errors
import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import ProgrammingError

from helpdesk.extensions import db


@pytest.fixture
def two_orgs(make_org, make_customer):
    a, b = make_org("gamma"), make_org("delta")
    make_customer(a, "shared@example.com", name="Gamma")
    cb = make_customer(b, "shared@example.com", name="Delta")
    return a, b, cb


def test_app_runs_as_a_role_that_cannot_bypass_rls(two_orgs, in_org, app):
    with in_org(two_orgs[0].id) as session:
        row = session.execute(text(
            "SELECT current_user, r.rolsuper, r.rolbypassrls FROM pg_roles r "
            "WHERE r.rolname = current_user"
        )).one()
        assert row == (app.config["DATABASE_APP_ROLE"], False, False)
        owners = session.execute(text(
            "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'"
        )).scalars().all()
        assert app.config["DATABASE_APP_ROLE"] not in owners


def test_raw_select_sees_only_the_current_org(two_orgs, in_org):
    a, b, cb = two_orgs
    with in_org(a.id) as session:
        names = session.execute(text("SELECT name FROM customers")).scalars().all()
        assert names == ["Gamma"]
        assert session.execute(
            text("SELECT count(*) FROM customers WHERE id = :id"), {"id": cb.id}
        ).scalar() == 0


def test_raw_select_without_org_sees_nothing(two_orgs, in_org):
    with in_org(None) as session:
        assert session.execute(text("SELECT count(*) FROM customers")).scalar() == 0
        assert session.execute(text("SELECT count(*) FROM memberships")).scalar() == 0


def test_raw_update_and_delete_cannot_reach_another_org(two_orgs, in_org):
    a, b, cb = two_orgs
    with in_org(a.id) as session:
        updated = session.execute(
            text("UPDATE customers SET name = 'hacked' WHERE id = :id"), {"id": cb.id}
        )
        assert updated.rowcount == 0
        deleted = session.execute(text("DELETE FROM customers WHERE id = :id"), {"id": cb.id})
        assert deleted.rowcount == 0
    with in_org(b.id) as session:
        assert session.execute(text("SELECT name FROM customers")).scalar() == "Delta"


def test_raw_insert_into_another_org_is_rejected(two_orgs, in_org):
    a, b, _ = two_orgs
    with in_org(a.id) as session:
        with pytest.raises(ProgrammingError) as error:
            session.execute(
                text("INSERT INTO customers (org_id, email) VALUES (:org, 'x@example.com')"),
                {"org": b.id},
            )
        session.rollback()
    assert isinstance(error.value.orig, psycopg.errors.InsufficientPrivilege)
    assert "row-level security" in str(error.value.orig)


def test_moving_a_row_to_another_org_is_rejected(two_orgs, in_org):
    a, b, _ = two_orgs
    with in_org(a.id) as session:
        with pytest.raises(ProgrammingError):
            session.execute(text("UPDATE customers SET org_id = :org"), {"org": b.id})
        session.rollback()


def test_a_plain_engine_connection_is_also_the_app_role(two_orgs, app, database_url):
    """A connection taken around the Session starts as the app role and sees nothing."""
    from sqlalchemy import create_engine

    from helpdesk.core.tenancy import install_engine_role

    engine = create_engine(database_url)
    install_engine_role(engine, app.config["DATABASE_APP_ROLE"])
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SELECT current_user")).scalar() == "helpdesk_app"
            assert connection.execute(text("SELECT count(*) FROM customers")).scalar() == 0
    finally:
        engine.dispose()


def test_every_tenant_table_has_rls_and_the_policy(app, as_system):
    """A table with org_id and no policy would be an open door: this catches new ones."""
    with as_system() as session:
        tables = inspect(session.connection()).get_table_names()
        tenant_tables = [
            t for t in tables
            if "org_id" in {c["name"] for c in inspect(session.connection()).get_columns(t)}
        ]
        assert {"customers", "memberships", "invitations", "api_tokens"} <= set(tenant_tables)
        for table in tenant_tables:
            enabled = session.execute(
                text("SELECT relrowsecurity FROM pg_class WHERE relname = :t"), {"t": table}
            ).scalar()
            policies = session.execute(
                text("SELECT polname FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid "
                     "WHERE c.relname = :t"), {"t": table}
            ).scalars().all()
            assert enabled, f"{table} has no row-level security"
            assert "org_isolation" in policies, f"{table} has no org_isolation policy"


def test_models_declare_org_scoping_for_every_org_id_table(app):
    from helpdesk.core.models import OrgScoped

    for mapper in db.Model.registry.mappers:
        if "org_id" in mapper.columns and mapper.class_.__tablename__ != "organizations":
            assert issubclass(mapper.class_, OrgScoped), mapper.class_
