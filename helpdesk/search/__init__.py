"""Search: one interface, two backends (PostgreSQL full-text by default, Elasticsearch with
ELASTICSEARCH_URL), the desk's search box, results page and saved views, `flask search`."""

from flask import Flask

from helpdesk.core.web import org_blueprint

bp = org_blueprint("search", __name__, "desk")


def init_app(app: Flask) -> None:
    from helpdesk.search import cli, indexing, views  # noqa: F401

    app.register_blueprint(bp)
    app.cli.add_command(cli.search_cli)
    if app.config.get("ELASTICSEARCH_URL"):
        from helpdesk.extensions import db

        indexing.install(db.session.session_factory.class_)
