"""Named leases in the database, so that several `python -m bot run` processes share work safely: each
mailbox is read by one worker at a time; if that worker dies its lease expires and another takes over within
`lease_seconds`. Works the same on SQLite and PostgreSQL (one conditional UPDATE or INSERT)."""

from __future__ import annotations

import datetime as dt
import os
import socket
from typing import Any

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite

from storage import models as m
from storage.db import unit_of_work

WORKER = f"{socket.gethostname()}:{os.getpid()}"


async def acquire(sessions: Any, name: str, seconds: float, owner: str = WORKER) -> bool:
    """Take or renew the lease `name`; True while this worker holds it."""
    now = dt.datetime.now(dt.timezone.utc)
    until = now + dt.timedelta(seconds=seconds)
    async with unit_of_work(sessions) as session:
        taken = await session.execute(update(m.Lease).where(
            m.Lease.name == name, (m.Lease.owner == owner) | (m.Lease.expires_at < now)).values(
            owner=owner, expires_at=until))
        if taken.rowcount:
            return True
        insert = postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert
        created = await session.execute(insert(m.Lease).values(name=name, owner=owner, expires_at=until)
                                        .on_conflict_do_nothing(index_elements=[m.Lease.name]))
        if created.rowcount:
            return True
        holder = await session.get(m.Lease, name)
        if holder is not None and _dead_here(holder.owner):
            # A worker on this machine that no longer exists (killed, crashed): no need to wait for expiry.
            stolen = await session.execute(update(m.Lease).where(m.Lease.name == name, m.Lease.owner == holder.owner)
                                           .values(owner=owner, expires_at=until))
            return bool(stolen.rowcount)
        return False


def _dead_here(owner: str) -> bool:
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


async def release(sessions: Any, name: str, owner: str = WORKER) -> None:
    async with unit_of_work(sessions) as session:
        await session.execute(update(m.Lease).where(m.Lease.name == name, m.Lease.owner == owner).values(
            expires_at=dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)))
