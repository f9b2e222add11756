"""Organizations: creation, seats and plan limits, invitations, roles."""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select

from helpdesk.accounts.models import User
from helpdesk.core import tenancy
from helpdesk.core.exceptions import Conflict, NotAllowed, PlanLimitExceeded, ValidationFailed
from helpdesk.core.mail import send_mail
from helpdesk.core.models import utcnow
from helpdesk.core.urls import public_url
from helpdesk.extensions import db
from helpdesk.orgs.models import Invitation, Membership, Organization, Role
from helpdesk.orgs.plans import PLANS, next_plan_up

SLUG_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,61}[a-z0-9])$")
# First path segments the app itself uses: an org may not take them.
RESERVED_SLUGS = frozenset({
    "account", "admin", "api", "app", "assets", "billing", "desk", "docs", "healthz", "help",
    "invite", "login", "logout", "mail", "orgs", "password", "settings", "shop", "signup",
    "static", "status", "support", "webhooks", "www",
})
INVITATION_DAYS = 7


def slugify(name: str) -> str:
    """'Café Crème' -> 'cafe-creme': accents folded to ASCII, the rest becomes hyphens."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug[:63].strip("-")


def check_slug(slug: str) -> None:
    """Raises ValidationFailed (bad shape, reserved) or Conflict (taken)."""
    if not SLUG_PATTERN.match(slug):
        raise ValidationFailed(
            "Invalid address.",
            {"slug": "Use 3 to 63 lowercase letters, digits and hyphens, "
                     "starting and ending with a letter or digit."},
        )
    if slug in RESERVED_SLUGS:
        raise ValidationFailed("Reserved address.", {"slug": f"“{slug}” is reserved."})
    if db.session.scalar(select(Organization.id).where(Organization.slug == slug)):
        raise Conflict("Address taken.", {"slug": f"The address “{slug}” is already taken."})


def create_org(*, name: str, slug: str, owner: User, plan: str = "starter") -> Organization:
    """Create a tenant on a trial with `owner` as its owner; the new org becomes current.

    Raises ValidationFailed / Conflict for a bad or taken slug or an unknown plan.
    """
    name = name.strip()
    if not name:
        raise ValidationFailed("Name missing.", {"org_name": "Give your organization a name."})
    if plan not in PLANS:
        raise ValidationFailed("Unknown plan.", {"plan": f"Choose one of {', '.join(PLANS)}."})
    check_slug(slug)
    org = Organization(
        name=name[:200],
        slug=slug,
        plan=plan,
        trial_ends_at=utcnow() + timedelta(days=current_app.config["TRIAL_DAYS"]),
        settings={},
    )
    db.session.add(org)
    db.session.flush()
    tenancy.set_current_org(org.id)
    db.session.add(Membership(org_id=org.id, user=owner, role=Role.OWNER))
    from helpdesk.sla.services import seed_defaults

    seed_defaults(org.id)
    return org


def orgs_of_user(user: User) -> list[tuple[Organization, Role]]:
    """Every org the user works for. RLS lets a user read their own memberships in any org."""
    rows = db.session.execute(
        select(Organization, Membership.role)
        .join(Membership, Membership.org_id == Organization.id)
        .where(Membership.user_id == user.id)
        .order_by(Organization.name)
        .execution_options(**{tenancy.ALL_ORGS: True})
    )
    return [(org, role) for org, role in rows]


def seats_used(org: Organization) -> int:
    """Members plus open invitations: an invitation holds a seat until it expires."""
    # Filtered explicitly: the CLI and system jobs call this with the org filter lifted.
    members = db.session.scalar(
        select(func.count(Membership.id)).where(Membership.org_id == org.id)
    )
    invited = db.session.scalar(
        select(func.count(Invitation.id)).where(
            Invitation.org_id == org.id,
            Invitation.accepted_at.is_(None),
            Invitation.expires_at > utcnow(),
        )
    )
    return members + invited


def lock_org(org: Organization) -> None:
    """Serialize changes to an org's team until this transaction ends (seat and owner checks
    must not interleave between concurrent requests)."""
    db.session.execute(select(Organization.id).where(Organization.id == org.id).with_for_update())


def check_seat_available(org: Organization) -> None:
    """Raises PlanLimitExceeded when the plan has no seat left for one more agent.

    Takes the org's lock first, so two concurrent invitations cannot both take the last seat.
    """
    lock_org(org)
    limit = org.agent_limit
    if limit is None or seats_used(org) < limit:
        return
    upgrade = next_plan_up(org.plan)
    hint = f" Upgrade to {upgrade.name} for up to {upgrade.max_agents or 'unlimited'} agents." \
        if upgrade else ""
    raise PlanLimitExceeded(
        f"Your {org.plan_info.name} plan includes {limit} agents and all seats are taken "
        f"(members and open invitations).{hint}"
    )


def _require_manage(actor: Membership, role: Role) -> None:
    if actor.role.rank < Role.ADMIN.rank:
        raise NotAllowed("Only owners and admins can manage the team.")
    if role is Role.OWNER and actor.role is not Role.OWNER:
        raise NotAllowed("Only an owner can make someone an owner or change an owner.")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invite_member(actor: Membership, org: Organization, *, email: str, role: Role) -> Invitation:
    """Invite `email` with `role` and mail them a link. A repeated invitation replaces the old.

    Raises NotAllowed, Conflict (already a member) or PlanLimitExceeded.
    """
    from helpdesk.accounts.services import normalize_email

    email = normalize_email(email)
    _require_manage(actor, role)
    already = db.session.scalar(
        select(Membership.id).join(User).where(User.email == email)
    )
    if already:
        raise Conflict("Already a member.", {"email": f"{email} is already on the team."})
    previous = db.session.scalars(
        select(Invitation).where(Invitation.email == email, Invitation.accepted_at.is_(None))
    ).all()
    for invitation in previous:
        db.session.delete(invitation)
    db.session.flush()
    check_seat_available(org)
    token = secrets.token_urlsafe(32)
    invitation = Invitation(
        org_id=org.id,
        email=email,
        role=role,
        token_hash=hash_token(token),
        invited_by_id=actor.user_id,
        expires_at=utcnow() + timedelta(days=INVITATION_DAYS),
    )
    db.session.add(invitation)
    db.session.flush()
    link = public_url("orgs.accept_invitation", org_slug=org.slug, token=token)
    send_mail(
        email,
        f"{actor.user.name} invited you to {org.name} on Helpdesk",
        f"{actor.user.name} invited you to join {org.name} as {role.value}.\n\n"
        f"Accept the invitation: {link}\n\nThe link works for {INVITATION_DAYS} days.",
    )
    return invitation


def find_invitation(token: str) -> Invitation | None:
    """An open invitation of the current org for this token, or None."""
    return db.session.scalar(
        select(Invitation).where(
            Invitation.token_hash == hash_token(token),
            Invitation.accepted_at.is_(None),
            Invitation.expires_at > utcnow(),
        )
    )


def accept_invitation(invitation: Invitation, user: User) -> Membership:
    """Make `user` a member with the invited role. Raises Conflict if already a member."""
    if db.session.scalar(select(Membership.id).where(Membership.user_id == user.id)):
        raise Conflict("You are already a member of this organization.")
    invitation.accepted_at = utcnow()
    membership = Membership(org_id=invitation.org_id, user=user, role=invitation.role)
    db.session.add(membership)
    db.session.flush()
    return membership


def revoke_invitation(actor: Membership, invitation: Invitation) -> None:
    _require_manage(actor, invitation.role)
    db.session.delete(invitation)
    db.session.flush()


def _other_owners(member: Membership) -> int:
    """Owners besides `member`, with the org locked so that two owners demoting each other at
    the same moment cannot leave the org with none."""
    lock_org(member.org)
    return db.session.scalar(
        select(func.count(Membership.id)).where(
            Membership.org_id == member.org_id,
            Membership.role == Role.OWNER,
            Membership.id != member.id,
        )
    )


def change_role(actor: Membership, member: Membership, role: Role) -> None:
    """Raises NotAllowed for too low a role or for demoting the last owner."""
    _require_manage(actor, max(role, member.role, key=lambda r: r.rank))
    if member.role is Role.OWNER and role is not Role.OWNER and _other_owners(member) == 0:
        raise NotAllowed("An organization needs at least one owner.")
    db.session.refresh(member)  # the role as of the lock, not as first read
    member.role = role
    db.session.flush()


def remove_member(actor: Membership, member: Membership) -> None:
    """Raises NotAllowed for too low a role or for removing the last owner."""
    _require_manage(actor, member.role)
    if member.role is Role.OWNER and _other_owners(member) == 0:
        raise NotAllowed("An organization needs at least one owner.")
    from helpdesk.tickets.assignment import reassign_tickets_of

    reassign_tickets_of(actor.user_id, member.org_id, member.user_id)
    db.session.delete(member)
    db.session.flush()
