"""Business calendars, SLA policies and the record of each reply's wait (for the reports).

The clock's state lives on the ticket itself (due times, the next check, the alerts sent):
see the sla_* columns of helpdesk.tickets.models.Ticket, kept by helpdesk.sla.clock.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from helpdesk.core.models import Base, OrgScoped, TimestampMixin
from helpdesk.sla.calendar import WEEKDAYS, Schedule

TARGETS = ("first_reply", "next_reply", "resolution")
TARGET_LABELS = {"first_reply": "First reply", "next_reply": "Next reply",
                 "resolution": "Resolution"}


class BusinessCalendar(OrgScoped, TimestampMixin, Base):
    __tablename__ = "business_calendars"
    __table_args__ = (UniqueConstraint("org_id", "id"), UniqueConstraint("org_id", "name"))

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # {"mon": [[540, 1020]], ...}: working spans in minutes after local midnight.
    hours: Mapped[dict[str, list[list[int]]]] = mapped_column(JSONB, default=dict)
    holiday_country: Mapped[str | None] = mapped_column(String(8))
    holiday_subdiv: Mapped[str | None] = mapped_column(String(16))
    # [{"date": "2026-12-24", "name": "Shop closed"}]
    custom_holidays: Mapped[list[dict[str, str]]] = mapped_column(JSONB, default=list)
    # The org's calendar for reports and for policies that name none.
    is_default: Mapped[bool] = mapped_column(default=False, server_default="false")

    def schedule(self) -> Schedule:
        week = tuple(tuple((int(s), int(e)) for s, e in (self.hours or {}).get(day, ()))
                     for day in WEEKDAYS)
        days_off = frozenset(date.fromisoformat(h["date"]) for h in self.custom_holidays or ())
        return Schedule(timezone=self.timezone, week=week, days_off=days_off,
                        country=self.holiday_country, subdiv=self.holiday_subdiv)


class SlaPolicy(OrgScoped, TimestampMixin, Base):
    """Targets for the tickets it matches; policies are tried in position order."""

    __tablename__ = "sla_policies"
    __table_args__ = (
        UniqueConstraint("org_id", "id"),
        ForeignKeyConstraint(["org_id", "calendar_id"],
                             ["business_calendars.org_id", "business_calendars.id"],
                             ondelete="SET NULL (calendar_id)"),
        CheckConstraint("warn_percent BETWEEN 1 AND 99", name="warn_percent_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(default=0)
    is_active: Mapped[bool] = mapped_column(default=True, server_default="true")
    # The policy Starter and Growing orgs get for every ticket (the plan has no "sla" feature).
    is_default: Mapped[bool] = mapped_column(default=False, server_default="false")
    # Each given list must hold (any of its values): {"priorities": ["urgent"], "tags": [...],
    # "channels": ["email"], "customer_domains": ["vip.example"]}; empty: every ticket.
    conditions: Mapped[dict[str, list[str]]] = mapped_column(JSONB, default=dict)
    first_reply_minutes: Mapped[int | None]
    next_reply_minutes: Mapped[int | None]
    resolution_minutes: Mapped[int | None]
    business_hours: Mapped[bool] = mapped_column(default=True, server_default="true")
    calendar_id: Mapped[int | None]  # None: the org's default calendar
    warn_percent: Mapped[int] = mapped_column(default=80, server_default="80")

    def target(self, name: str) -> int | None:
        return getattr(self, f"{name}_minutes")


class SlaReply(OrgScoped, Base):
    """Every public reply of an agent, with the customer's wait it ended, measured then.

    Kinds: "first" (the ticket's first reply, waiting since it was opened), "next" (answered a
    customer message that came after an agent's reply), "more" (a reply nobody waited for:
    no wait, no target). Speed, SLA and agent reports read these rather than the messages.
    """

    __tablename__ = "sla_replies"
    __table_args__ = (
        ForeignKeyConstraint(["org_id", "ticket_id"], ["tickets.org_id", "tickets.id"],
                             ondelete="CASCADE"),
        Index("ix_sla_replies_replied", "org_id", "replied_at"),
        Index("ix_sla_replies_ticket", "org_id", "ticket_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int]
    message_id: Mapped[int | None]
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(8))  # first | next | more
    waiting_since: Mapped[datetime]
    replied_at: Mapped[datetime]
    business_minutes: Mapped[float]  # by the org's default calendar, pending time left out
    calendar_minutes: Mapped[float]
    policy_id: Mapped[int | None]
    due_at: Mapped[datetime | None]
    breached: Mapped[bool | None]  # None: no target applied

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "replied_at": self.replied_at,
                "business_minutes": self.business_minutes, "breached": self.breached}
