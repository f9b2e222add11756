"""Saved views: a named search (text plus filters) an agent keeps, for themselves or the team."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from helpdesk.core.models import Base, OrgScoped, TimestampMixin


class SavedView(OrgScoped, TimestampMixin, Base):
    __tablename__ = "saved_views"
    __table_args__ = (Index("ix_saved_views_owner", "org_id", "owner_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    query: Mapped[str] = mapped_column(Text, default="", server_default="")
    # The results page's filters as query-string values: type, status, priority, assignee...
    filters: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    # Shared views show in every agent's sidebar; personal ones only in their owner's.
    is_shared: Mapped[bool] = mapped_column(default=False, server_default="false")
