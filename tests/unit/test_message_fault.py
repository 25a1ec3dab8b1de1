"""Which intake failures set a message aside (its own fault) and which are retried (the database's), with
errors built as SQLAlchemy's asyncpg dialect raises them from PostgreSQL's own exceptions."""

import asyncpg
import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_dbapi

from storage.db import message_fault

DBAPI = AsyncAdapt_asyncpg_dbapi(asyncpg)


def as_sqlalchemy(pg_exc: Exception) -> sa_exc.DBAPIError:
    for cls in type(pg_exc).__mro__:
        if cls in DBAPI._asyncpg_error_translate:
            err = DBAPI._asyncpg_error_translate[cls](pg_exc.args[0], pg_exc)
            return sa_exc.DBAPIError.instance("INSERT ...", {}, err, DBAPI.Error)
    raise AssertionError(f"no translation for {type(pg_exc).__name__}")


@pytest.mark.parametrize("pg_exc", [
    asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),
    asyncpg.exceptions.DeadlockDetectedError("deadlock detected"),
    asyncpg.exceptions.QueryCanceledError("canceling statement due to statement timeout"),
    asyncpg.exceptions.TooManyConnectionsError("too many clients"),
])
def test_database_trouble_is_retried_not_quarantined(pg_exc):
    assert message_fault(as_sqlalchemy(pg_exc)) is False


@pytest.mark.parametrize("pg_exc", [
    asyncpg.exceptions.CharacterNotInRepertoireError("invalid byte sequence for encoding UTF8: 0x00"),
    asyncpg.exceptions.StringDataRightTruncationError("value too long for type character varying(255)"),
])
def test_values_the_database_refuses_set_the_message_aside(pg_exc):
    assert message_fault(as_sqlalchemy(pg_exc)) is True


def test_other_failures():
    assert message_fault(sa_exc.TimeoutError("QueuePool limit reached")) is False
    assert message_fault(ConnectionResetError()) is False
    assert message_fault(sa_exc.StatementError("x", "INSERT", {}, UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates"))) is True
    assert message_fault(KeyError("a bug on this input")) is True
