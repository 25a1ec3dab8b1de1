"""The IMAP reader against a real Dovecot on loopback: backlog, IDLE, seen mail, quarantine, UIDVALIDITY,
reconnects. Each test uses its own folders in the one Dovecot the session starts."""

import asyncio
import itertools
import threading
import time

import pytest
from imapclient import IMAPClient
from sqlalchemy import func, select

from bot.components import build_intake
from bot.mail.imap import MailboxReader
from bot.service import Services
from bot.settings import Mailbox
from storage import models as m
from tests.helpers import email_bytes, settings_for

pytestmark = pytest.mark.dovecot
_n = itertools.count()


def imap(dovecot) -> IMAPClient:
    client = IMAPClient("127.0.0.1", port=dovecot.port, ssl=False, timeout=30)
    client.login(dovecot.user, dovecot.password)
    return client


def mailbox(dovecot, monkeypatch, **over) -> Mailbox:
    n = next(_n)
    monkeypatch.setenv("TEST_IMAP_PASSWORD", dovecot.password)
    spec = dict(name=f"mb{n}", host="127.0.0.1", port=dovecot.port, tls=False, username=dovecot.user,
                password_env="TEST_IMAP_PASSWORD", folder=f"In{n}", processed_folder=f"Done{n}",
                quarantine_folder=f"Quar{n}", poll_seconds=0.5)
    spec.update(over)
    return Mailbox(**spec)


def append(dovecot, folder, raws, flags=()):
    with imap(dovecot) as c:
        if not c.folder_exists(folder):
            c.create_folder(folder)
        for raw in raws:
            c.append(folder, raw, flags=flags)


def folder_count(dovecot, folder) -> int:
    with imap(dovecot) as c:
        if not c.folder_exists(folder):
            return 0
        return c.select_folder(folder, readonly=True)[b"EXISTS"]


async def count(factory, model) -> int:
    async with factory() as s:
        return (await s.execute(select(func.count()).select_from(model))).scalar_one()


async def wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(0.05)
    return False


@pytest.fixture
async def reader_factory(store, db_url):
    engine, factory = store
    settings = settings_for(db_url)
    services = Services(factory)
    intake = build_intake(settings, services)
    stops, readers = [], []

    def make(mb: Mailbox) -> MailboxReader:
        stop = threading.Event()
        r = MailboxReader(mb, intake, factory, asyncio.get_running_loop(), stop)
        stops.append(stop)
        readers.append(r)
        return r
    make.factory = factory
    yield make
    for s in stops:
        s.set()
    for r in readers:
        await asyncio.to_thread(r.thread.join, 15)


async def test_backlog_including_mail_already_opened_is_taken_in_and_moved(dovecot, monkeypatch, reader_factory):
    mb = mailbox(dovecot, monkeypatch)
    raws = [email_bytes(subject=f"repair {i}", message_id=f"<backlog-{mb.name}-{i}@example.org>") for i in range(25)]
    append(dovecot, mb.folder, raws[:20])
    append(dovecot, mb.folder, raws[20:], flags=[b"\\Seen"])  # someone opened these in Outlook first
    reader = reader_factory(mb)
    reader.start()
    factory = reader_factory.factory
    assert await wait_for(lambda: _eq(count(factory, m.Case), 25))
    assert await wait_for(lambda: _true(lambda: folder_count(dovecot, mb.folder) == 0))
    assert folder_count(dovecot, mb.processed_folder) == 25  # moved, never deleted
    async with factory() as s:
        state = await s.get(m.MailboxState, mb.name)
    assert state.last_uid == 25


async def test_mail_flagged_but_not_moved_by_a_killed_worker_is_moved_once(dovecot, monkeypatch, reader_factory):
    """A worker killed between STORE (our keyword) and MOVE leaves recorded mail flagged in the inbox: the
    next reader recognises it as a duplicate and moves it; nothing is recorded twice."""
    mb = mailbox(dovecot, monkeypatch)
    raws = [email_bytes(subject=f"boiler {i}", message_id=f"<flagged-{mb.name}-{i}@example.org>") for i in range(6)]
    append(dovecot, mb.folder, raws)
    factory = reader_factory.factory
    first = reader_factory(mb)
    for raw in raws[:4]:  # what the killed worker committed ...
        await first.intake.take_email(raw, first.source)
    with imap(dovecot) as c:  # ... and flagged, but did not move
        c.select_folder(mb.folder)
        c.add_flags(c.search(["ALL"])[:4], [mb.processed_keyword.encode(), b"\\Seen"])
    first.start()
    assert await wait_for(lambda: _true(lambda: folder_count(dovecot, mb.folder) == 0))
    assert folder_count(dovecot, mb.processed_folder) == 6
    assert await count(factory, m.Case) == 6
    assert (first.stats.taken, first.stats.duplicates) == (2, 4)


