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
import re
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTPUTF8
from email.utils import format_datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import models as m
from storage.db import unit_of_work
from storage.repository import Repository, aware

from ..core.errors import BotError
from ..core.intake import letters_allowed
from ..core.letters import clean_header
from ..logs import redact_address

log = logging.getLogger("bot.sender")
MAX_ATTEMPTS = 20


class RelayError(BotError):
    """The relay refused or could not be reached."""


# A strict msg-id (RFC 5322 dot-atom halves, without "?" so no encoded word can hide in one): anything else a
# resident's mail put in Message-ID or References is left out of our threading headers.
MSG_ID = re.compile(r"<[A-Za-z0-9!#$%&'*+/=^_`{|}~.-]{1,200}@[A-Za-z0-9!#$%&'*+/=^_`{|}~.\[\]-]{1,200}>")
HEADERS = {"from", "to", "subject", "date", "message-id", "in-reply-to", "references", "auto-submitted",
           "x-auto-response-suppress", "mime-version", "content-type", "content-transfer-encoding"}


class LetterError(BotError):
    """A letter that cannot be built safely (never retried: the row is failed with the reason)."""


def _msg_ids(value: str | None) -> str:
    return " ".join(MSG_ID.fullmatch(t).group(0) for t in (value or "").split() if MSG_ID.fullmatch(t))


def build_message(row: m.Outbox, from_address: str, from_name: str) -> EmailMessage:
    """The letter as an EmailMessage. Addresses go in as Address objects (a formatted string would be
    re-parsed, and CPython 3.11's refolding can turn a resident's display name into extra recipients,
    gh-121284); the header block is checked after serialising, so nothing in resident text can add a header."""
    try:
        return _build(row, from_address, from_name)
    except (ValueError, IndexError, HeaderParseError) as exc:  # e.g. an address that is not one
        raise LetterError(f"letter cannot be built (check the address): {type(exc).__name__}: {exc}") from None


