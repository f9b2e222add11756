"""Tickets, their messages, attachments and the append-only timeline."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    CheckConstraint,
    Enum,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column, relationship

from helpdesk.core.models import Base, OrgScoped, TimestampMixin, string_enum, utcnow

if TYPE_CHECKING:
    from helpdesk.accounts.models import User
    from helpdesk.customers.models import Customer


def _enum(enum_class: type[enum.Enum], name: str) -> Enum:
    return string_enum(enum_class, name, 16)


class Status(enum.StrEnum):
    NEW = "new"
    OPEN = "open"
    PENDING = "pending"
    SOLVED = "solved"
    CLOSED = "closed"


OPEN_STATUSES = (Status.NEW, Status.OPEN, Status.PENDING)


class Priority(enum.StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class Channel(enum.StrEnum):
    EMAIL = "email"
    PORTAL = "portal"
    API = "api"
    PHONE = "phone"
    STORE = "store"


class MessageKind(enum.StrEnum):
    CUSTOMER = "customer"  # written by the customer
    REPLY = "reply"  # public reply by an agent (sent by email)
    NOTE = "note"  # internal note, never shown to the customer


class Team(OrgScoped, TimestampMixin, Base):
    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("org_id", "name"), UniqueConstraint("org_id", "id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))


class TicketCounter(OrgScoped, Base):
    """The last ticket number of an org; incremented under a row lock (no gaps, no races)."""

    __tablename__ = "ticket_counters"
    __table_args__ = (UniqueConstraint("org_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    last_number: Mapped[int] = mapped_column(default=0)


class Ticket(OrgScoped, TimestampMixin, Base):
    __tablename__ = "tickets"
    __table_args__ = (
        UniqueConstraint("org_id", "number"),
        UniqueConstraint("org_id", "id"),
        ForeignKeyConstraint(["org_id", "customer_id"], ["customers.org_id", "customers.id"]),
        ForeignKeyConstraint(["org_id", "team_id"], ["teams.org_id", "teams.id"]),
        # Links between tickets stay inside the org.
        ForeignKeyConstraint(["org_id", "merged_into_id"], ["tickets.org_id", "tickets.id"]),
        ForeignKeyConstraint(["org_id", "follow_up_of_id"], ["tickets.org_id", "tickets.id"]),
        ForeignKeyConstraint(["org_id", "mailbox_id"], ["mailboxes.org_id", "mailboxes.id"],
                             ondelete="SET NULL (mailbox_id)"),
        # The inbox: a status (or assignee) filter, newest activity first, keyset on id.
        Index("ix_tickets_inbox", "org_id", "status", "last_activity_at", "id"),
        Index("ix_tickets_assignee", "org_id", "assignee_id", "status", "last_activity_at", "id"),
        Index("ix_tickets_customer", "org_id", "customer_id", "last_activity_at"),
        Index("ix_tickets_tags", "tags", postgresql_using="gin"),
        # The spam view and its count: spam is rare, so a scan of the others would be long.
        Index("ix_tickets_spam", "org_id", "last_activity_at", "id",
              postgresql_where=text("is_spam")),
        CheckConstraint("number > 0", name="number_positive"),
        # Full-text search (helpdesk.search): the vector is kept by a trigger (migrations).
        Index("ix_tickets_search", "search_vector", postgresql_using="gin"),
        ForeignKeyConstraint(["org_id", "order_id"], ["shop_orders.org_id", "shop_orders.id"],
                             ondelete="SET NULL (order_id)"),
        Index("ix_tickets_order", "org_id", "order_id",
              postgresql_where=text("order_id IS NOT NULL")),
        ForeignKeyConstraint(["org_id", "sla_policy_id"], ["sla_policies.org_id",
                                                           "sla_policies.id"],
                             ondelete="SET NULL (sla_policy_id)"),
        # Time to breach: the inbox's sort, and the scan for warnings and breaches due.
        Index("ix_tickets_sla_due", "org_id", "status", "sla_due_at", "id"),
        Index("ix_tickets_sla_check", "sla_check_at", "org_id", postgresql_where=text(
            "sla_check_at IS NOT NULL")),
        # The reports: tickets created or solved in a date range.
        Index("ix_tickets_created", "org_id", "created_at"),
        Index("ix_tickets_solved", "org_id", "solved_at",
              postgresql_where=text("solved_at IS NOT NULL")),
        # Open tickets by creation time, covering the report filters (backlog, past due, load).
        Index("ix_tickets_unsolved", "org_id", "created_at",
              postgresql_include=["team_id", "assignee_id", "channel", "tags", "sla_due_at"],
              postgresql_where=text("solved_at IS NULL AND closed_at IS NULL AND NOT is_spam "
                                    "AND merged_into_id IS NULL")),
        # The few tickets reports leave out.
        Index("ix_tickets_left_out", "org_id", "id",
              postgresql_where=text("is_spam OR merged_into_id IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int]
    subject: Mapped[str] = mapped_column(String(500))
    status: Mapped[Status] = mapped_column(_enum(Status, "ticket_status"), default=Status.NEW)
    priority: Mapped[Priority] = mapped_column(
        _enum(Priority, "ticket_priority"), default=Priority.NORMAL
    )
    channel: Mapped[Channel] = mapped_column(_enum(Channel, "ticket_channel"))
    customer_id: Mapped[int]
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    team_id: Mapped[int | None]
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(50)), default=list,
                                            server_default=text("'{}'"))
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict,
                                                          server_default=text("'{}'"))
    is_spam: Mapped[bool] = mapped_column(default=False, server_default="false")
    first_response_at: Mapped[datetime | None]
    solved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    merged_into_id: Mapped[int | None]
    follow_up_of_id: Mapped[int | None]
    mailbox_id: Mapped[int | None]  # the mailbox it came in by: replies leave from there
    last_activity_at: Mapped[datetime] = mapped_column(server_default=func.now(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), default=utcnow,
                                                 onupdate=utcnow)
    # Subject and number, weighted; written by a database trigger in the org's search language.
    search_vector: Mapped[str | None] = mapped_column(TSVECTOR, deferred=True)
    # The SLA clock, kept by helpdesk.sla.clock whenever the ticket changes (never per view).
    sla_policy_id: Mapped[int | None]
    first_reply_due_at: Mapped[datetime | None]
    next_reply_due_at: Mapped[datetime | None]
    resolution_due_at: Mapped[datetime | None]
    next_reply_since: Mapped[datetime | None]  # the customer's unanswered message
    sla_due_at: Mapped[datetime | None]  # the soonest running due time: the inbox sorts by it
    sla_paused: Mapped[bool] = mapped_column(default=False, server_default="false")
    sla_check_at: Mapped[datetime | None]  # the next warning or breach the scan must announce
    sla_alerts: Mapped[list[str]] = mapped_column(ARRAY(String(32)), default=list,
                                                  server_default="{}")
    # Outcomes for the reports (business minutes by the org's default calendar).
    first_reply_minutes: Mapped[float | None]
    resolution_minutes: Mapped[float | None]
    first_reply_breached: Mapped[bool | None]
    resolution_breached: Mapped[bool | None]
    reopen_count: Mapped[int] = mapped_column(default=0, server_default="0")
    # The store order the ticket is about (the portal's "Get help with this order", a reply to
    # an order email, an order number in the mail, or an agent's choice).
    order_id: Mapped[int | None]

    # Read-only: services set the *_id columns (the composite keys share org_id).
    customer: Mapped[Customer] = relationship(lazy="joined", viewonly=True)
    assignee: Mapped[User | None] = relationship(lazy="joined", viewonly=True)
    # Joined: a NULL team_id alone does not spare a lazy load (the key includes org_id).
    team: Mapped[Team | None] = relationship(lazy="joined", viewonly=True)


class Message(OrgScoped, Base):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("org_id", "id"),
        ForeignKeyConstraint(["org_id", "ticket_id"], ["tickets.org_id", "tickets.id"],
                             ondelete="CASCADE"),
        ForeignKeyConstraint(["org_id", "author_customer_id"],
                             ["customers.org_id", "customers.id"]),
        Index("ix_messages_ticket", "org_id", "ticket_id", "created_at"),
        Index("ix_messages_message_id", "org_id", "message_id"),
        Index("ix_messages_search", "search_vector", postgresql_using="gin"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int]
    kind: Mapped[MessageKind] = mapped_column(_enum(MessageKind, "message_kind"))
    author_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    author_customer_id: Mapped[int | None]
    body_text: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str] = mapped_column(Text, default="")  # sanitized with nh3
    # Mail only: the new part of the body, without the quoted reply and signature (None: all
    # of the body is new). The full body stays in body_text/body_html, shown collapsed.
    body_visible: Mapped[str | None] = mapped_column(Text)
    # Email headers (the email channel fills them; our replies get our own Message-ID).
    message_id: Mapped[str | None] = mapped_column(String(998))
    in_reply_to: Mapped[str | None] = mapped_column(Text)
    references: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now(), default=utcnow)
    # Sender (weight A) and the visible text (B); written by a database trigger.
    search_vector: Mapped[str | None] = mapped_column(TSVECTOR, deferred=True)

    author_user: Mapped[User | None] = relationship(lazy="joined")
    attachments: Mapped[list[Attachment]] = relationship(
        lazy="selectin", order_by="Attachment.id", viewonly=True
    )


class Attachment(OrgScoped, TimestampMixin, Base):
    __tablename__ = "attachments"
    __table_args__ = (
        ForeignKeyConstraint(["org_id", "message_id"], ["messages.org_id", "messages.id"],
                             ondelete="CASCADE"),
        Index("ix_attachments_message", "org_id", "message_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int]
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(127))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(255))  # path below ATTACHMENTS_DIR
    content_id: Mapped[str | None] = mapped_column(String(255))  # for cid: inline images


class TicketEvent(OrgScoped, Base):
    """Append-only timeline: the app role may insert and read, never update or delete."""

    __tablename__ = "ticket_events"
    __table_args__ = (
        ForeignKeyConstraint(["org_id", "ticket_id"], ["tickets.org_id", "tickets.id"],
                             ondelete="CASCADE"),
        Index("ix_ticket_events_ticket", "org_id", "ticket_id", "created_at"),
        # The reports: reopenings (solved -> open) and SLA breaches by time.
        Index("ix_ticket_events_reopened", "org_id", "created_at",
              postgresql_where=text("kind = 'status' AND (data ->> 'old') = 'solved' "
                                    "AND (data ->> 'new') = 'open'")),
        Index("ix_ticket_events_sla_breaches", "org_id", "created_at",
              postgresql_where=text("kind = 'sla' AND (data ->> 'level') = 'breach'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int]
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now(), default=utcnow)

    actor: Mapped[User | None] = relationship(lazy="joined")


class CustomFieldType(enum.StrEnum):
    TEXT = "text"
    NUMBER = "number"
    DROPDOWN = "dropdown"
    CHECKBOX = "checkbox"
    DATE = "date"


class CustomField(OrgScoped, TimestampMixin, Base):
    __tablename__ = "custom_fields"
    __table_args__ = (UniqueConstraint("org_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(50))
    label: Mapped[str] = mapped_column(String(100))
    field_type: Mapped[CustomFieldType] = mapped_column(_enum(CustomFieldType, "custom_field_type"))
    options: Mapped[list[str]] = mapped_column(JSONB, default=list)
    position: Mapped[int] = mapped_column(default=0)


class Notification(OrgScoped, TimestampMixin, Base):
    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_user", "org_id", "user_id", "read_at"),
        ForeignKeyConstraint(["org_id", "ticket_id"], ["tickets.org_id", "tickets.id"],
                             ondelete="CASCADE"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    ticket_id: Mapped[int | None]
    kind: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(String(500))
    read_at: Mapped[datetime | None]


class CannedResponse(OrgScoped, TimestampMixin, Base):
    __tablename__ = "canned_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    owner_user_id: Mapped[int | None] = mapped_column(  # None: shared with the whole team
        ForeignKey("users.id", ondelete="CASCADE")
    )
    usage_count: Mapped[int] = mapped_column(default=0, server_default="0")


class AutomationRule(OrgScoped, TimestampMixin, Base):
    __tablename__ = "automation_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    event: Mapped[str] = mapped_column(String(32))  # created / updated / customer_replied
    position: Mapped[int] = mapped_column(default=0)
    is_active: Mapped[bool] = mapped_column(default=True, server_default="true")
    match_all: Mapped[bool] = mapped_column(default=True, server_default="true")
    conditions: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    actions: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
