"""Engine, sessions and migrations. One `AsyncSession` per unit of work, never shared between tasks."""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, SQLAlchemyError, StatementError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def make_engine(url: str, echo: bool = False) -> AsyncEngine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # hide_parameters: an error's log line must not carry residents' text and addresses (the values)
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30}, hide_parameters=True)

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn, _record):  # noqa: ANN001
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")   # readers do not block the writer
            cur.execute("PRAGMA synchronous=NORMAL")  # durable at each WAL checkpoint; safe with WAL
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_async_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=10,
                               hide_parameters=True)


def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def unit_of_work(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session and a transaction: committed on success, rolled back on any error."""
    async with factory() as session:
        async with session.begin():
            yield session


def message_fault(exc: BaseException) -> bool:
    """Is this failure the message's own (text or values the database refuses, a bug on this input), so
    that retrying cannot help and the message should be set aside? Anything about reaching or using the
    database (connection lost, shutdown, deadlock, timeouts, pool exhausted) is not: it is retried."""
    if isinstance(exc, (DataError, IntegrityError)):
        return True
    sqlstate = str(getattr(getattr(exc, "orig", None), "sqlstate", "") or "")
    if isinstance(exc, DBAPIError) and sqlstate:  # PostgreSQL: 22 data exception, 23 integrity; the rest
        return sqlstate[:2] in ("22", "23")        # (08 connection, 40 deadlock, 53 resources, 57 shutdown) is not
    if isinstance(exc, StatementError) and not isinstance(exc, DBAPIError):
        return isinstance(exc.orig, (UnicodeError, ValueError, TypeError))  # a value the driver cannot send
    if isinstance(exc, (SQLAlchemyError, OSError, TimeoutError, ConnectionError)):
        return False
    return True


def _alembic_config(connection: Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


async def migrate(engine: AsyncEngine) -> str:
    """Create or upgrade the schema to the newest revision; returns the revision now in place."""
    def upgrade(conn: Connection) -> str:
        command.upgrade(_alembic_config(conn), "head")
        from alembic.runtime.migration import MigrationContext
        return MigrationContext.configure(conn).get_current_revision() or ""

    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # Two workers starting together must not both run the migration.
            from sqlalchemy import text
            await conn.execute(text("SELECT pg_advisory_xact_lock(727101)"))
        return await conn.run_sync(upgrade)


async def current_revision(engine: AsyncEngine) -> str | None:
    from alembic.runtime.migration import MigrationContext
    async with engine.connect() as conn:
        return await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())


def head_revision() -> str:
    from alembic.script import ScriptDirectory
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(cfg).get_current_head() or ""
