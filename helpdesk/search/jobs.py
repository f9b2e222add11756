"""`search` queue jobs: rebuild an org's index, and (Elasticsearch) index changed documents."""

from __future__ import annotations

from helpdesk.core.jobs import org_job
from helpdesk.extensions import db
from helpdesk.orgs.models import Organization
from helpdesk.search.backend import get_backend


@org_job
def reindex_org(org_id: int) -> int:
    """Rebuild one org's documents (after its language changed). Safe to run twice."""
    org = db.session.get(Organization, org_id)
    if org is None:
        return 0
    return get_backend().reindex(org_id, org.search_language)


@org_job
def index_documents(org_id: int, doc_type: str, ids: list[int]) -> None:
    """Send changed documents to the index (removing the deleted ones). Safe to run twice."""
    get_backend().index(org_id, doc_type, ids)
