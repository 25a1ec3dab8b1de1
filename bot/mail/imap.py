"""Reads IMAP mailboxes (imapclient) and hands every message to intake; nothing is ever deleted.

One thread per mailbox (imapclient is blocking); intake runs on the bot's event loop. For each mailbox we
track (UIDVALIDITY, last UID); messages are read with BODY.PEEK[] (so a mail a person already opened is
still taken in, and nothing is marked seen by reading), and only after intake has committed are they marked
processed: moved to the processed folder (MOVE), or given our keyword and \\Seen where MOVE is absent.
Unparseable mail is moved to the quarantine folder. IDLE is used when offered (re-issued before 29
minutes), polling otherwise; lost connections reconnect with backoff and a log line.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import ssl
import threading
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import models as m
from storage.db import unit_of_work

from .oauth import TokenSource

log = logging.getLogger("bot.imap")
FETCH_CHUNK = 200
INTAKE_BATCH = 200  # messages per intake transaction (a failure retries each of them on its own)


@dataclass
class MailboxStats:
    taken: int = 0
    duplicates: int = 0
    quarantined: int = 0
    reconnects: int = 0


def login(client: IMAPClient, mb: Any, tokens: TokenSource | None) -> None:
    """Password LOGIN, or XOAUTH2 with a token from the mailbox's identity provider. A refused token is
    forgotten so the next attempt (after the reader's backoff) fetches a fresh one."""
    if tokens is None:
        client.login(mb.username, mb.password())
        return
    try:
        client.oauth2_login(mb.username, tokens.token())
    except IMAPClientError:
        tokens.forget()
        raise


class MailboxReader:
    def __init__(self, mailbox: Any, intake: Any, sessions: async_sessionmaker[AsyncSession],
                 loop: asyncio.AbstractEventLoop, stop: threading.Event,
                 lease: Callable[[], Awaitable[bool]] | None = None, lease_seconds: float = 60.0) -> None:
        self.mb, self.intake, self.sessions, self.loop, self.stop = mailbox, intake, sessions, loop, stop
        self.lease = lease  # when set: only read while this worker holds the mailbox's lease
        self.renew_every = lease_seconds / 3
        self.stats = MailboxStats()
        self.source = f"imap:{mailbox.name}"
        self.thread = threading.Thread(target=self.run, name=f"imap-{mailbox.name}", daemon=True)
        self.client: IMAPClient | None = None
        self.idle_started = threading.Event()  # set each time the reader goes into IDLE (tests wait on it)
        self.tokens = TokenSource(mailbox.oauth2, mailbox.name) if mailbox.auth == "oauth2" else None

    # -- bridging to the event loop ----------------------------------------------------------------
    def _await(self, coro: Awaitable[Any], timeout: float = 300) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    # -- the loop ----------------------------------------------------------------------------------
    def start(self) -> None:
        self.thread.start()

    def run(self) -> None:
        backoff = 1.0
        while not self.stop.is_set():
            try:
                if self.lease is not None and not self._await(self.lease()):
                    self.stop.wait(5)
                    continue
                self._session()
                backoff = 1.0
            except Exception as exc:  # noqa: BLE001 - the reader never dies; it reconnects
                if self.stop.is_set():
                    break
                self.stats.reconnects += 1
                log.warning("imap %s: %s: %s; reconnecting in %.0f s", self.mb.name, type(exc).__name__, exc, backoff)
                self.stop.wait(backoff)
                backoff = min(backoff * 2, 300.0)
            finally:
                self._close()

    def _close(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            try:
                client.logout()
            except Exception:  # noqa: BLE001
                pass

    def _connect(self) -> IMAPClient:
        context = ssl.create_default_context() if self.mb.tls else None
        client = IMAPClient(self.mb.host, port=self.mb.port, ssl=self.mb.tls, ssl_context=context, timeout=60)
        client.normalise_times = False
        try:
            login(client, self.mb, self.tokens)
        except Exception:
            client.shutdown()
            raise
        for folder in (self.mb.processed_folder, self.mb.quarantine_folder):
            if folder and not client.folder_exists(folder):
                client.create_folder(folder)
        return client

    def _session(self) -> None:
        client = self.client = self._connect()
        caps = {c.decode().upper() if isinstance(c, bytes) else str(c).upper() for c in client.capabilities()}
        can_move, can_idle = "MOVE" in caps, "IDLE" in caps and self.mb.idle
        log.info("imap %s: connected to %s:%d (%s), folder %s; %s; processed mail is %s", self.mb.name, self.mb.host,
                 self.mb.port, "TLS" if self.mb.tls else "plain", self.mb.folder,
                 "IDLE" if can_idle else f"polling every {self.mb.poll_seconds:.0f} s",
                 f"moved to {self.mb.processed_folder}" if can_move else f"flagged {self.mb.processed_keyword}")
        while not self.stop.is_set():
            if self.lease is not None and not self._await(self.lease()):
                log.info("imap %s: lease lost to another worker; standing by", self.mb.name)
                return
            info = client.select_folder(self.mb.folder)
            self._drain(client, int(info[b"UIDVALIDITY"]), can_move)
            if can_idle:
                self._idle(client)
            else:
                self.stop.wait(self.mb.poll_seconds)

    def _idle(self, client: IMAPClient) -> None:
        client.idle()
        self.idle_started.set()
        started = dt.datetime.now()
        try:
            while not self.stop.is_set():
                responses = client.idle_check(timeout=1.0)
                if any(r[1] in (b"EXISTS", b"RECENT") for r in responses if len(r) > 1):
                    return
                if (dt.datetime.now() - started).total_seconds() >= self.mb.idle_renew_seconds:
                    return  # re-issue IDLE before the server's 29-30 minute cut-off
                if self.lease is not None and (dt.datetime.now() - started).total_seconds() >= self.renew_every:
                    return  # come up to renew the lease
        finally:
            self.idle_started.clear()
            client.idle_done()

    # -- reading -----------------------------------------------------------------------------------
    def _drain(self, client: IMAPClient, uidvalidity: int, can_move: bool) -> None:
        last_uid = self._await(self._load_state(uidvalidity))
        # Without MOVE, processed mail stays here with our keyword, so the keyword is the filter. With MOVE,
        # everything still here is unfinished, even if flagged: a worker killed between flag and move left it
        # (it is recognised as a duplicate and moved now).
        filters: list[Any] = [] if can_move else ["UNKEYWORD", self.mb.processed_keyword]
        criteria = (["UID", f"{last_uid + 1}:*"] if last_uid else []) + filters or ["ALL"]
        uids = sorted(u for u in client.search(criteria) if u > last_uid or not last_uid)
        for start in range(0, len(uids), FETCH_CHUNK):
            chunk = uids[start:start + FETCH_CHUNK]
            fetched = client.fetch(chunk, ["BODY.PEEK[]", "INTERNALDATE"])
            processed, quarantined = [], []
            present, items = [], []
            for uid in chunk:
                data = fetched.get(uid)
                if data is None:
                    continue  # expunged by someone else meanwhile
                arrived = data.get(b"INTERNALDATE")
                if isinstance(arrived, dt.datetime) and arrived.tzinfo is None:
                    arrived = arrived.replace(tzinfo=dt.timezone.utc)
                present.append(uid)
                items.append((data.get(b"BODY[]") or b"", arrived))
            results = []
            for start_batch in range(0, len(items), INTAKE_BATCH):
                results += self._await(self.intake.take_emails(items[start_batch:start_batch + INTAKE_BATCH],
                                                               self.source, policy=self.mb.policy))
            for uid, result in zip(present, results, strict=True):  # one result per message, in order
                if result.kind == "quarantined":
                    self.stats.quarantined += 1
                    quarantined.append(uid)
                else:
                    self.stats.duplicates += result.kind == "duplicate"
                    self.stats.taken += result.kind != "duplicate"
                    processed.append(uid)
            # Only now, with every case committed, is the mail marked processed.
            self._mark(client, processed, self.mb.processed_folder, can_move)
            self._mark(client, quarantined, self.mb.quarantine_folder, can_move)
            self._await(self._save_state(uidvalidity, max(chunk)))
            if self.lease is not None and not self._await(self.lease()):
                log.info("imap %s: lease lost mid-backlog; another worker continues", self.mb.name)
                return

    def _mark(self, client: IMAPClient, uids: list[int], folder: str, can_move: bool) -> None:
        if not uids:
            return
        client.add_flags(uids, [self.mb.processed_keyword.encode(), b"\\Seen"])
        if can_move and folder:
            client.move(uids, folder)

    # -- state -------------------------------------------------------------------------------------
    async def _load_state(self, uidvalidity: int) -> int:
        async with unit_of_work(self.sessions) as session:
            state = await session.get(m.MailboxState, self.mb.name)
            if state is None:
                session.add(m.MailboxState(mailbox=self.mb.name, uidvalidity=uidvalidity, last_uid=0))
                return 0
            if state.uidvalidity != uidvalidity:
                log.warning("imap %s: UIDVALIDITY changed (%s -> %s): resynchronising; duplicates are recognised "
                            "by Message-ID", self.mb.name, state.uidvalidity, uidvalidity)
                state.uidvalidity, state.last_uid = uidvalidity, 0
            return state.last_uid

    async def _save_state(self, uidvalidity: int, last_uid: int) -> None:
        async with unit_of_work(self.sessions) as session:
            state = await session.get(m.MailboxState, self.mb.name)
            if state is None:
                session.add(m.MailboxState(mailbox=self.mb.name, uidvalidity=uidvalidity, last_uid=last_uid))
            elif state.uidvalidity == uidvalidity and last_uid > state.last_uid:
                state.last_uid = last_uid


__all__ = ["MailboxReader", "IMAPClientError"]
