"""Replies leave by email. The email channel (issue 4) replaces this with its Outbox,
threading headers and per-mailbox SMTP; until then replies go through account mail."""

from __future__ import annotations

from sqlalchemy import select

from helpdesk.core.mail import send_mail
from helpdesk.extensions import db
from helpdesk.orgs.models import Membership, Organization
from helpdesk.tickets.models import Message, Ticket


def signature_for(user_id: int | None, org: Organization) -> str:
    parts = []
    if user_id is not None:
        own = db.session.scalar(select(Membership.signature).where(Membership.user_id == user_id))
        if own:
            parts.append(own)
    if org.settings.get("signature"):
        parts.append(org.settings["signature"])
    return "\n\n".join(parts)


def send_reply(ticket: Ticket, message: Message) -> None:
    org = db.session.get(Organization, ticket.org_id)
    customer = ticket.customer
    if customer.is_blocked:
        return
    signature = signature_for(message.author_user_id, org)
    body = message.body_text + (f"\n\n-- \n{signature}" if signature else "")
    send_mail(customer.email, f"Re: {ticket.subject} [#{ticket.number}]", body)
