"""Searching, the org's search language, and saved views.

Views and the API call these; the backend (PostgreSQL or Elasticsearch) does the matching.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import or_, select, text

from helpdesk.core import tenancy
from helpdesk.core.exceptions import NotFound, ValidationFailed
from helpdesk.core.jobs import enqueue_after_commit
from helpdesk.extensions import db
from helpdesk.orgs.models import Organization, Role
from helpdesk.search.backend import InvalidCursor, SearchPage, get_backend
from helpdesk.search.models import SavedView
from helpdesk.search.query import SearchQuery

GROUP_LIMIT = 5  # hits per type when searching all types (the header's instant results)


def search(org: Organization, actor_id: int, query: SearchQuery) -> SearchPage:
    """One page of hits; with type "all", the first page of each type and their cursors."""
    if query.assignee == "me":
        query = replace(query, assignee=actor_id)
    backend = get_backend()
    if query.type != "all":
        return backend.search(org.id, org.search_language, query)
    if query.cursor:
        raise InvalidCursor()  # cursors belong to one type: `more` hands them out
    page = SearchPage()
    queries = [replace(query.for_type(doc_type), cursor=None) for doc_type in query.types
               if query.searchable(doc_type)]
    for doc_type, part in zip([q.type for q in queries],
                              backend.search_each(org.id, org.search_language, queries),
                              strict=True):
        page.hits += part.hits
        if part.next_cursor:
            page.more[doc_type] = part.next_cursor
        page.notice = page.notice or part.notice
    return page


def search_languages() -> list[str]:
    """The text search configurations this PostgreSQL has (simple, english, german, ...)."""
    return list(db.session.scalars(text("SELECT cfgname FROM pg_ts_config ORDER BY cfgname")))


def set_search_language(org: Organization, language: str) -> bool:
    """Change the org's stemming language; its index is rebuilt by a `search` job.

    Returns whether anything changed. Raises ValidationFailed for an unknown language.
    """
    if language not in search_languages():
        message = "Not a language this database knows."
        raise ValidationFailed(message, {"search_language": message})
    if language == org.search_language:
        return False
    org.search_language = language
    db.session.flush()
    from helpdesk.search.jobs import reindex_org

    enqueue_after_commit(reindex_org, org.id, queue="search")
    return True


# --- saved views --------------------------------------------------------------------------

MAX_VIEWS = 100
ONLY_MANAGERS_SHARE = "Only managers and admins can share views."
VIEW_FILTERS = ("type", "status", "priority", "assignee", "tag", "customer", "from", "to", "sort")


def visible_views(user_id: int) -> list[SavedView]:
    """The user's own views and the team's shared ones, by name."""
    return list(db.session.scalars(
        select(SavedView).where(or_(SavedView.owner_id == user_id, SavedView.is_shared))
        .order_by(SavedView.is_shared, SavedView.name, SavedView.id)))


def get_view(view_id: int, user_id: int) -> SavedView:
    """A view the user may use. Raises NotFound for another user's personal view."""
    view = db.session.get(SavedView, view_id)
    if view is None or (view.owner_id != user_id and not view.is_shared):
        raise NotFound("No such saved view.")
    return view


def _clean_view(name: str, query: str, filters: dict[str, Any]) -> tuple[str, str, dict]:
    name = " ".join((name or "").split())[:100]
    errors = {}
    if not name:
        errors["name"] = "Give the view a name."
    query = SearchQuery(text=query).text
    kept = {key: str(value)[:200] for key, value in (filters or {}).items()
            if key in VIEW_FILTERS and value not in (None, "")}
    if not query and not kept:
        errors["query"] = "A view needs words to search for or at least one filter."
    if errors:
        raise ValidationFailed(" ".join(errors.values()), errors)
    return name, query, kept


def create_view(user_id: int, role: Role, *, name: str, query: str, filters: dict[str, Any],
                shared: bool = False) -> SavedView:
    """Save a search. Raises ValidationFailed (bad name, nothing to search, too many views,
    sharing without the manager role)."""
    name, query, filters = _clean_view(name, query, filters)
    if shared and role.rank < Role.MANAGER.rank:
        raise ValidationFailed(ONLY_MANAGERS_SHARE, {"shared": ONLY_MANAGERS_SHARE})
    count = db.session.scalar(select(db.func.count()).select_from(SavedView)
                              .where(SavedView.owner_id == user_id))
    if count >= MAX_VIEWS:
        message = f"You have {MAX_VIEWS} views; delete one first."
        raise ValidationFailed(message, {"name": message})
    view = SavedView(org_id=tenancy.current_org_id(), owner_id=user_id, name=name, query=query,
                     filters=filters, is_shared=shared)
    db.session.add(view)
    db.session.flush()
    return view


def may_edit(view: SavedView, user_id: int, role: Role) -> bool:
    """Its owner edits a view; admins edit shared ones too."""
    return view.owner_id == user_id or role.rank >= Role.ADMIN.rank


def _editable(view_id: int, user_id: int, role: Role) -> SavedView:
    view = get_view(view_id, user_id)
    if not may_edit(view, user_id, role):
        raise NotFound("No such saved view.")
    return view


def update_view(view_id: int, user_id: int, role: Role, *, name: str, query: str,
                filters: dict[str, Any], shared: bool) -> SavedView:
    """Rename or change a view: its owner, or an admin for a shared one."""
    view = _editable(view_id, user_id, role)
    name, query, filters = _clean_view(name, query, filters)
    if shared and not view.is_shared and role.rank < Role.MANAGER.rank:
        raise ValidationFailed(ONLY_MANAGERS_SHARE, {"shared": ONLY_MANAGERS_SHARE})
    view.name, view.query, view.filters, view.is_shared = name, query, filters, shared
    db.session.flush()
    return view


def delete_view(view_id: int, user_id: int, role: Role) -> None:
    db.session.delete(_editable(view_id, user_id, role))
    db.session.flush()

