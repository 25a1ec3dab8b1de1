"""The outbox sender against hostile or broken letters and slow batches, with a real aiosmtpd relay:
resident text cannot add headers or recipients, one unbuildable letter never holds back the others, a worker
whose lease ran out does not send a letter a second time, and the per-address limit is checked at send time."""

import asyncio
import base64
import datetime as dt
import email
from email import policy

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from bot.components import build_intake
from bot.mail.sender import LetterError, OutboxSender, Relay, _check_headers, build_message
from bot.service import Services
from storage import models as m
from tests.helpers import settings_for
from tests.servers import free_port

UTC = dt.timezone.utc


class WireSink:
    """Keeps the exact bytes the relay receives after DATA; optionally slow."""

    def __init__(self, delay: float = 0.0) -> None:
        self.received: list[tuple[list[str], bytes]] = []
        self.delay = delay

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        await asyncio.sleep(self.delay)
        self.received.append((list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK"


@pytest.fixture
def relay_sink():
    sinks = []

    def start(delay: float = 0.0):
        sink = WireSink(delay)
        controller = Controller(sink, hostname="127.0.0.1", port=free_port())
        controller.start()
        sinks.append(controller)
        return sink, controller.port
    yield start
    for c in sinks:
        c.stop()


def raw_email(n: int, subject: bytes, message_id: bytes | None = None, sender: bytes | None = None) -> bytes:
    return (b"From: " + (sender or b"Resident <victim%d@example.org>" % n) + b"\r\nTo: complaints@localhost\r\n"
            b"Subject: " + subject + b"\r\nMessage-ID: " + (message_id or b"<inj-%d@example.org>" % n) +
            b"\r\nDate: Mon, 2 Mar 2026 10:00:00 +0000\r\n\r\nThe flat is damp.\r\n")


def encoded_twice(inner: str) -> bytes:
    return b"=?utf-8?b?" + base64.b64encode(inner.encode()) + b"?="


async def test_resident_text_cannot_add_headers_recipients_or_a_body(store, db_url, relay_sink):
    engine, factory = store
    intake = build_intake(settings_for(db_url), Services(factory))
    hostile = [
        raw_email(1, encoded_twice("=?utf-8?q?Damp=0D=0AReply-To:_attacker@evil.example?=")),
        raw_email(2, encoded_twice("=?utf-8?q?Damp=0D=0A=0D=0APay_your_arrears_at_http://evil.example?=")),
        raw_email(3, b"damp", message_id=b"<=?utf-8?q?x=0D=0A=0D=0AFake_body_http://evil.example?=>"),
        raw_email(4, b"damp", sender="=?utf-8?q?Zo=C3=AB=3A_complaints@localhost=2C_evil@attacker.example=3B?= "
                                     "<victim4@example.org>".encode()),
    ]
    for raw in hostile:
        assert (await intake.take_email(raw, "smtp")).kind == "new_case"
    sink, port = relay_sink()
    sent = await OutboxSender(factory, Relay("127.0.0.1", port, starttls=False), "complaints@localhost",
                              "Complaints Team").drain_once()
    assert sent == 4 and len(sink.received) == 4
    for rcpts, wire in sink.received:
        head, _, body = wire.partition(b"\r\n\r\n")
        letter = email.message_from_bytes(wire, policy=policy.default)
        names = [line.split(b":", 1)[0].lower() for line in head.split(b"\r\n") if line[:1] not in b" \t"]
        assert b"reply-to" not in names and len(names) == len(set(names))
        assert letter["Auto-Submitted"] == "auto-replied"  # still in the header block, not pushed into the body
        assert b"evil.example" not in body and b"Auto-Submitted" not in body
        assert [a.addr_spec for a in letter["To"].addresses] == rcpts  # the To header names only the recipient


async def _letters(factory, letters: list[tuple[str, str]]) -> None:
    """A case with pending letters: (recipient, message id) each."""
    async with factory.begin() as s:
        case = m.Case(reference="CMP-2026-00001", policy="hos-code-2024", status="received", channel="email",
                      received_at=dt.datetime.now(UTC))
        s.add(case)
        for to_addr, message_id in letters:
            s.add(m.Outbox(case=case, kind="receipt", to_addr=to_addr, subject="s", body_text="x",
                           message_id=message_id))


async def test_an_unbuildable_letter_fails_alone_and_the_rest_of_the_batch_goes_out(store, relay_sink):
    engine, factory = store
    await _letters(factory, [("bad@@example.org", "<poison@localhost>")] +
                   [(f"r{i}@example.org", f"<ok-{i}@localhost>") for i in range(3)])
    sink, port = relay_sink()
    sender = OutboxSender(factory, Relay("127.0.0.1", port, starttls=False), "complaints@localhost", "Team")
    assert await sender.drain_once() == 3
    async with factory() as s:
        rows = {r.message_id: r for r in (await s.execute(select(m.Outbox))).scalars()}
    assert rows["<poison@localhost>"].status == "failed" and rows["<poison@localhost>"].attempts == 1
    assert "address" in rows["<poison@localhost>"].last_error
    assert sorted(r[0][0] for r in sink.received) == ["r0@example.org", "r1@example.org", "r2@example.org"]


def test_a_letter_with_a_header_block_we_did_not_write_is_refused():
    row = m.Outbox(kind="receipt", to_addr="a@example.org", to_name="Ann", subject="s", body_text="x",
                   message_id="<ok@localhost>", references="<a@example.org> <=?utf-8?q?x?=@evil> junk")
    msg = build_message(row, "complaints@localhost", "Team")
    assert msg["References"] == "<a@example.org>"  # only strict msg-ids are kept for threading
    msg["Bcc"] = "evil@attacker.example"  # what an injection would have added
    with pytest.raises(LetterError, match="header block altered"):
        _check_headers(msg)
    bad = m.Outbox(kind="receipt", to_addr="bad@@example.org", subject="s", body_text="x", message_id="<b@localhost>")
    with pytest.raises(LetterError, match="check the address"):
        build_message(bad, "complaints@localhost", "Team")


async def test_a_worker_whose_lease_ran_out_does_not_send_the_letter_again(store, relay_sink):
    engine, factory = store
    await _letters(factory, [(f"r{i}@example.org", f"<lease-{i}@localhost>") for i in range(4)])
    sink, port = relay_sink(delay=1.0)  # a slow relay: worker A's batch outlasts its 2 s lease

    def sender():
        return OutboxSender(factory, Relay("127.0.0.1", port, starttls=False, timeout=5), "complaints@localhost",
                            "Team", claim_seconds=2.0)
    a, b = sender(), sender()

    async def later():
        await asyncio.sleep(2.3)
        return await b.drain_once()
    sent = await asyncio.gather(a.drain_once(), later())
    delivered = [r[0][0] for r in sink.received]
    assert sorted(delivered) == [f"r{i}@example.org" for i in range(4)]  # each once
    assert sum(sent) == 4
    async with factory() as s:
        assert {r.status for r in (await s.execute(select(m.Outbox))).scalars()} == {"sent"}


async def test_the_per_address_limit_is_checked_again_at_send_time(store, relay_sink):
    engine, factory = store
    await _letters(factory, [("same@example.org", f"<rate-{i}@localhost>") for i in range(5)])  # queued by
    # concurrent deliveries that each saw a count of 0
    sink, port = relay_sink()
    sender = OutboxSender(factory, Relay("127.0.0.1", port, starttls=False), "complaints@localhost", "Team",
                          max_per_sender=3, window_hours=24)
    assert await sender.drain_once() == 3
    async with factory() as s:
        statuses = sorted(r.status for r in (await s.execute(select(m.Outbox))).scalars())
    assert statuses == ["sent", "sent", "sent", "suppressed", "suppressed"] and len(sink.received) == 3


async def test_a_send_longer_than_the_lease_keeps_its_lease_and_goes_out_once(store, relay_sink):
    engine, factory = store
    await _letters(factory, [("slow@example.org", "<slow@localhost>")])
    sink, port = relay_sink(delay=3.0)  # the relay takes 3 s to accept; the lease is 1.5 s

    def sender():
        return OutboxSender(factory, Relay("127.0.0.1", port, starttls=False, timeout=10), "complaints@localhost",
                            "Team", claim_seconds=1.5)

    async def later():
        await asyncio.sleep(2.0)  # worker A's first lease has run out by now, but A renewed it
        return await sender().drain_once()
    sent = await asyncio.gather(sender().drain_once(), later())
    assert sent == [1, 0] and [r[0] for r in sink.received] == [["slow@example.org"]]


async def test_an_unexpected_send_error_is_retried_not_failed_for_good(store):
    engine, factory = store
    await _letters(factory, [("r@example.org", "<odd@localhost>")])
    class OddRelay:  # stands in for the relay adapter: a failure that is neither a refusal nor the letter's
        async def send(self, msg, envelope_from):
            raise UnicodeEncodeError("ascii", "£", 0, 1, "relay password not ASCII")
    assert await OutboxSender(factory, OddRelay(), "complaints@localhost", "Team").drain_once() == 0
    async with factory() as s:
        row = (await s.execute(select(m.Outbox))).scalar_one()
    assert (row.status, row.attempts) == ("pending", 1) and "UnicodeEncodeError" in row.last_error
