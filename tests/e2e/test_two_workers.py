"""Two `python -m bot run` workers on one real PostgreSQL and one Dovecot mailbox: the one reading the mailbox
is killed with SIGKILL mid-backlog; the other takes over, and every message is recorded once and every receipt
sent once to the relay.

The killed worker is the one that started first (so it holds the mailbox's lease) and has no relay: a worker
killed between the relay's acceptance of a letter and its own commit would leave that letter to be sent again
(SMTP delivery across a crash is at least once; see README). Two senders draining one outbox concurrently are
tested in tests/adapters/test_outbox_workers.py."""

import collections
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.conftest import fresh_pg_database
from tests.helpers import append_backlog, start_sink

pytestmark = [pytest.mark.dovecot, pytest.mark.postgres]
ROOT = Path(__file__).resolve().parents[2]
N = 300


async def test_two_workers_share_a_mailbox_and_survive_a_kill(dovecot, postgres, tmp_path):
    db_url = await fresh_pg_database(postgres)
    folder = f"Two{os.getpid()}"
    append_backlog(dovecot, folder, N, "two")
    sink, controller = start_sink()
    procs: dict[int, subprocess.Popen] = {}
    engines: list = []
    try:
        relay = f'[relay]\nhost = "127.0.0.1"\nport = {controller.port}\nstarttls = false\nclaim_seconds = 10\n'
        for n in (1, 2):
            if n == 2:  # worker 1 takes the mailbox's lease first
                deadline = time.monotonic() + 30
                while not await _lease_owner(db_url) and time.monotonic() < deadline:
                    await __import__("asyncio").sleep(0.05)
            cfg = tmp_path / f"w{n}.toml"
            cfg.write_text(f"""[bot]\ndata_dir = "{tmp_path / f'data{n}'}"\nlease_seconds = 6\n
[database]\nurl = "{db_url}"\n[smtp]\nenabled = false\n
{relay if n == 2 else ""}
[[imap.mailboxes]]\nname = "shared"\nhost = "127.0.0.1"\nport = {dovecot.port}\ntls = false\nusername = "{dovecot.user}"
password_env = "TWO_IMAP_PASSWORD"\nfolder = "{folder}"\nprocessed_folder = "{folder}-done"\n""")
            env = {**os.environ, "TWO_IMAP_PASSWORD": dovecot.password, "BOT_CONFIG": str(cfg)}
            with (tmp_path / f"w{n}.log").open("ab") as log:
                procs[n] = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=ROOT, env=env,
                                            stdout=subprocess.DEVNULL, stderr=log)
        import asyncio
        from sqlalchemy.ext.asyncio import create_async_engine
        aengine = create_async_engine(db_url)
        engines.append(aengine)

        async def one(sql: str):
            try:
                async with aengine.connect() as conn:
                    return (await conn.execute(text(sql))).scalar()
            except Exception:  # noqa: BLE001 - schema not yet created
                return None

        deadline = time.monotonic() + 90
        while ((await one("SELECT count(*) FROM inbound_messages")) or 0) < N // 3 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        owner = await one("SELECT owner FROM leases WHERE name = 'imap:shared'")
        holder = next(n for n, p in procs.items() if owner and owner.endswith(f":{p.pid}"))
        assert holder == 1
        procs[holder].send_signal(signal.SIGKILL)
        procs[holder].wait(10)
        recorded_at_kill = await one("SELECT count(*) FROM inbound_messages")
        assert recorded_at_kill < N, "the kill came after the backlog was done"

        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            sent = await one("SELECT count(*) FROM outbox WHERE status = 'sent'") or 0
            if (await one("SELECT count(*) FROM inbound_messages")) == N and sent == N:
                break
            await asyncio.sleep(0.2)
        assert await one("SELECT count(*) FROM inbound_messages") == N
        assert await one("SELECT count(DISTINCT identity) FROM inbound_messages") == N
        assert await one("SELECT count(*) FROM cases") == N
        assert await one("SELECT count(DISTINCT reference) FROM cases") == N
        assert await one("SELECT count(*) FROM outbox WHERE status = 'sent'") == N
        time.sleep(1.0)
        subjects = collections.Counter(msg["Message-ID"] for _, _, msg in sink.received)
        assert len(subjects) == N and max(subjects.values()) == 1, "a receipt was sent twice"
        survivor = next(n for n in procs if n != holder)
        assert await one("SELECT owner FROM leases WHERE name = 'imap:shared'") == \
            f"{os.uname().nodename}:{procs[survivor].pid}"
    finally:
        for e in engines:
            await e.dispose()
        for p in procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()
        controller.stop()


async def _lease_owner(db_url: str):
    from sqlalchemy.ext.asyncio import create_async_engine
    engine = create_async_engine(db_url)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(text("SELECT owner FROM leases WHERE name = 'imap:shared'"))).scalar()
    except Exception:  # noqa: BLE001 - not created yet
        return None
    finally:
        await engine.dispose()
