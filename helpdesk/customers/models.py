"""A tenant's end users: they write to the help desk and buy in the shop. Not staff."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from helpdesk.core.models import Base, OrgScoped, TimestampMixin


class Customer(OrgScoped, TimestampMixin, Base):
    __tablename__ = "customers"
    __table_args__ = (
        UniqueConstraint("org_id", "email"),
        # Target of composite foreign keys (org_id, customer_id) from child tables.
        UniqueConstraint("org_id", "id"),
        Index("ix_customers_search", "search_vector", postgresql_using="gin"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(200), default="", server_default="")
    company: Mapped[str] = mapped_column(String(200), default="", server_default="")
    phone: Mapped[str] = mapped_column(String(50), default="", server_default="")
    is_blocked: Mapped[bool] = mapped_column(default=False, server_default="false")
    # Set by a bounce: automatic mail (acknowledgements) is no longer sent to this address.
    undeliverable_at: Mapped[datetime | None]
    undeliverable_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    # Name and email (A), company (B); written by a database trigger.
    search_vector: Mapped[str | None] = mapped_column(TSVECTOR, deferred=True)
    # The shop's Stripe Customer (cus_...) for saved cards, on the org's connected account:
    # cleared when the org connects another account (ids do not carry over between accounts).
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255))
