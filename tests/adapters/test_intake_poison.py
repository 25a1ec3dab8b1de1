"""Messages that could block a mailbox: text a database refuses, the same bad message seen again, the same
mail without a Message-ID seen over SMTP and then IMAP. On SQLite and on a real PostgreSQL."""

import datetime as dt

from sqlalchemy import func, select

from bot.components import build_intake
from bot.core.intake import Inbound
from bot.service import Services
from storage import models as m
from tests.helpers import email_bytes, settings_for

UTC = dt.timezone.utc


async def count(factory, model, *where) -> int:
    async with factory() as s:
        return (await s.execute(select(func.count()).select_from(model).where(*where))).scalar_one()


async def test_a_message_the_database_refuses_is_quarantined_and_the_next_one_goes_through(store, db_url):
    engine, factory = store
    intake = build_intake(settings_for(db_url), Services(factory))
    # A lone surrogate (from a Slack event's "\ud800" escape): no database text type stores it.
    bad = Inbound(identity="slack:C1:1.0001", channel="slack", source="slack:C1", received_at=dt.datetime.now(UTC),
                  text="The boiler \ud800 is broken", sender="U1", sender_name="Staff")
    result = await intake.take(bad)
    assert result.kind == "quarantined" and "could not be recorded" in result.why
    async with factory() as s:
        row = (await s.execute(select(m.Quarantine))).scalar_one()
    assert row.identity == "slack:C1:1.0001" and b"boiler" in row.raw and row.source == "slack:C1"
    good = await intake.take_email(email_bytes(message_id="<after-poison@example.org>"), "smtp")
    assert good.kind == "new_case"
    # In a batch (one IMAP chunk), the bad one is set aside and the others are recorded.
    batch = [(email_bytes(message_id=f"<batch-{i}@example.org>"), None) for i in range(3)]
    results = await intake.take_emails(batch, "imap:x")
    assert [r.kind for r in results] == ["new_case"] * 3


async def test_nul_and_lone_surrogates_from_a_charset_label_become_replacement_characters(store, db_url):
    engine, factory = store
    intake = build_intake(settings_for(db_url), Services(factory))
    raw = (b"From: Ann <ann@example.org>\r\nTo: complaints@localhost\r\n"
           b"Subject: =?unicode_escape?q?Damp_=5Cud800?= =?utf-8?q?a=00b?=\r\n"
           b"Message-ID: <nul-surrogate@example.org>\r\nDate: Mon, 2 Mar 2026 10:00:00 +0000\r\n"
           b"Content-Type: text/plain; charset=utf-8\r\n\r\nMould \x00 in the bedroom.\r\n")
    assert (await intake.take_email(raw, "smtp")).kind == "new_case"  # PostgreSQL refuses NUL in text
    async with factory() as s:
        msg = (await s.execute(select(m.InboundMessage))).scalar_one()
    assert "\x00" not in msg.text and "\ufffd" in msg.subject


async def test_the_same_unparseable_message_quarantined_again_is_one_row(store, db_url):
    engine, factory = store
    intake = build_intake(settings_for(db_url), Services(factory))
    raw = b"To: complaints@localhost\r\nSubject: no sender at all\r\n\r\nhello\r\n"
    first = await intake.take_email(raw, "smtp")
    again = await intake.take_email(raw, "imap:x")
    assert first.kind == again.kind == "quarantined" and first.message_row == again.message_row
    async with factory() as s:
        row = (await s.execute(select(m.Quarantine))).scalar_one()
    assert row.attempts == 2


async def test_mail_without_a_message_id_seen_over_smtp_and_then_imap_is_one_case(store, db_url):
    engine, factory = store
    intake = build_intake(settings_for(db_url), Services(factory))
    raw = b"".join(line + b"\r\n" for line in email_bytes(message_id="<x@y>").split(b"\r\n")
                   if not line.startswith(b"Message-ID"))
    stored_copy = b"Return-Path: <resident@example.org>\r\nDelivered-To: complaints@localhost\r\n" + raw
    assert (await intake.take_email(raw, "smtp")).kind == "new_case"
    assert (await intake.take_email(stored_copy, "imap:x")).kind == "duplicate"
    assert await count(factory, m.Case) == 1
