"""Mailboxes: connect, change, test, pause; the quarantine's reprocess."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from helpdesk.core import tenancy
from helpdesk.core.crypto import encrypt
from helpdesk.core.emails import clean_email
from helpdesk.core.exceptions import Conflict, ValidationFailed
from helpdesk.customers.models import Customer
from helpdesk.extensions import db
from helpdesk.mail import imap, pipeline
from helpdesk.mail.models import InboundEmail, InboundStatus, Mailbox, Security

FIELDS = ("name", "address", "imap_host", "imap_port", "imap_security", "imap_user",
          "imap_password", "folder", "poll_interval", "mark_as_read", "smtp_host", "smtp_port",
          "smtp_security", "smtp_user", "smtp_password", "is_active")


def _clean(values: dict[str, Any], existing: Mailbox | None) -> dict[str, Any]:
    errors: dict[str, str] = {}
    cleaned: dict[str, Any] = {}
    for key in FIELDS:
        if key not in values or values[key] is None:
            continue
        value = values[key]
        if isinstance(value, str):
            value = value.strip()
        cleaned[key] = value
    if "address" in cleaned:
        try:
            cleaned["address"] = clean_email(cleaned["address"])
        except ValueError as error:
            errors["address"] = str(error)
    for key in ("imap_host", "imap_user"):
        if key in cleaned and not cleaned[key] or existing is None and key not in cleaned:
            errors[key] = "required"
    if existing is None and not cleaned.get("imap_password"):
        errors["imap_password"] = "required"
    for key, low, high in (("imap_port", 1, 65535), ("smtp_port", 1, 65535),
                           ("poll_interval", 10, 86400)):
        if key in cleaned:
            try:
                cleaned[key] = int(cleaned[key])
                if not low <= cleaned[key] <= high:
                    raise ValueError
            except (TypeError, ValueError):
                errors[key] = f"a number from {low} to {high}"
    for key in ("imap_security", "smtp_security"):
        if key in cleaned:
            try:
                cleaned[key] = Security(cleaned[key])
            except ValueError:
                errors[key] = "ssl, starttls or none"
    if "folder" in cleaned and not cleaned["folder"]:
        cleaned["folder"] = "INBOX"
    if errors:
        raise ValidationFailed("Check the mailbox settings.", errors)
    for key in ("imap_password", "smtp_password"):
        if key in cleaned:
            if cleaned[key]:
                cleaned[key] = encrypt(cleaned[key])
            else:
                del cleaned[key]  # an empty password field keeps the stored one
    if cleaned.get("smtp_user") == "" or cleaned.get("smtp_host") == "":
        cleaned["smtp_password"] = ""  # no SMTP login (or no own server): no password kept
    return cleaned


def create_mailbox(**values: Any) -> Mailbox:
    """Raises ValidationFailed, Conflict (address already connected)."""
    cleaned = _clean(values, None)
    cleaned.setdefault("address", "")
    if not cleaned["address"]:
        raise ValidationFailed("Check the mailbox settings.", {"address": "required"})
    if db.session.scalar(select(Mailbox.id).where(Mailbox.address == cleaned["address"])):
        raise Conflict(f"{cleaned['address']} is already connected.",
                       {"address": "already connected"})
    mailbox = Mailbox(org_id=tenancy.current_org_id(), **cleaned)
    _flush_unique(mailbox, add=True)
    return mailbox


def _flush_unique(mailbox: Mailbox, add: bool = False) -> None:
    """Addresses are unique across all tenants (the unique index sees what RLS hides)."""
    try:
        with db.session.begin_nested():
            if add:
                db.session.add(mailbox)
            db.session.flush()
    except IntegrityError as error:
        if "uq_mailboxes_address" not in str(error.orig):
            raise
        raise Conflict(f"{mailbox.address} is connected by another account: an address can "
                       "belong to one help desk only.",
                       {"address": "connected by another account"}) from error


def update_mailbox(mailbox: Mailbox, **values: Any) -> Mailbox:
    cleaned = _clean(values, mailbox)
    if cleaned.get("address") and cleaned["address"] != mailbox.address and db.session.scalar(
            select(Mailbox.id).where(Mailbox.address == cleaned["address"])):
        raise Conflict(f"{cleaned['address']} is already connected.",
                       {"address": "already connected"})
    moved = any(k in cleaned and cleaned[k] != getattr(mailbox, k)
                for k in ("imap_host", "imap_user", "folder"))
    for key, value in cleaned.items():
        setattr(mailbox, key, value)
    if moved:  # another server or folder: its UIDs mean nothing here
        mailbox.uidvalidity, mailbox.last_uid = None, 0
    _flush_unique(mailbox)
    return mailbox


def test_mailbox(mailbox: Mailbox) -> str:
    """Raises imap.MailboxError with what went wrong (also kept as the mailbox's last error)."""
    try:
        summary = imap.test_connection(mailbox)
    except imap.MailboxError as error:
        mailbox.last_error = str(error)
        raise
    mailbox.last_error = ""
    return summary


def reprocess_inbound(inbound_id: int) -> InboundEmail | None:
    inbound = db.session.get(InboundEmail, inbound_id)
    if inbound is None:
        return None
    if inbound.status is not InboundStatus.QUARANTINED:
        raise Conflict("Only quarantined mail can be reprocessed.", {"status": inbound.status})
    if inbound.classification == "too_large":
        raise Conflict("This mail was too large to download: only its headers were kept, so "
                       "there is nothing more to process. Raise MAX_INBOUND_MAIL_SIZE and "
                       "reconnect the mailbox's folder to fetch it again, or read it in your "
                       "mail program.", {"status": "too large"})
    pipeline.reprocess(inbound)
    return inbound


def mark_deliverable(customer: Customer) -> None:
    """Undo a bounce's mark (the customer fixed their mailbox); not done automatically, as
    forged senders whose mail bounces would otherwise keep getting acknowledgements."""
    customer.undeliverable_at, customer.undeliverable_reason = None, ""
    db.session.flush()
