"""Periodic tasks. They enqueue jobs; the work itself runs in the workers."""

from __future__ import annotations

from helpdesk.core.jobs import get_queue
from helpdesk.orgs.jobs import purge_expired_invitations
from worker.scheduler import periodic


@periodic(every=3600)
def invitations_cleanup() -> None:
    get_queue("default").enqueue(purge_expired_invitations)
