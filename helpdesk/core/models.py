"""The declarative base every model shares, and the OrgScoped mixin for tenant tables."""

from __future__ import annotations

import enum
from datetime import UTC, datetime

from sqlalchemy import BigInteger, DateTime, Enum, ForeignKey, MetaData, func
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column, registry

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def string_enum(enum_class: type[enum.Enum], name: str, length: int = 16) -> Enum:
    """A Python enum stored as its values in a VARCHAR with a CHECK (no PostgreSQL enum type:
    adding a member is then a constraint change, not an ALTER TYPE)."""
    return Enum(enum_class, name=name, native_enum=False, create_constraint=True, length=length,
                values_callable=lambda members: [m.value for m in members])


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    # One registry carries both, because Flask-SQLAlchemy subclasses this base.
    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={int: BigInteger, datetime: DateTime(timezone=True)},
    )


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(server_default=func.now(), default=utcnow)


class OrgScoped:
    """A tenant table: `org_id` is mandatory, indexed, and every ORM query is filtered by it.

    The filter is added by helpdesk.core.tenancy; PostgreSQL row-level security (policies made by
    helpdesk.core.rls in the migrations) enforces the same rule for anything that bypasses the ORM.
    """

    @declared_attr
    def org_id(cls) -> Mapped[int]:  # noqa: N805 - declared_attr receives the class
        return mapped_column(
            ForeignKey("organizations.id", ondelete="CASCADE"), index=True, nullable=False
        )
