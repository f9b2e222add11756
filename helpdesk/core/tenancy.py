"""Tenant isolation, wall one (the ORM) and the per-transaction settings for wall two (RLS).

Wall one: every ORM statement (SELECT, bulk UPDATE/DELETE, relationship and column loads) gets
`org_id = <current org>` added for every OrgScoped entity it touches; a statement that touches a
tenant table while no org is set raises OrgNotSet instead of returning everything. New or changed
rows must belong to the current org (CrossOrgWrite otherwise).

Wall two: each transaction sets `app.current_org` / `app.current_user` with
`set_config(..., true)` and runs as the non-owner role DATABASE_APP_ROLE, so PostgreSQL's
row-level security policies apply even to raw SQL. Every connection of the app engine starts with
`SET ROLE <app role>`, so a connection used outside the Session fails closed as well.

The only way around both walls is `system_scope()`, for system jobs and the CLI.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import current_app, g, has_app_context
from sqlalchemy import BigInteger, bindparam, event, false, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from helpdesk.core.models import OrgScoped

# Execution option lifting the ORM filter for one statement; RLS still applies to it. Used where
# a policy deliberately allows more than one org (a user's own memberships).
ALL_ORGS = "all_orgs"

_APPLY_SQL = text(
    "SELECT set_config('app.current_org', :org, true),"
    " set_config('app.current_user', :user, true),"
    " set_config('role', :role, true)"
)


class TenancyError(RuntimeError):
    """Base class for tenant-isolation violations caught in the application."""


class OrgNotSet(TenancyError):
    """A tenant table was queried while no organization was set."""


class CrossOrgWrite(TenancyError):
    """A row of another organization was about to be written."""


def current_org_id() -> int | None:
    return g.get("tenancy_org_id") if has_app_context() else None


def current_user_id() -> int | None:
    return g.get("tenancy_user_id") if has_app_context() else None


def in_system_scope() -> bool:
    return bool(g.get("tenancy_system")) if has_app_context() else False


def set_current_org(org_id: int | None) -> None:
    """Make `org_id` the org of this request or job, in the ORM and in the open transaction."""
    g.tenancy_org_id = org_id
    _reapply()


def set_current_user(user_id: int | None) -> None:
    g.tenancy_user_id = user_id
    _reapply()


@contextmanager
def system_scope() -> Iterator[None]:
    """Lift both walls for the enclosed block: for system jobs and CLI commands only."""
    previous = g.get("tenancy_system", False)
    g.tenancy_system = True
    _reapply()
    try:
        yield
    finally:
        g.tenancy_system = previous
        _reapply()


@contextmanager
def org_scope(org_id: int) -> Iterator[None]:
    """Run the enclosed block as that org, with both walls up (also inside system_scope)."""
    previous = (g.get("tenancy_org_id"), g.get("tenancy_system", False))
    g.tenancy_org_id, g.tenancy_system = org_id, False
    _reapply()
    try:
        yield
    finally:
        g.tenancy_org_id, g.tenancy_system = previous
        _reapply()


def _settings() -> dict[str, str]:
    org_id, user_id = current_org_id(), current_user_id()
    return {
        "org": "" if org_id is None else str(org_id),
        "user": "" if user_id is None else str(user_id),
        # 'none' means the login role (the owner), which RLS does not restrict.
        "role": "none" if in_system_scope() else current_app.config["DATABASE_APP_ROLE"],
    }


def _apply(connection: Connection) -> None:
    connection.execute(_APPLY_SQL, _settings())


def _reapply() -> None:
    """Push the settings into the session's transaction if one is already open."""
    from helpdesk.extensions import db

    session = db.session()
    if session.in_transaction():
        _apply(session.connection())


def _after_begin(session: Session, transaction, connection: Connection) -> None:
    if has_app_context():
        _apply(connection)


def _scope_orm_statement(state: ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.execution_options.get(ALL_ORGS) or in_system_scope():
        return
    org_id = current_org_id()
    if org_id is None:
        if any(issubclass(m.class_, OrgScoped) for m in state.all_mappers):
            raise OrgNotSet("a tenant table was queried with no organization set")
        # Joins to tenant tables from a global query find nothing rather than everything.
        criteria = with_loader_criteria(OrgScoped, lambda cls: false(), include_aliases=True)
    else:
        # A typed bind: a bare int closure variable becomes an INTEGER bind (::INTEGER cast),
        # which overflows for ids beyond 2**31 although org_id is BIGINT.
        org_param = bindparam("tenancy_org_id", org_id, type_=BigInteger)
        criteria = with_loader_criteria(
            OrgScoped, lambda cls: cls.org_id == org_param, include_aliases=True
        )
    state.statement = state.statement.options(criteria)


def _check_writes(session: Session, flush_context, instances) -> None:
    if in_system_scope():
        return
    org_id = current_org_id()
    for obj in list(session.new) + list(session.dirty):
        if not isinstance(obj, OrgScoped):
            continue
        if obj.org_id is None and org_id is not None and obj in session.new:
            obj.org_id = org_id
        if org_id is None:
            raise OrgNotSet(f"cannot write {type(obj).__name__} with no organization set")
        if obj.org_id != org_id:
            raise CrossOrgWrite(f"{type(obj).__name__} belongs to org {obj.org_id}, not {org_id}")


def install(session_class: type[Session]) -> None:
    """Register the ORM hooks on the session class (idempotent)."""
    if not event.contains(session_class, "do_orm_execute", _scope_orm_statement):
        event.listen(session_class, "do_orm_execute", _scope_orm_statement)
        event.listen(session_class, "after_begin", _after_begin)
        event.listen(session_class, "before_flush", _check_writes)


def install_engine_role(engine: Engine, role: str) -> None:
    """Every new connection of the app engine starts as the non-owner app role."""

    @event.listens_for(engine, "connect")
    def _set_role(dbapi_connection, connection_record) -> None:  # noqa: ARG001
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f'SET ROLE "{role}"')
        dbapi_connection.commit()
