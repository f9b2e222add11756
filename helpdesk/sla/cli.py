"""`flask sla retime [--org SLUG]` and `flask sla scan`: the SLA clock from the command line."""

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
from helpdesk.tickets.models import Status, Ticket

sla_cli = AppGroup("sla", help="SLA due times and breach alerts.")
RUNNING = (Status.NEW, Status.OPEN, Status.PENDING)


def _orgs(slug: str | None) -> list[tuple[int, str]]:
    orgs = [_org(slug)] if slug else list(db.session.scalars(
        select(Organization).order_by(Organization.id)))
    return [(org.id, org.slug) for org in orgs]


@sla_cli.command("retime")
@click.option("--org", "slug", default=None, help="one organization (default: all of them)")
@click.option("--history", is_flag=True,
              help="every ticket, with its reply records rebuilt from the messages (for the "
                   "reports after an upgrade or an import; slower)")
@system_command
def retime(slug: str | None, history: bool) -> None:
    """Work out the due times of every running ticket again (after an upgrade or an import)."""
    from helpdesk.sla.clock import retime_running

    started, total = time.monotonic(), 0
    orgs = _orgs(slug)
    for org_id, org_slug in orgs:
        count = db.session.scalar(select(func.count(Ticket.id)).where(
            Ticket.org_id == org_id, *([] if history else [Ticket.status.in_(RUNNING)])))
        with tenancy.org_scope(org_id), tqdm(total=count, unit="ticket", desc=org_slug,
                                             disable=None) as bar:
            total += retime_running(progress=bar.update, every_ticket=history)
            db.session.commit()
    which = "" if history else "running "
    click.echo(f"Timed {total:,} {which}tickets of {len(orgs)} organization(s) in "
               f"{time.monotonic() - started:.1f} s.")


@sla_cli.command("scan")
@click.option("--org", "slug", default=None, help="one organization (default: all of them)")
@system_command
def scan(slug: str | None) -> None:
    """Announce the warnings and breaches due now (the scheduler does this every minute)."""
    from helpdesk.sla.alerts import scan as scan_org

    total = 0
    for org_id, _ in _orgs(slug):
        with tenancy.org_scope(org_id):
            total += scan_org()
            db.session.commit()
    click.echo(f"{total} warning(s) and breach(es) announced.")
