"""The command line of docs/ARCHITECTURE.md that the foundation owns.

CLI commands are system operations: they run in the system scope and commit once at the end.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

from helpdesk.core import tenancy
from helpdesk.core.exceptions import ServiceError
from helpdesk.core.jobs import QUEUES
from helpdesk.extensions import db
from helpdesk.orgs.models import Organization, Role
from helpdesk.orgs.plans import PLANS


def system_command(func: Callable) -> Callable:
    """Run in the system scope, commit on success, turn service errors into clean exits."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            with tenancy.system_scope():
                result = func(*args, **kwargs)
                db.session.commit()
                return result
        except ServiceError as error:
            db.session.rollback()
            details = "; ".join(f"{k}: {v}" for k, v in error.fields.items())
            raise click.ClickException(f"{error.message} {details}".strip()) from error

    return wrapper


def _org(slug: str) -> Organization:
    org = db.session.scalar(select(Organization).where(Organization.slug == slug))
    if org is None:
        raise click.ClickException(f"No organization with the slug {slug!r}.")
    return org


org_cli = AppGroup("org", help="Tenants.")
user_cli = AppGroup("user", help="Staff users.")
token_cli = AppGroup("token", help="API tokens.")
demo_cli = AppGroup("demo", help="The demo tenant.")


@org_cli.command("create")
@click.argument("slug")
@click.option("--name", required=True)
@click.option("--owner-email", required=True)
@click.option("--owner-password", required=True)
@click.option("--owner-name", default="")
@click.option("--plan", type=click.Choice(list(PLANS)), default="starter", show_default=True)
@system_command
def org_create(slug, name, owner_email, owner_password, owner_name, plan):
    """New tenant SLUG with its owner (an existing user keeps their password)."""
    from helpdesk.accounts import services as accounts
    from helpdesk.orgs import services as orgs

    owner = accounts.find_user(owner_email) or accounts.create_user(
        email=owner_email, name=owner_name, password=owner_password
    )
    org = orgs.create_org(name=name, slug=slug, owner=owner, plan=plan)
    click.echo(f"Created organization {org.slug} (id {org.id}, plan {org.plan}) "
               f"owned by {owner.email}.")


@user_cli.command("create")
@click.option("--org", "slug", required=True)
@click.option("--email", required=True)
@click.option("--password", required=True)
@click.option("--name", default="")
@click.option("--role", type=click.Choice([r.value for r in Role]), default="agent",
              show_default=True)
@system_command
def user_create(slug, email, password, name, role):
    """New staff user in an org (or an existing user added to it), within the plan's seats."""
    from helpdesk.accounts import services as accounts
    from helpdesk.orgs import services as orgs
    from helpdesk.orgs.models import Membership

    org = _org(slug)
    tenancy.set_current_org(org.id)
    user = accounts.find_user(email)
    if user is not None and db.session.scalar(
        select(Membership.id).where(Membership.org_id == org.id, Membership.user_id == user.id)
    ):
        raise click.ClickException(f"{user.email} is already a member of {org.slug}.")
    orgs.check_seat_available(org)
    user = user or accounts.create_user(email=email, name=name, password=password)
    db.session.add(Membership(org_id=org.id, user=user, role=Role(role)))
    db.session.flush()
    click.echo(f"{user.email} is now {role} in {org.slug}.")


@token_cli.command("create")
@click.option("--org", "slug", required=True)
@click.option("--email", required=True)
@click.option("--name", default="CLI token", show_default=True)
@system_command
def token_create(slug, email, name):
    """New API token for a member; the token is the last line printed (shown once)."""
    from helpdesk.api import services as api
    from helpdesk.orgs.models import Membership

    org = _org(slug)
    tenancy.set_current_org(org.id)
    membership = db.session.scalar(
        select(Membership).join(Membership.user).where(
            Membership.org_id == org.id, Membership.user.has(email=email.strip().lower())
        )
    )
    if membership is None:
        raise click.ClickException(f"{email} is not a member of {org.slug}.")
    _, raw = api.create_token(membership, name)
    click.echo(f"API token for {membership.user.email} in {org.slug} (store it now; "
               f"it is not shown again):")
    click.echo(raw)


@demo_cli.command("seed")
@system_command
def demo_seed():
    """Create the demo tenant (once; running again changes nothing)."""
    from helpdesk.core.demo import DEMO_LOGINS, seed_demo

    created = seed_demo()
    click.echo("Demo tenant created." if created else "Demo tenant already exists.")
    for role, email, password in DEMO_LOGINS:
        click.echo(f"  {role:<6} {email} / {password}")


@click.command("worker")
@click.option("--burst", is_flag=True, help="Run the queued jobs, then exit.")
@click.option("--queue", "queues", multiple=True, type=click.Choice(QUEUES),
              help="Queues to serve (default: all).")
@with_appcontext
def worker_command(burst, queues):
    """Run background jobs (the same code as `rq worker`)."""
    from worker.main import run_worker

    run_worker(queues or None, burst=burst)


@click.command("scheduler")
@click.option("--once", is_flag=True, help="Run every due task once, then exit.")
@with_appcontext
def scheduler_command(once):
    """The periodic loop: enqueues due work (one instance runs; a Redis lock guards it)."""
    from worker.scheduler import run_scheduler

    run_scheduler(once=once)


def init_app(app: Flask) -> None:
    for command in (org_cli, user_cli, token_cli, demo_cli, worker_command, scheduler_command):
        app.cli.add_command(command)
