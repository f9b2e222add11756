"""A large catalog CSV is written by a job: the request checks every row (the problems come
back at once, by line), stores the file like an attachment and queues the import; the job
writes it in one transaction and tells the person who sent it, with a notification."""

from __future__ import annotations

from helpdesk.core.jobs import enqueue_after_commit, org_job
from helpdesk.extensions import db
from helpdesk.orgs.models import Organization
from helpdesk.tickets.attachments import storage_root, write_file
from helpdesk.tickets.models import Notification
from storefront.catalog_csv import ImportRefused, import_csv
from storefront.money import org_currency
from storefront.product_images import delete_after_commit

SYNC_ROWS = 500  # files up to this many rows are written in the request itself
NOTIFICATION_KIND = "catalog_import"


def import_later(org_id: int, actor_id: int, raw: bytes) -> None:
    """Store the (checked) file and queue its import once this transaction commits."""
    key, _ = write_file(org_id, raw)
    enqueue_after_commit(import_catalog, org_id, actor_id, key)


@org_job
def import_catalog(org_id: int, actor_id: int, storage_key: str) -> str:
    """Import the stored file and notify `actor_id` how it went; the file is removed. Safe to
    run twice: a second run finds no file (or writes the same values again)."""
    root = storage_root().resolve()
    path = (root / storage_key).resolve()
    if root not in path.parents or not storage_key.startswith(f"{org_id}/") \
            or not path.is_file():
        return "no file"
    org = db.session.get(Organization, org_id)
    try:
        text = "Catalog import done. " + import_csv(actor_id, path.read_bytes(),
                                                    org_currency(org)).summary()
    except ImportRefused as refused:
        lines = "; ".join(f"line {line}: {message}" if line else message
                          for line, message in refused.errors[:5])
        text = f"Catalog import refused. {refused.message} {lines}"
    db.session.add(Notification(org_id=org_id, user_id=actor_id, ticket_id=None,
                                kind=NOTIFICATION_KIND, text=text[:500]))
    delete_after_commit(path)
    return text
