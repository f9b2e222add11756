"""`flask mail ...`: connect a mailbox, poll once, import mail files (docs/ARCHITECTURE.md)."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select

from helpdesk.core import tenancy
from helpdesk.core.cli import _org, system_command
from helpdesk.extensions import db
from helpdesk.mail import imap, importer, jobs, services
from helpdesk.mail.models import Mailbox, Security
from helpdesk.orgs.models import Organization

mail_cli = AppGroup("mail", help="The email channel: mailboxes, polling, imports.")


@mail_cli.command("add-mailbox")
@click.option("--org", "slug", required=True, help="the organization's slug")
@click.option("--address", required=True, help="the support address customers write to")
@click.option("--imap-host", required=True)
@click.option("--imap-port", type=int, default=None, help="default 993 (143 with --no-tls)")
@click.option("--imap-user", required=True)
@click.option("--imap-password", required=True)
@click.option("--no-tls", is_flag=True, help="plain IMAP/SMTP (local test servers only)")
@click.option("--starttls", is_flag=True, help="IMAP with STARTTLS instead of TLS")
@click.option("--folder", default="INBOX")
@click.option("--poll-interval", type=int, default=60, help="seconds")
@click.option("--mark-as-read", is_flag=True, help="flag fetched mail as \\Seen")
@click.option("--smtp-host", default="", help="default: the global SMTP_URL")
@click.option("--smtp-port", type=int, default=None)
@click.option("--smtp-user", default="")
@click.option("--smtp-password", default="")
@click.option("--skip-test", is_flag=True, help="save without testing the connection")
@system_command
def add_mailbox(slug, address, imap_host, imap_port, imap_user, imap_password, no_tls,
                starttls, folder, poll_interval, mark_as_read, smtp_host, smtp_port, smtp_user,
                smtp_password, skip_test):
    """Connect a mailbox; tests the IMAP connection first and says what is wrong."""
    org = _org(slug)
    security = Security.NONE if no_tls else Security.STARTTLS if starttls else Security.SSL
    with tenancy.org_scope(org.id):
        mailbox = services.create_mailbox(
            address=address, imap_host=imap_host,
            imap_port=imap_port or (993 if security is Security.SSL else 143),
            imap_security=security, imap_user=imap_user, imap_password=imap_password,
            folder=folder, poll_interval=poll_interval, mark_as_read=mark_as_read,
            smtp_host=smtp_host, smtp_port=smtp_port or (25 if no_tls else 587),
            smtp_security=Security.NONE if no_tls else Security.STARTTLS,
            smtp_user=smtp_user, smtp_password=smtp_password)
        if not skip_test:
            try:
                click.echo(services.test_mailbox(mailbox))
            except imap.MailboxError as error:
                raise click.ClickException(f"Mailbox not saved: {error}") from error
        click.echo(f"Mailbox {mailbox.address} connected (id {mailbox.id}).")


@mail_cli.command("poll")
@click.option("--once", is_flag=True, required=True, help="poll every mailbox once and exit")
@click.option("--org", "slug", default=None, help="only this organization's mailboxes")
def poll(once, slug):
    """Poll mailboxes now, in this process: fetch, store and process new mail."""
    with tenancy.system_scope():
        query = select(Mailbox.org_id, Mailbox.id, Mailbox.address).where(
            Mailbox.is_active.is_(True))
        if slug:
            query = query.where(Mailbox.org_id == _org(slug).id)
        targets = db.session.execute(query.order_by(Mailbox.id)).all()
        db.session.rollback()
    if not targets:
        click.echo("No active mailboxes.")
    failed = False
    for org_id, mailbox_id, address in targets:
        with tenancy.org_scope(org_id):
            mailbox = db.session.get(Mailbox, mailbox_id)
            result = jobs.poll_now(mailbox, helpers=False)
            db.session.commit()
        if result.get("error"):
            failed = True
        click.echo(f"{address}: " + ", ".join(f"{k} {v}" for k, v in result.items() if v != ""))
    if failed:
        raise SystemExit(1)


@mail_cli.command("import")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--org", "slug", default=None,
              help="the organization to import into (needed when there are several)")
def import_mail(path, slug):
    """Import an .eml file, an mbox or a Maildir through the mail pipeline."""
    with tenancy.system_scope():
        if slug:
            org_id = _org(slug).id
        else:
            ids = db.session.scalars(select(Organization.id).limit(2)).all()
            if len(ids) != 1:
                raise click.ClickException("Name the organization: --org SLUG.")
            org_id = ids[0]
        db.session.rollback()
    with tenancy.org_scope(org_id):
        try:
            counts = importer.import_path(org_id, path)
        except (OSError, ValueError) as error:
            db.session.rollback()
            raise click.ClickException(str(error)) from error
        db.session.commit()
    click.echo(", ".join(f"{k} {v}" for k, v in counts.items()))


def init_app(app: Flask) -> None:
    app.cli.add_command(mail_cli)
