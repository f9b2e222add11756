"""The breach scan: the scheduler finds the orgs with something due, a job per org announces."""

from __future__ import annotations

from sqlalchemy import select

from helpdesk.core import tenancy
from helpdesk.core.jobs import get_queue, org_job
from helpdesk.core.models import utcnow
from helpdesk.extensions import db, redis_store
from helpdesk.tickets.models import Ticket

QUEUED_TTL = 300  # a lost job frees its org for the next sweep after this many seconds


def _queued_key(org_id: int) -> str:
    return f"sla:scan-queued:{org_id}"


def enqueue_due_scans() -> int:
    """Scheduler: one scan job per org with a warning or breach due (none while one waits)."""
    with tenancy.system_scope():
        orgs = db.session.scalars(select(Ticket.org_id).where(Ticket.sla_check_at <= utcnow())
                                  .group_by(Ticket.org_id)).all()
        db.session.rollback()
    queued = 0
    for org_id in orgs:
        if redis_store.client.set(_queued_key(org_id), 1, nx=True, ex=QUEUED_TTL):
            get_queue("notify").enqueue(scan_org, org_id)
            queued += 1
    return queued


@org_job
def scan_org(org_id: int) -> int:
    from helpdesk.sla.alerts import scan

    redis_store.client.delete(_queued_key(org_id))
    return scan()


@org_job
def retime_org(org_id: int) -> int:
    """Work the clock out again for the org's running tickets (a policy or calendar changed).
    Safe to retry: refresh only recomputes."""
    from helpdesk.sla.clock import retime_running

    return retime_running()
