"""`flask search reindex [--org SLUG]`: rebuild the search index with a progress bar."""

from __future__ import annotations

import time

import click
from flask.cli import AppGroup
from sqlalchemy import func, select
from tqdm import tqdm

from helpdesk.core import tenancy
from helpdesk.core.cli import _org, system_command
from helpdesk.extensions import db
from helpdesk.orgs.models import Organization
from helpdesk.search.backend import get_backend
from helpdesk.search.tables import TABLES

search_cli = AppGroup("search", help="The search index.")


@search_cli.command("reindex")
@click.option("--org", "slug", default=None, help="one organization (default: all of them)")
@system_command
def reindex(slug: str | None) -> None:
    """Rebuild the index of one org or of all; safe to interrupt and run again."""
    orgs = [_org(slug)] if slug else list(db.session.scalars(
        select(Organization).order_by(Organization.id)))
    backend = get_backend()
    started = time.monotonic()
    total = 0
    if slug is None and hasattr(backend, "rebuild_all"):
        # Elasticsearch: new indices for every org, swapped in at the end (no downtime).
        documents = sum(db.session.scalar(select(func.count()).select_from(table)) or 0
                        for table in TABLES.values())
        with tqdm(total=documents, unit="doc", desc="all", disable=None) as bar:
            total = backend.rebuild_all(progress=bar.update)
    else:
        for org in orgs:
            org_id, language, org_slug = org.id, org.search_language, org.slug
            documents = sum(db.session.scalar(select(func.count()).select_from(table)
                                              .where(table.c.org_id == org_id)) or 0
                            for table in TABLES.values())
            with tenancy.org_scope(org_id), tqdm(total=documents, unit="doc", desc=org_slug,
                                                 disable=None) as bar:
                total += backend.reindex(org_id, language, progress=bar.update)
            db.session.commit()
    elapsed = time.monotonic() - started
    click.echo(f"Reindexed {total:,} documents of {len(orgs)} organization(s) with the "
               f"{backend.name} backend in {elapsed:.1f} s.")
