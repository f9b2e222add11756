"""The migration history builds the schema the models describe."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text

from helpdesk.extensions import db


def test_models_and_migrations_agree(app, migrated):
    engine = create_engine(migrated)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            diff = compare_metadata(context, db.metadata)
    finally:
        engine.dispose()
    assert diff == [], f"autogenerate found differences: {diff}"


def test_schema_is_at_the_single_head(app, migrated):
    from alembic.script import ScriptDirectory
    from flask_migrate import Config

    with app.app_context():
        config = Config(str(app.extensions["migrate"].directory) + "/alembic.ini")
        config.set_main_option("script_location", app.extensions["migrate"].directory)
        heads = ScriptDirectory.from_config(config).get_heads()
    engine = create_engine(migrated)
    try:
        with engine.connect() as connection:
            current = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        engine.dispose()
    assert heads == [current]


def test_migration_file_names_are_dated(app):
    from pathlib import Path

    versions = Path(app.extensions["migrate"].directory) / "versions"
    names = [p.name for p in versions.glob("*.py")]
    assert names and all(name[:8].isdigit() for name in names)
