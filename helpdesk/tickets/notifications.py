"""In-app notifications (and their emails): mentions in notes, assignments."""

from __future__ import annotations

import re

from sqlalchemy import select, update

from helpdesk.accounts.models import User
from helpdesk.core.models import utcnow
from helpdesk.core.urls import public_url
from helpdesk.extensions import db
from helpdesk.mail.outbound import queue_notification
from helpdesk.orgs.models import Membership, Organization
from helpdesk.tickets.models import Message, Notification, Ticket

MENTION = re.compile(r"(?<![\w.])@([\w.+-]+(?:@[\w-]+(?:\.[\w-]+)+)?)", re.UNICODE)


def notify(user_id: int, ticket: Ticket, kind: str, text: str, *, email: bool = True) -> None:
    db.session.add(Notification(org_id=ticket.org_id, user_id=user_id, ticket_id=ticket.id,
                                kind=kind, text=text[:500]))
    if email:
        user = db.session.get(User, user_id)
        org = db.session.get(Organization, ticket.org_id)
        link = public_url("tickets.detail", org_slug=org.slug, number=ticket.number)
        queue_notification(user.email, f"[{org.name}] {text[:120]}",
                           f"{text}\n\nOpen the ticket: {link}", ticket)


def mentioned_user_ids(text: str) -> set[int]:
    """`@sam`, `@Sam.Carter` or `@sam@example.com`: matched against the org's members by email,
    email local part, first name or full name without spaces (ambiguous handles are skipped)."""
    handles = {h.lower().rstrip(".") for h in MENTION.findall(text or "")}
    if not handles:
        return set()
    found: set[int] = set()
    members = db.session.execute(select(User.id, User.email, User.name).join(
        Membership, Membership.user_id == User.id)).all()
    for handle in handles:
        matches = {
            uid for uid, email, name in members
            if handle in (email.lower(), email.split("@")[0].lower(),
                          (name.split() or [""])[0].lower(), name.replace(" ", "").lower(),
                          name.replace(" ", ".").lower())
        }
        if len(matches) == 1:
            found |= matches
    return found


def notify_mentions(actor_id: int, ticket: Ticket, message: Message) -> set[int]:
    actor = db.session.get(User, actor_id)
    users = mentioned_user_ids(message.body_text) - {actor_id}
    for user_id in sorted(users):
        notify(user_id, ticket, "mention",
               f"{actor.name} mentioned you on #{ticket.number} “{ticket.subject[:80]}”: "
               f"{message.body_text[:200]}")
    return users


def unread_count(user_id: int) -> int:
    from sqlalchemy import func

    return db.session.scalar(select(func.count(Notification.id)).where(
        Notification.user_id == user_id, Notification.read_at.is_(None)))


def mark_read(user_id: int, notification_id: int | None = None) -> int:
    """Mark one (or, without an id, every) unread notification of the user read; how many."""
    statement = update(Notification).where(Notification.user_id == user_id,
                                           Notification.read_at.is_(None))
    if notification_id is not None:
        statement = statement.where(Notification.id == notification_id)
    return db.session.execute(statement.values(read_at=utcnow())).rowcount
