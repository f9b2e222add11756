"""Periodic tasks. They enqueue jobs; the work itself runs in the workers."""

from __future__ import annotations

from helpdesk.core.jobs import get_queue
from helpdesk.orgs.jobs import purge_expired_invitations
from worker.scheduler import periodic


@periodic(every=3600)
def invitations_cleanup() -> None:
    get_queue("default").enqueue(purge_expired_invitations)


@periodic(every=5)
def mail_polls() -> None:
    from helpdesk.mail.jobs import enqueue_due_polls

    enqueue_due_polls()


@periodic(every=30)
def mail_outbox_retries() -> None:
    from helpdesk.mail.delivery import enqueue_due

    enqueue_due()


@periodic(every=120)
def mail_stranded() -> None:
    from helpdesk.mail.jobs import enqueue_stranded

    enqueue_stranded()


@periodic(every=60)
def sla_scans() -> None:
    from helpdesk.sla.jobs import enqueue_due_scans

    enqueue_due_scans()


@periodic(every=60)
def shop_reservation_expiry() -> None:
    from storefront.jobs import enqueue_expired_releases

    enqueue_expired_releases()
