"""API tokens: stored as a SHA-256 hash; the token itself is shown once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKeyConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from helpdesk.core.models import Base, OrgScoped, TimestampMixin


class ApiToken(OrgScoped, TimestampMixin, Base):
    __tablename__ = "api_tokens"
    __table_args__ = (
        # A token exists only for a member of its org; removing the member removes the token.
        ForeignKeyConstraint(
            ["org_id", "user_id"],
            ["memberships.org_id", "memberships.user_id"],
            ondelete="CASCADE",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters, so a user can tell tokens apart without the secret.
    display_prefix: Mapped[str] = mapped_column(String(24))
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
