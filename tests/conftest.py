"""Fixtures: real PostgreSQL and Dovecot on loopback (skipped locally when not installed; required in CI)."""

from __future__ import annotations

import itertools
import os

import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests import servers

REQUIRE = os.environ.get("REQUIRE_SERVERS") == "1"
_db_counter = itertools.count()


def _unavailable(what: str, exc: Exception) -> None:
    message = f"{what} unavailable ({exc}); install it with `apt-get install {'postgresql' if what == 'PostgreSQL' else 'dovecot-imapd'}` or run .ci/run"
    if REQUIRE:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres():
    try:
        pg = servers.start_postgres()
    except Exception as exc:  # noqa: BLE001
        _unavailable("PostgreSQL", exc)
    yield pg
    pg.stop()


@pytest.fixture(scope="session")
def dovecot():
    try:
        server = servers.start_dovecot()
    except Exception as exc:  # noqa: BLE001
        _unavailable("Dovecot", exc)
    yield server
    server.stop()


async def fresh_pg_database(pg: servers.Postgres) -> str:
    name = f"t{os.getpid()}_{next(_db_counter)}"
    admin = create_async_engine(pg.admin_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    return pg.url(name)


@pytest_asyncio.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def db_url(request, tmp_path):
    """A fresh, empty database: a SQLite file, or a new database on the real PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
    return await fresh_pg_database(request.getfixturevalue("postgres"))


@pytest_asyncio.fixture
async def store(db_url):
    """(engine, session factory) on a migrated fresh database."""
    from storage.db import make_engine, migrate, sessions
    engine = make_engine(db_url)
    await migrate(engine)
    yield engine, sessions(engine)
    await engine.dispose()


@pytest.fixture(scope="session")
def model(tmp_path_factory):
    """The trained triage model (`make test` trains it first; trained into a temp dir when missing)."""
    from pathlib import Path
    from classifiers.runtime import TriageModel
    path = Path(__file__).resolve().parents[1] / "classifiers" / "model"
    if not (path / "meta.json").is_file():
        from classifiers.train import train
        path = tmp_path_factory.mktemp("model")
        train(path, log=lambda _: None)
    return TriageModel.load(path)
