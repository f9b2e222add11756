"""API tokens: `hd_<org id>_<secret>`. The org id lets a request set its org before the lookup,
so token checks run under row-level security like everything else."""

from __future__ import annotations

import hashlib
import re
import secrets

from sqlalchemy import and_, select

from helpdesk.api.models import ApiToken
from helpdesk.core import tenancy
from helpdesk.core.models import utcnow
from helpdesk.extensions import db
from helpdesk.orgs.models import Membership, Organization

TOKEN_PATTERN = re.compile(r"^hd_(\d{1,18})_([A-Za-z0-9_-]{32,64})$")


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def create_token(membership: Membership, name: str) -> tuple[ApiToken, str]:
    """A new token for this member; the raw value is returned once and never stored."""
    raw = f"hd_{membership.org_id}_{secrets.token_urlsafe(32)}"
    token = ApiToken(
        org_id=membership.org_id,
        user_id=membership.user_id,
        name=name.strip()[:100] or "API token",
        token_hash=_digest(raw),
        display_prefix=raw[:16],
    )
    db.session.add(token)
    db.session.flush()
    return token, raw


def revoke_token(token: ApiToken) -> None:
    token.revoked_at = utcnow()
    db.session.flush()


def authenticate(raw: str) -> tuple[ApiToken, Membership, Organization] | None:
    """The live token, its member and org for `raw`, with the org set; None when unknown or
    revoked. One query: it runs on every API request."""
    match = TOKEN_PATTERN.match(raw or "")
    if not match:
        return None
    tenancy.set_current_org(int(match.group(1)))
    row = db.session.execute(
        select(ApiToken, Membership, Organization)
        .join(Membership, and_(Membership.org_id == ApiToken.org_id,
                               Membership.user_id == ApiToken.user_id))
        .join(Organization, Organization.id == ApiToken.org_id)
        .where(ApiToken.token_hash == _digest(raw), ApiToken.revoked_at.is_(None))
    ).first()
    if row is None or not row[1].user.is_active:
        tenancy.set_current_org(None)
        return None
    token, membership, org = row
    now = utcnow()
    # At most one write a minute per token: a busy integration otherwise queues every
    # request behind the same row lock.
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        token.last_used_at = now
    return token, membership, org
