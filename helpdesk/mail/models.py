"""The email channel's tables: mailboxes, every inbound mail as received, and the Outbox."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    Enum,
    ForeignKeyConstraint,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from helpdesk.core.models import Base, OrgScoped, TimestampMixin, string_enum, utcnow


def _enum(enum_class: type[enum.Enum], name: str) -> Enum:
    return string_enum(enum_class, name, 16)


class Security(enum.StrEnum):
    SSL = "ssl"  # TLS from the first byte (IMAPS 993, SMTPS 465)
    STARTTLS = "starttls"
    NONE = "none"  # plain text: local or test servers only


class Mailbox(OrgScoped, TimestampMixin, Base):
    __tablename__ = "mailboxes"
    __table_args__ = (
        # One address, one tenant: nobody else may send as (or read for) a connected address.
        UniqueConstraint("address"),
        UniqueConstraint("org_id", "id"),
        CheckConstraint("poll_interval >= 10", name="poll_interval_min"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), default="", server_default="")
    address: Mapped[str] = mapped_column(String(254))
    imap_host: Mapped[str] = mapped_column(String(255))
    imap_port: Mapped[int] = mapped_column(default=993)
    imap_security: Mapped[Security] = mapped_column(_enum(Security, "mail_security"),
                                                    default=Security.SSL)
    imap_user: Mapped[str] = mapped_column(String(255))
    imap_password: Mapped[str] = mapped_column(Text)  # Fernet token (ENCRYPTION_KEY)
    folder: Mapped[str] = mapped_column(String(255), default="INBOX", server_default="INBOX")
    poll_interval: Mapped[int] = mapped_column(default=60, server_default="60")  # seconds
    mark_as_read: Mapped[bool] = mapped_column(default=False, server_default="false")
    # Outbound: empty smtp_host means the global SMTP_URL.
    smtp_host: Mapped[str] = mapped_column(String(255), default="", server_default="")
    smtp_port: Mapped[int] = mapped_column(default=587, server_default="587")
    smtp_security: Mapped[Security] = mapped_column(_enum(Security, "smtp_security"),
                                                    default=Security.STARTTLS,
                                                    server_default="starttls")
    smtp_user: Mapped[str] = mapped_column(String(255), default="", server_default="")
    smtp_password: Mapped[str] = mapped_column(Text, default="", server_default="")
    is_active: Mapped[bool] = mapped_column(default=True, server_default="true")
    # Where polling stands: UIDs are only meaningful with their UIDVALIDITY.
    uidvalidity: Mapped[int | None]
    last_uid: Mapped[int] = mapped_column(default=0, server_default="0")
    last_polled_at: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(Text, default="", server_default="")


class InboundStatus(enum.StrEnum):
    RECEIVED = "received"  # stored, not processed yet
    PROCESSED = "processed"  # became a message (or was knowingly ignored: see outcome)
    QUARANTINED = "quarantined"  # a step failed; reason in `error`; reprocessable


class InboundEmail(OrgScoped, Base):
    """Every mail exactly as it arrived, stored before anything else happens to it.

    (org, mailbox, Message-ID) is unique: a mail fetched twice (a crash before the poll
    committed, a UIDVALIDITY resync, an import run twice) is stored once. Imports have no
    mailbox; NULLS NOT DISTINCT makes them dedupe too.
    """

    __tablename__ = "inbound_emails"
    __table_args__ = (
        UniqueConstraint("org_id", "mailbox_id", "message_id", postgresql_nulls_not_distinct=True),
        UniqueConstraint("org_id", "id"),
        ForeignKeyConstraint(["org_id", "mailbox_id"], ["mailboxes.org_id", "mailboxes.id"],
                             ondelete="CASCADE"),
        ForeignKeyConstraint(["org_id", "ticket_id"], ["tickets.org_id", "tickets.id"],
                             ondelete="SET NULL (ticket_id)"),
        # The work queue: what is left to process, oldest first.
        Index("ix_inbound_emails_pending", "org_id", "id",
              postgresql_where=text("status = 'received'")),
        Index("ix_inbound_emails_status", "org_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    mailbox_id: Mapped[int | None]
    uid: Mapped[int | None]  # IMAP UID (with the mailbox's UIDVALIDITY at the time)
    message_id: Mapped[str] = mapped_column(String(998))  # the header, or a digest if missing
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int]
    status: Mapped[InboundStatus] = mapped_column(_enum(InboundStatus, "inbound_status"),
                                                  default=InboundStatus.RECEIVED)
    # What the pipeline made of it: new_ticket, reply, follow_up, bounce, loop, ignored ...
    outcome: Mapped[str] = mapped_column(String(32), default="", server_default="")
    classification: Mapped[str] = mapped_column(String(32), default="", server_default="")
    error: Mapped[str] = mapped_column(Text, default="", server_default="")
    sender: Mapped[str] = mapped_column(String(254), default="", server_default="")
    subject: Mapped[str] = mapped_column(String(500), default="", server_default="")
    ticket_id: Mapped[int | None]
    message_row_id: Mapped[int | None]  # the Message it became
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    received_at: Mapped[datetime] = mapped_column(server_default=func.now(), default=utcnow)
    processed_at: Mapped[datetime | None]

    def mark_processed(self, outcome: str, *, ticket_id: int | None = None,
                       message_row_id: int | None = None, note: str = "") -> None:
        """What the pipeline made of it (`note`: e.g. why it counts as automatic)."""
        self.status = InboundStatus.PROCESSED
        self.outcome, self.error = outcome, note
        self.ticket_id, self.message_row_id = ticket_id, message_row_id
        self.processed_at = utcnow()


class OutboxStatus(enum.StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"  # gave up (permanent SMTP error or too many attempts); can be retried


class OutboxKind(enum.StrEnum):
    REPLY = "reply"  # an agent's reply
    ACK = "ack"  # automatic acknowledgement of a new ticket
    NOTIFICATION = "notification"  # to staff
    ORDER = "order"  # storefront mail


class Outbox(OrgScoped, TimestampMixin, Base):
    """A mail to send, written in the same transaction as what caused it; a `mail` job sends it.

    The raw message (headers included) is built when queued, so a retry sends the same bytes with
    the same Message-ID, and the thread can find its way back to the ticket.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("org_id", "id"),
        ForeignKeyConstraint(["org_id", "ticket_id"], ["tickets.org_id", "tickets.id"],
                             ondelete="SET NULL (ticket_id)"),
        ForeignKeyConstraint(["org_id", "message_row_id"], ["messages.org_id", "messages.id"],
                             ondelete="SET NULL (message_row_id)"),
        ForeignKeyConstraint(["org_id", "mailbox_id"], ["mailboxes.org_id", "mailboxes.id"],
                             ondelete="SET NULL (mailbox_id)"),
        Index("ix_outbox_message_id", "org_id", "message_id"),
        Index("ix_outbox_message_row", "org_id", "message_row_id"),
        # The automatic-mail rate limit counts recent mail to one address.
        Index("ix_outbox_recipient", "org_id", "recipient", "created_at"),
        Index("ix_outbox_due", "next_attempt_at", postgresql_where=text("status = 'queued'")),
        Index("ix_outbox_status", "org_id", "status", "id"),  # the outbox page's lists
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[OutboxKind] = mapped_column(_enum(OutboxKind, "outbox_kind"))
    ticket_id: Mapped[int | None]
    message_row_id: Mapped[int | None]
    mailbox_id: Mapped[int | None]
    recipient: Mapped[str] = mapped_column(String(254))
    sender: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(500))
    message_id: Mapped[str] = mapped_column(String(998))
    is_automatic: Mapped[bool] = mapped_column(default=False, server_default="false")
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[OutboxStatus] = mapped_column(_enum(OutboxStatus, "outbox_status"),
                                                 default=OutboxStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    last_error: Mapped[str] = mapped_column(Text, default="", server_default="")
    next_attempt_at: Mapped[datetime] = mapped_column(server_default=func.now(), default=utcnow)
    sent_at: Mapped[datetime | None]
