"""The store's database: an engine for VIGIL_STORE_URL (SQLite by default, PostgreSQL for a team)
and its migrations (Alembic, run on open).

SQLite runs in WAL mode (readers never wait for the writer) with `synchronous=NORMAL` (a
commit survives a process crash; a power cut may lose the last commits, which the store's
consumer then reads again from Kafka, as its offsets are committed after the database)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from streams.errors import CliError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
MIGRATION_TRIES = 6
MIGRATION_LOCK_KEY = 0x76696769  # "vigi": PostgreSQL advisory lock held while one process migrates


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA cache_size=-65536")  # 64 MiB page cache
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite's directory is created and its pragmas set on every connection."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() == "postgresql":
        return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
    raise CliError(f"VIGIL_STORE_URL: {parsed.get_backend_name()} is not supported (sqlite or postgresql)")


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def migrate(engine: Engine) -> str:
    """Bring the database to the newest migration; returns the revision it is at."""
    if not logging.getLogger().isEnabledFor(logging.DEBUG):
        logging.getLogger("alembic").setLevel(logging.WARNING)  # one line per step otherwise
    config = alembic_config()
    for attempt in range(MIGRATION_TRIES):
        try:
            with engine.begin() as connection:
                lock_for_migration(connection)
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
            break
        except OperationalError as exc:
            # SQLite refuses at once, without waiting out busy_timeout, when processes open a
            # new file together (its switch to WAL); the lock above serialises the rest
            if engine.dialect.name != "sqlite" or "locked" not in str(exc) or attempt == MIGRATION_TRIES - 1:
                raise
            time.sleep(0.1 * 2 ** attempt)
    return current_revision(engine)


def lock_for_migration(connection: Connection) -> None:
    """Make processes that open the store together (`vigil store`, `vigil console`, `console user
    add`) migrate one after another: the others wait, then find the schema at head. Without it
    each sees no tables and both create them ("table ads already exists")."""
    if connection.dialect.name == "sqlite":
        # the write lock up front (pysqlite would begin only at the first INSERT, leaving DDL
        # outside any transaction); a waiter retries for the busy_timeout
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    elif connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def open_store_engine(url: str) -> Engine:
    """An engine with the schema migrated to head (what `vigil store` and `vigil console` use)."""
    engine = make_engine(url)
    migrate(engine)
    return engine