def _build(row: m.Outbox, from_address: str, from_name: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = Address(display_name=clean_header(from_name), addr_spec=from_address)
    msg["To"] = Address(display_name=clean_header(row.to_name or ""), addr_spec=clean_header(row.to_addr, 320))
    msg["Subject"] = clean_header(row.subject, 250)
    msg["Date"] = format_datetime(dt.datetime.now(dt.timezone.utc))
    msg["Message-ID"] = row.message_id
    if in_reply_to := _msg_ids(row.in_reply_to).split(" ")[0]:
        msg["In-Reply-To"] = in_reply_to
    if references := _msg_ids(row.references):
        msg["References"] = references
    msg["Auto-Submitted"] = "auto-replied"          # RFC 3834: never answer this
    msg["X-Auto-Response-Suppress"] = "All"          # Exchange: no out-of-office replies to us
    msg.set_content(row.body_text)
    if row.body_html:
        msg.add_alternative(row.body_html, subtype="html")
    _check_headers(msg)
    return msg


def _check_headers(msg: EmailMessage) -> None:
    """Refuse a letter whose serialised header block holds anything but the headers we set, once each."""
    try:
        head = msg.as_bytes(policy=SMTPUTF8).split(b"\r\n\r\n", 1)[0]
    except (ValueError, UnicodeError, HeaderParseError) as exc:
        raise LetterError(f"letter cannot be serialised: {type(exc).__name__}: {exc}") from None
    names = [line.split(b":", 1)[0].strip().lower().decode("ascii", "replace")
             for line in head.split(b"\r\n") if line and line[:1] not in b" \t"]
    extra = [n for n in names if n not in HEADERS]
    repeated = {n for n in names if names.count(n) > 1}
    if extra or repeated or not {"from", "to", "auto-submitted"} <= set(names):
        raise LetterError(f"refusing to send: header block altered (unexpected {sorted(set(extra) | repeated)})")


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
                 claim_seconds: float = 120.0, max_per_sender: int = 0, window_hours: int = 24) -> None:
        self.sessions, self.relay, self.claim_seconds = sessions, relay, claim_seconds
        self.max_per_sender, self.window_hours = max_per_sender, window_hours  # 0: no check at send time
        self.from_address, self.from_name = from_address, from_name
        self.retry_max, self.batch = retry_max_seconds, batch
        self.wake = asyncio.Event()
        self.listeners: list[Any] = []  # told after commit: ("letter_sent", details)

    async def _claim(self, lease_seconds: float = 120.0) -> list[m.Outbox]:
        """Claim due letters in one statement: UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED)
        on PostgreSQL keeps two workers off the same rows; on SQLite the single UPDATE is atomic. The lease
        (status 'sending' until next_attempt_at) keeps others off while the letter is in flight; its exact
        timestamp is the claim's token (see _hold)."""
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

    async def _renew(self, outbox_id: int, lease: dt.datetime) -> dt.datetime | None:
        """Compare-and-swap on the lease time this worker holds: the new lease time, or None if the row was
        taken by another worker (its lease ran out) or is no longer being sent."""
        renewed = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=self.claim_seconds)
        async with unit_of_work(self.sessions) as session:
            held = (await session.execute(
                update(m.Outbox).where(m.Outbox.id == outbox_id, m.Outbox.status == "sending",
                                       m.Outbox.next_attempt_at == lease)
                .values(next_attempt_at=renewed))).rowcount
        return renewed if held == 1 else None

    async def _hold(self, row: m.Outbox) -> dt.datetime | None:
        """Just before sending: renew this worker's lease on the row, so a worker whose lease ran out (a slow
        batch) finds the row taken and skips it rather than sending it a second time. Also re-checks the
        per-address limit against letters already sent (intake counted before concurrent deliveries
        committed). Returns the new lease time, or None to skip."""
        lease = await self._renew(row.id, row.next_attempt_at)
        if lease is None:
            log.info("letter %s: claimed by another worker meanwhile; skipped", row.id)
            return None
        if self.max_per_sender:
            now = dt.datetime.now(dt.timezone.utc)
            async with unit_of_work(self.sessions) as session:
                sent = (await session.execute(select(func.count()).select_from(m.Outbox).where(
                    m.Outbox.to_addr == row.to_addr, m.Outbox.status == "sent", m.Outbox.id != row.id,
                    m.Outbox.sent_at >= now - dt.timedelta(hours=self.window_hours)))).scalar_one()
                ok, why = letters_allowed(row.to_addr, set(), sent, self.max_per_sender)
                if not ok:
                    await session.execute(update(m.Outbox).where(m.Outbox.id == row.id).values(
                        status="suppressed", last_error=f"{why} (checked at send time)"))
                    log.warning("letter %s to %s suppressed at send time: rate limit", row.id,
                                redact_address(row.to_addr))
                    return None
        return lease

    async def _send_holding(self, row: m.Outbox, lease: dt.datetime) -> tuple[dt.datetime, str | None, bool]:
        """Send one letter while renewing its lease every third of the lease period (the relay's timeout is
        per SMTP command, so a slow relay can take longer than one lease). A renewal in flight is never
        cancelled: the lease time kept here is always the one in the database. Returns (lease, error,
        permanent)."""
        held = {"lease": lease}
        done = asyncio.Event()

        async def heartbeat() -> None:
            while not done.is_set():
                try:
                    await asyncio.wait_for(done.wait(), timeout=self.claim_seconds / 3)
                    return
                except asyncio.TimeoutError:
                    pass
                renewed = await self._renew(row.id, held["lease"])
                if renewed is None:
                    return
                held["lease"] = renewed

        beat = asyncio.create_task(heartbeat())
        error, permanent = None, False
        try:
            await self.relay.send(build_message(row, self.from_address, self.from_name), self.from_address)
        except LetterError as exc:  # this letter can never be built safely: failed at once, with the reason
            error, permanent = str(exc), True
        except RelayError as exc:
            error = str(exc)
        except Exception as exc:  # noqa: BLE001 - anything else: retried with backoff, up to MAX_ATTEMPTS
            error = f"{type(exc).__name__}: {exc}"
        finally:
            done.set()
            await beat
        return held["lease"], error, permanent

    async def drain_once(self) -> int:
        """Send what is due; returns how many letters went out. One letter's failure, of any kind, is
        settled on that letter and never holds back the others in the batch."""
        sent = 0
        while rows := await self._claim(self.claim_seconds):
            for row in rows:
                lease = await self._hold(row)
                if lease is None:
                    continue
                lease, error, permanent = await self._send_holding(row, lease)
                if not await self._settle(row.id, lease, error, permanent):
                    continue
                if error is None:
                    sent += 1
                    for listener in self.listeners:
                        try:
                            await listener("letter_sent", {"case_id": row.case_id, "kind": row.kind})
                        except Exception:  # noqa: BLE001
                            log.exception("listener failed after letter %s", row.id)
        return sent

    async def _settle(self, outbox_id: int, lease: dt.datetime, error: str | None, permanent: bool = False) -> bool:
        """Record the outcome, only while this worker still holds the lease it renewed (False otherwise)."""
        async with unit_of_work(self.sessions) as session:
            row = await session.get(m.Outbox, outbox_id, with_for_update=session.bind.dialect.name == "postgresql")
            if row is None or row.status != "sending" or aware(row.next_attempt_at) != lease:
                log.warning("letter %s: lease lost before its outcome was recorded (%s)", outbox_id,
                            "sent" if error is None else error)
                return False
            now = dt.datetime.now(dt.timezone.utc)
            row.attempts += 1
            if error is None:
                row.status, row.sent_at, row.last_error = "sent", now, None
                if row.kind == "acknowledgement" and row.case_id:
                    await self._record_acknowledgement(session, row.case_id, now)
                return True
            delay = min(self.retry_max, 15 * 2 ** min(row.attempts, 16))
            row.status = "failed" if permanent or row.attempts >= MAX_ATTEMPTS else "pending"
            row.last_error, row.next_attempt_at = error[:500], now + dt.timedelta(seconds=delay)
            log.warning("letter %s to %s not sent (attempt %d): %s; %s", row.id, redact_address(row.to_addr),
                        row.attempts, error, "failed for good" if row.status == "failed" else f"next try in {delay}s")
            return True

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
