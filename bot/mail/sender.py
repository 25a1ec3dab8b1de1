"""Drains the outbox to the SMTP relay: retried with backoff, each letter sent once across workers.

Rows are claimed with SELECT ... FOR UPDATE SKIP LOCKED on PostgreSQL (SQLite has one writer), sent while
the claim is held, and marked sent with the relay's acceptance in the same transaction. An acknowledgement
letter that goes out records the acknowledgement on its case (the clock's acknowledged date).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import models as m
from storage.db import unit_of_work
from storage.repository import Repository

from ..core.errors import BotError
from ..core.letters import clean_header
from ..logs import redact_address

log = logging.getLogger("bot.sender")
MAX_ATTEMPTS = 20


class RelayError(BotError):
    """The relay refused or could not be reached."""


def build_message(row: m.Outbox, from_address: str, from_name: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = formataddr((clean_header(from_name), from_address))
    msg["To"] = formataddr((clean_header(row.to_name or ""), clean_header(row.to_addr)))
    msg["Subject"] = clean_header(row.subject, 250)
    msg["Date"] = format_datetime(dt.datetime.now(dt.timezone.utc))
    msg["Message-ID"] = row.message_id
    if row.in_reply_to:
        msg["In-Reply-To"] = clean_header(row.in_reply_to, 998)
    if row.references:
        msg["References"] = clean_header(row.references, 998)
    msg["Auto-Submitted"] = "auto-replied"          # RFC 3834: never answer this
    msg["X-Auto-Response-Suppress"] = "All"          # Exchange: no out-of-office replies to us
    msg.set_content(row.body_text)
    if row.body_html:
        msg.add_alternative(row.body_html, subtype="html")
    return msg


class Relay:
    """A blocking smtplib client, run in a thread."""

    def __init__(self, host: str, port: int, starttls: bool = True, use_ssl: bool = False, username: str = "",
                 password: str = "", timeout: float = 30.0) -> None:
        self.host, self.port, self.starttls, self.use_ssl = host, port, starttls, use_ssl
        self.username, self.password, self.timeout = username, password, timeout

    def _send(self, msg: EmailMessage, envelope_from: str) -> None:
        try:
            if self.use_ssl:
                client: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                                        context=ssl.create_default_context())
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=self.timeout, local_hostname="complaints-bot")
            with client:
                if self.starttls and not self.use_ssl:
                    client.starttls(context=ssl.create_default_context())
                if self.username:
                    client.login(self.username, self.password)
                # Null envelope sender is for bounces; ours is a real reply address, but auto-replied.
                client.send_message(msg, from_addr=envelope_from)
        except (smtplib.SMTPException, OSError) as exc:
            raise RelayError(f"{type(exc).__name__}: {exc}") from exc

    async def send(self, msg: EmailMessage, envelope_from: str) -> None:
        await asyncio.to_thread(self._send, msg, envelope_from)


class OutboxSender:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], relay: Relay, from_address: str,
                 from_name: str, retry_max_seconds: float = 900.0, batch: int = 20,
                 claim_seconds: float = 120.0) -> None:
        self.sessions, self.relay, self.claim_seconds = sessions, relay, claim_seconds
        self.from_address, self.from_name = from_address, from_name
        self.retry_max, self.batch = retry_max_seconds, batch
        self.wake = asyncio.Event()
        self.listeners: list[Any] = []  # told after commit: ("letter_sent", details)

    async def _claim(self, lease_seconds: float = 120.0) -> list[m.Outbox]:
        """Claim due letters in one statement: UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED)
        on PostgreSQL keeps two workers off the same rows; on SQLite the single UPDATE is atomic. The lease
        (status 'sending' until next_attempt_at) keeps others off while the letter is in flight."""
        async with unit_of_work(self.sessions) as session:
            now = dt.datetime.now(dt.timezone.utc)
            due = (select(m.Outbox.id).where(m.Outbox.status.in_(("pending", "sending")),
                                             m.Outbox.next_attempt_at <= now)
                   .order_by(m.Outbox.id).limit(self.batch))
            if session.bind.dialect.name == "postgresql":
                due = due.with_for_update(skip_locked=True)
            claimed = (await session.execute(
                update(m.Outbox).where(m.Outbox.id.in_(due.scalar_subquery()))
                .values(status="sending", next_attempt_at=now + dt.timedelta(seconds=lease_seconds))
                .returning(m.Outbox.id))).scalars().all()
            if not claimed:
                return []
            rows = (await session.execute(select(m.Outbox).where(m.Outbox.id.in_(claimed))
                                          .order_by(m.Outbox.id))).scalars().all()
            return list(rows)

    async def drain_once(self) -> int:
        """Send what is due; returns how many letters went out."""
        sent = 0
        while rows := await self._claim(self.claim_seconds):
            for row in rows:
                error = None
                try:
                    await self.relay.send(build_message(row, self.from_address, self.from_name), self.from_address)
                except RelayError as exc:
                    error = str(exc)
                await self._settle(row.id, error)
                if error is None:
                    sent += 1
                    for listener in self.listeners:
                        try:
                            await listener("letter_sent", {"case_id": row.case_id, "kind": row.kind})
                        except Exception:  # noqa: BLE001
                            log.exception("listener failed after letter %s", row.id)
        return sent

    async def _settle(self, outbox_id: int, error: str | None) -> None:
        async with unit_of_work(self.sessions) as session:
            row = await session.get(m.Outbox, outbox_id)
            now = dt.datetime.now(dt.timezone.utc)
            row.attempts += 1
            if error is None:
                row.status, row.sent_at, row.last_error = "sent", now, None
                if row.kind == "acknowledgement" and row.case_id:
                    await self._record_acknowledgement(session, row.case_id, now)
                return
            delay = min(self.retry_max, 15 * 2 ** min(row.attempts, 16))
            row.status = "failed" if row.attempts >= MAX_ATTEMPTS else "pending"
            row.last_error, row.next_attempt_at = error[:500], now + dt.timedelta(seconds=delay)
            log.warning("letter %s to %s not sent (attempt %d): %s; next try in %ds", row.id,
                        redact_address(row.to_addr), row.attempts, error, delay)

    async def _record_acknowledgement(self, session: AsyncSession, case_id: int, at: dt.datetime) -> None:
        repo = Repository(session)
        record = await repo.get_by_id(case_id)
        if record.case.status in ("complaint", "escalation_requested"):
            event = record.case.acknowledge(at, by="bot", channel="email")
            await repo.save(record, [event])

    async def run(self, stop: asyncio.Event, idle_seconds: float = 5.0) -> None:
        while not stop.is_set():
            try:
                await self.drain_once()
            except Exception:  # noqa: BLE001 - the sender never dies; the letters stay pending
                log.exception("outbox sender failed; retrying")
            self.wake.clear()
            try:
                await asyncio.wait_for(self._either(stop), timeout=idle_seconds)
            except asyncio.TimeoutError:
                pass

    async def _either(self, stop: asyncio.Event) -> None:
        waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self.wake.wait())]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()
