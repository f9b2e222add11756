"""Report facts: copies of source rows with the ticket's filter columns beside them, kept by
database triggers in the same transaction as the rows they copy (migration report_facts), so
that a report reads one narrow index instead of joining every row to its ticket.

ReportReply: one row per SlaReply and tag of its ticket, plus one with tag '' for the reply
itself (a ticket with two tags gives each reply three rows). A report without a tag filter
reads the '' rows, one with a tag filter that tag's rows. `counted` is false while the ticket
is spam or merged (left out of every report). Numbers are the reply's own, unrounded.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from helpdesk.core.models import Base, OrgScoped

# The reply columns the speed, SLA and agents reports read, carried by each index.
REPLY_FIGURES = ("kind", "business_minutes", "breached", "policy_id", "agent_id")
ANY_TAG = "counted AND tag = ''"
SOME_TAG = "counted AND tag <> ''"


class ReportReply(OrgScoped, Base):
    __tablename__ = "report_replies"
    __table_args__ = (
        # No filter, or the agent who replied.
        Index("ix_report_replies_replied", "org_id", "replied_at",
              postgresql_include=[*REPLY_FIGURES, "team_id", "channel"],
              postgresql_where=text(ANY_TAG)),
        Index("ix_report_replies_team", "org_id", "team_id", "replied_at",
              postgresql_include=[*REPLY_FIGURES, "channel"], postgresql_where=text(ANY_TAG)),
        Index("ix_report_replies_channel", "org_id", "channel", "replied_at",
              postgresql_include=[*REPLY_FIGURES, "team_id"], postgresql_where=text(ANY_TAG)),
        Index("ix_report_replies_tag", "org_id", "tag", "replied_at",
              postgresql_include=[*REPLY_FIGURES, "team_id", "channel"],
              postgresql_where=text(SOME_TAG)),
        # The triggers' rewrite of a ticket's rows.
        Index("ix_report_replies_ticket", "org_id", "ticket_id"),
    )

    reply_id: Mapped[int] = mapped_column(primary_key=True)
    tag: Mapped[str] = mapped_column(String(50), primary_key=True)  # '' for the reply itself
    ticket_id: Mapped[int]
    replied_at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(8))
    business_minutes: Mapped[float]
    breached: Mapped[bool | None]
    policy_id: Mapped[int | None]
    agent_id: Mapped[int | None]
    team_id: Mapped[int | None]
    channel: Mapped[str] = mapped_column(String(16))
    counted: Mapped[bool]
