"""Row-level security helpers for migrations: the app role and per-table policies.

Every tenant table gets `org_isolation`: rows are visible and writable only when their org_id
equals the transaction's `app.current_org`. The app runs as DATABASE_APP_ROLE, which owns no
table and is no superuser, so the policies bind it; migrations run as the owner.
"""

from __future__ import annotations

import os

from alembic import op

ORG_SETTING = "NULLIF(current_setting('app.current_org', true), '')::bigint"
USER_SETTING = "NULLIF(current_setting('app.current_user', true), '')::bigint"


def app_role() -> str:
    return os.environ.get("DATABASE_APP_ROLE", "helpdesk_app")


def create_app_role() -> None:
    """The role the app runs as (NOLOGIN; each connection does SET ROLE to it)."""
    role = app_role()
    op.execute(
        f"""
        DO $$
        BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN
                CREATE ROLE {role} NOLOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT;
            END IF;
        END $$;
        """
    )
    # The migrating user must be able to SET ROLE to it (implicit for superusers).
    op.execute(f"GRANT {role} TO CURRENT_USER")
    op.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}")
    op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}")
    # Tables and sequences of later migrations get the same grants.
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}"
    )
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {role}"
    )


def enable_org_isolation(table: str, also_visible_when: str | None = None) -> None:
    """Turn on RLS for a tenant table. `also_visible_when` widens reads only (never writes)."""
    using = f"org_id = {ORG_SETTING}"
    if also_visible_when:
        using = f"({using}) OR ({also_visible_when})"
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY org_isolation ON {table} USING ({using}) "
        f"WITH CHECK (org_id = {ORG_SETTING})"
    )


def disable_org_isolation(table: str) -> None:
    op.execute(f"DROP POLICY IF EXISTS org_isolation ON {table}")
    op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
