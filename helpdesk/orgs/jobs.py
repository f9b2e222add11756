"""Jobs of the orgs domain."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete

from helpdesk.core.jobs import system_job
from helpdesk.core.models import utcnow
from helpdesk.extensions import db
from helpdesk.orgs.models import Invitation

KEEP_EXPIRED_DAYS = 30


@system_job
def purge_expired_invitations() -> int:
    """Delete invitations expired for a month, in every org. Safe to run twice."""
    cutoff = utcnow() - timedelta(days=KEEP_EXPIRED_DAYS)
    result = db.session.execute(
        delete(Invitation).where(Invitation.accepted_at.is_(None), Invitation.expires_at < cutoff)
    )
    return result.rowcount
