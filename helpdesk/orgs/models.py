"""Organizations (tenants), staff memberships and pending invitations."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Enum, ForeignKey, ForeignKeyConstraint, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from helpdesk.core.models import Base, OrgScoped, TimestampMixin
from helpdesk.orgs.plans import DEFAULT_PLAN, Plan, get_plan

if TYPE_CHECKING:
    from helpdesk.accounts.models import User


class Role(enum.StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MANAGER = "manager"
    AGENT = "agent"

    @property
    def rank(self) -> int:
        return ROLE_RANK[self]


ROLE_RANK = {Role.AGENT: 0, Role.MANAGER: 1, Role.ADMIN: 2, Role.OWNER: 3}

role_enum = Enum(
    Role, name="role", native_enum=False, create_constraint=True, length=16,
    values_callable=lambda roles: [r.value for r in roles],
)


class Organization(TimestampMixin, Base):
    """A tenant. Global table: looked up by slug before any org is set."""

    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    plan: Mapped[str] = mapped_column(String(32), default=DEFAULT_PLAN)
    trial_ends_at: Mapped[datetime | None]
    settings: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    # A PostgreSQL text search configuration (simple, english, german...): stemming and stop
    # words of the org's full-text index. Changing it rebuilds the org's vectors (a search job).
    search_language: Mapped[str] = mapped_column(String(63), default="simple",
                                                 server_default="simple")
    # The tenant's connected Stripe account (acct_...): payments go to it, the platform keeps
    # the plan's application fee. None: the shop takes cash on delivery only.
    stripe_account_id: Mapped[str | None] = mapped_column(String(255), unique=True)

    # Tenant rows reached from this global row are still filtered to the current org.
    memberships: Mapped[list[Membership]] = relationship(viewonly=True)

    @property
    def plan_info(self) -> Plan:
        return get_plan(self.plan)

    @property
    def agent_limit(self) -> int | None:
        """Seats: the plan's, unless settings carry a negotiated number (Enterprise)."""
        return self.settings.get("agent_limit", self.plan_info.max_agents)


class Membership(OrgScoped, TimestampMixin, Base):
    """A staff user's seat in one org, with a role. One person may hold several."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("org_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(role_enum)
    is_away: Mapped[bool] = mapped_column(default=False, server_default="false")
    signature: Mapped[str] = mapped_column(Text, default="", server_default="")

    user: Mapped[User] = relationship(lazy="joined")
    org: Mapped[Organization] = relationship()


class Invitation(OrgScoped, TimestampMixin, Base):
    """An emailed invitation to join an org; the token is stored hashed."""

    __tablename__ = "invitations"
    __table_args__ = (
        ForeignKeyConstraint(
            ["org_id", "invited_by_id"],
            ["memberships.org_id", "memberships.user_id"],
            ondelete="CASCADE",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[Role] = mapped_column(role_enum)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by_id: Mapped[int] = mapped_column(index=True)
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