async def test_idle_takes_new_mail_in_within_a_second_or_two(dovecot, monkeypatch, reader_factory):
    mb = mailbox(dovecot, monkeypatch)
    append(dovecot, mb.folder, [])
    reader = reader_factory(mb)
    reader.start()
    assert await asyncio.to_thread(reader.idle_started.wait, 10)
    t0 = time.monotonic()
    append(dovecot, mb.folder, [email_bytes(message_id=f"<idle-{mb.name}@example.org>")])
    assert await wait_for(lambda: _eq(count(reader_factory.factory, m.Case), 1), timeout=10)
    assert time.monotonic() - t0 < 3.0  # Dovecot holds IDLE notifications ~0.5 s


async def test_unparseable_mail_goes_to_the_quarantine_folder(dovecot, monkeypatch, reader_factory):
    from pathlib import Path
    mb = mailbox(dovecot, monkeypatch)
    bad = (Path(__file__).resolve().parent.parent / "data" / "mail" / "no_sender.eml").read_bytes()
    append(dovecot, mb.folder, [bad, email_bytes(message_id=f"<good-{mb.name}@example.org>")])
    reader_factory(mb).start()
    factory = reader_factory.factory
    assert await wait_for(lambda: _eq(count(factory, m.Quarantine), 1))
    assert await wait_for(lambda: _eq(count(factory, m.Case), 1))
    assert await wait_for(lambda: _true(lambda: folder_count(dovecot, mb.quarantine_folder) == 1))
    assert folder_count(dovecot, mb.processed_folder) == 1


async def test_flag_only_mode_and_uidvalidity_change_resync_without_duplicates(dovecot, monkeypatch, reader_factory):
    mb = mailbox(dovecot, monkeypatch, processed_folder="")  # keep mail where it is: keyword + \Seen
    raws = [email_bytes(subject=f"s{i}", message_id=f"<uv-{mb.name}-{i}@example.org>") for i in range(3)]
    append(dovecot, mb.folder, raws)
    reader = reader_factory(mb)
    reader.start()
    factory = reader_factory.factory
    assert await wait_for(lambda: _eq(count(factory, m.Case), 3))
    with imap(dovecot) as c:
        c.select_folder(mb.folder)
        flags = c.get_flags(c.search(["ALL"]))
    assert all(b"\\Seen" in f and mb.processed_keyword.encode() in f for f in flags.values())
    reader.stop.set()
    await asyncio.to_thread(reader.thread.join, 15)
    # the server's mailbox is rebuilt (a migration): new UIDVALIDITY, the same mails unflagged, plus one new
    with imap(dovecot) as c:
        c.delete_folder(mb.folder)
    append(dovecot, mb.folder, raws + [email_bytes(subject="new one", message_id=f"<uv-{mb.name}-new@example.org>")])
    reader2 = reader_factory(mb)
    reader2.start()
    assert await wait_for(lambda: _eq(count(factory, m.InboundMessage), 4))
    await asyncio.sleep(1.0)
    assert await count(factory, m.Case) == 4 and await count(factory, m.InboundMessage) == 4
    assert reader2.stats.duplicates == 3 and reader2.stats.taken == 1


async def test_lost_connection_reconnects_with_backoff(dovecot, monkeypatch, reader_factory, caplog):
    mb = mailbox(dovecot, monkeypatch)
    monkeypatch.setenv("TEST_IMAP_PASSWORD", "wrong")  # first attempts fail: the reader keeps trying
    append(dovecot, mb.folder, [email_bytes(message_id=f"<rc-{mb.name}@example.org>")])
    reader = reader_factory(mb)
    reader.start()
    assert await wait_for(lambda: _true(lambda: reader.stats.reconnects >= 1), timeout=15)
    monkeypatch.setenv("TEST_IMAP_PASSWORD", dovecot.password)
    assert await wait_for(lambda: _eq(count(reader_factory.factory, m.Case), 1), timeout=20)
    assert any("reconnecting in" in r.getMessage() for r in caplog.records)


async def _eq(coro, value) -> bool:
    return (await coro) == value


async def _true(fn) -> bool:
    return await asyncio.to_thread(fn)
