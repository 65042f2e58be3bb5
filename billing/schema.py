"""The database's setup: this app's engine tuned, and the schema brought up to date
(`flask --app app init-db`). The tables themselves are in `billing.models`."""

from __future__ import annotations

import sqlite3
from typing import Any

import click
from flask.cli import with_appcontext
from flask_migrate import stamp, upgrade
from sqlalchemy import Engine, event, inspect

from billing.models import db


def init_engine(engine: Engine) -> None:
    """Tune this app's engine (create_app calls it), and no other: an engine a forker
    makes elsewhere in the process keeps its own settings."""
    event.listen(engine, "connect", _sqlite_for_several_threads)


def _sqlite_for_several_threads(connection: Any, record: Any) -> None:
    """SQLite, the default database, serves several threads and processes: in WAL mode
    readers never wait for a writer, and a writer waits its turn (up to 15 s) rather
    than failing at once with "database is locked" (https://sqlite.org/wal.html)."""
    if isinstance(connection, sqlite3.Connection):
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.close()


# The first migration: the schema `db.create_all()` made before there were migrations.
FIRST_REVISION = "0001"


def upgrade_schema() -> None:
    """Bring the database to the newest migration (what `flask db upgrade` does).

    A database made by an early version of this starter with `create_all()`
    has the first revision's tables but no record of it: mark it, then upgrade.
    """
    tables = inspect(db.engine)
    if tables.has_table("users") and not tables.has_table("alembic_version"):
        stamp(revision=FIRST_REVISION)
    upgrade()


@click.command("init-db")
@with_appcontext
def init_db_command() -> None:
    """Create or upgrade the database tables (safe to run again; same as `flask db upgrade`)."""
    upgrade_schema()
    click.echo("Database ready.")
