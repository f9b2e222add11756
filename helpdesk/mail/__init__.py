"""The email channel: mailboxes polled over IMAP become threaded tickets; replies leave by SMTP
through the Outbox. See docs/ARCHITECTURE.md, "The mail pipeline"."""

from flask import Flask

from helpdesk.core.web import org_blueprint

bp = org_blueprint("mail", __name__, "desk/settings/mail")


def init_app(app: Flask) -> None:
    from helpdesk.mail import cli, views  # noqa: F401

    app.register_blueprint(bp)
    cli.init_app(app)
