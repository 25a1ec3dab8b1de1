"""Email in over the bot's own SMTP listener (driven with smtplib), letters out to a real aiosmtpd sink."""

import asyncio
import datetime as dt
import smtplib
import socket

import pytest
from sqlalchemy import select, text

from bot.components import build_intake
from bot.mail.sender import OutboxSender, Relay
from bot.mail.smtp import start_listener
from bot.service import Services
from storage import models as m
from tests.helpers import email_bytes, settings_for, start_sink

UTC = dt.timezone.utc


@pytest.fixture
async def bot(store, db_url):
    """The intake wired as `python -m bot run` wires it, with its SMTP listener on a free port."""
    engine, factory = store
    settings = settings_for(db_url, smtp={"max_message_bytes": 20_000})
    services = Services(factory)
    intake = build_intake(settings, services)
    server = await start_listener(settings, intake)
    port = server.sockets[0].getsockname()[1]

    class Bot:
        pass
    b = Bot()
    b.settings, b.services, b.intake, b.factory, b.port, b.engine = settings, services, intake, factory, port, engine
    yield b
    server.close()
    await server.wait_closed()


def smtp_send(port: int, raw: bytes, rcpts=("complaints@localhost",), mail_from="resident@example.org"):
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        return client.sendmail(mail_from, list(rcpts), raw)


async def send(b, raw, **kw):
    return await asyncio.to_thread(smtp_send, b.port, raw, **kw)


async def rows(factory, model, *where):
    async with factory() as session:
        return list((await session.execute(select(model).where(*where).order_by(model.id))).scalars())


async def test_message_becomes_a_case_with_a_receipt_letter(bot):
    await send(bot, email_bytes(message_id="<first@example.org>"))
    cases = await rows(bot.factory, m.Case)
    assert [(c.reference, c.status, c.channel, c.resident_email) for c in cases] == [
        ("CMP-2026-00001", "received", "email", "resident@example.org")]
    letters = await rows(bot.factory, m.Outbox)
    assert len(letters) == 1 and letters[0].kind == "receipt" and letters[0].status == "pending"
    assert letters[0].to_addr == "resident@example.org"
    assert letters[0].subject == "Re: Leak in my kitchen [CMP-2026-00001]"
    assert letters[0].in_reply_to == "<first@example.org>"
    # received now (SMTP arrival): the letter promises the Code's acknowledgement date, 5 working days on
    from bot import policies
    from bot.core.letters import long_date
    cal = policies.load("hos-code-2024").calendar()
    confirm_by = cal.add(cal.day_zero(dt.datetime.now(UTC)), 5)
    assert "CMP-2026-00001" in letters[0].body_text and long_date(confirm_by) in letters[0].body_text


async def test_unknown_recipient_is_refused_at_rcpt(bot):
    with pytest.raises(smtplib.SMTPRecipientsRefused) as err:
        await send(bot, email_bytes(), rcpts=("someone-else@localhost",))
    assert err.value.recipients["someone-else@localhost"][0] == 550
    assert await rows(bot.factory, m.InboundMessage) == []


async def test_oversized_message_is_refused_with_552(bot):
    big = email_bytes(body="x" * 30_000)
    with pytest.raises(smtplib.SMTPSenderRefused) as err:  # declared with SIZE: refused at MAIL FROM
        await send(bot, big)
    assert err.value.smtp_code == 552

    def undeclared() -> int:  # not declared: refused after DATA (aiosmtpd answers 5xx once it overflows)
        with smtplib.SMTP("127.0.0.1", bot.port, timeout=30) as client:
            client.ehlo()
            client.mail("resident@example.org")
            client.rcpt("complaints@localhost")
            return client.data(big)[0]
    assert await asyncio.to_thread(undeclared) >= 500
    assert await rows(bot.factory, m.InboundMessage) == []


async def test_451_when_the_message_cannot_be_stored(bot):
    async with bot.engine.begin() as conn:
        await conn.execute(text("DROP TABLE quarantine"))
        await conn.execute(text("DROP TABLE inbound_messages"))
    with pytest.raises(smtplib.SMTPDataError) as err:
        await send(bot, email_bytes())
    assert err.value.smtp_code == 451


async def test_redelivery_is_recorded_once(bot):
    raw = email_bytes(message_id="<same@example.org>")
    await send(bot, raw)
    await send(bot, raw)
    assert len(await rows(bot.factory, m.InboundMessage)) == 1
    assert len(await rows(bot.factory, m.Case)) == 1


async def test_machines_are_stored_but_never_answered(bot):
    await send(bot, email_bytes(subject="Automatic reply: away", headers={"Auto-Submitted": "auto-replied"}))
    await send(bot, email_bytes(sender="mailer-daemon@mx.example.org", subject="Undelivered Mail"))
    msgs = await rows(bot.factory, m.InboundMessage)
    assert [(x.role, x.auto_reply, x.case_id) for x in msgs] == [("auto_reply", "auto_submitted", None),
                                                                 ("auto_reply", "daemon_sender", None)]
    assert await rows(bot.factory, m.Case) == [] and await rows(bot.factory, m.Outbox) == []


async def test_replies_thread_onto_their_case_and_a_new_subject_alone_does_not(bot):
    await send(bot, email_bytes(message_id="<orig@example.org>"))
    letter = (await rows(bot.factory, m.Outbox))[0]
    # a reply to our receipt (In-Reply-To our letter), with a different subject
    await send(bot, email_bytes(subject="more photos", message_id="<r1@example.org>",
                                headers={"In-Reply-To": letter.message_id, "References": letter.message_id}))
    # a message quoting the case reference in its body only
    await send(bot, email_bytes(subject="hello", body="About CMP-2026-00001: still leaking.",
                                message_id="<r2@example.org>"))
    # same sender, new subject, no reference: a new case
    await send(bot, email_bytes(subject="Another matter: the lift", message_id="<new@example.org>"))
    cases = await rows(bot.factory, m.Case)
    assert [c.reference for c in cases] == ["CMP-2026-00001", "CMP-2026-00002"]
    msgs = await rows(bot.factory, m.InboundMessage)
    assert [(x.identity, x.role, x.case_id) for x in msgs] == [
        ("<orig@example.org>", "new_case", cases[0].id), ("<r1@example.org>", "correspondence", cases[0].id),
        ("<r2@example.org>", "correspondence", cases[0].id), ("<new@example.org>", "new_case", cases[1].id)]
    events = await rows(bot.factory, m.Event, m.Event.case_id == cases[0].id)
    assert [e.kind for e in events] == ["received", "correspondence", "correspondence"]
    # correspondence gets no receipt letter
    assert len(await rows(bot.factory, m.Outbox)) == 2


async def test_letters_to_one_sender_are_rate_limited_and_never_to_ourselves(bot):
    for i in range(4):
        await send(bot, email_bytes(subject=f"issue {i}", message_id=f"<rate{i}@example.org>"))
    await send(bot, email_bytes(sender="complaints@localhost", subject="loop?", message_id="<loop@example.org>"))
    statuses = [(o.to_addr, o.status) for o in await rows(bot.factory, m.Outbox)]
    assert statuses[:4] == [("resident@example.org", "pending")] * 3 + [("resident@example.org", "suppressed")]
    # our own address is a machine by rule, so it opens no case and gets no letter at all
    assert len(statuses) == 4


async def test_lmtp_answers_once_per_recipient(store, db_url):
    engine, factory = store
    settings = settings_for(db_url, smtp={"lmtp": True, "recipients": ["complaints@localhost", "repairs@localhost"]})
    intake = build_intake(settings, Services(factory))
    server = await start_listener(settings, intake)
    port = server.sockets[0].getsockname()[1]

    def talk() -> list[bytes]:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            f = s.makefile("rwb")
            f.readline()
            lines = []
            for cmd in (b"LHLO test", b"MAIL FROM:<a@example.org>", b"RCPT TO:<complaints@localhost>",
                        b"RCPT TO:<repairs@localhost>", b"DATA"):
                f.write(cmd + b"\r\n")
                f.flush()
                while True:
                    line = f.readline()
                    if line[3:4] != b"-":
                        break
            f.write(email_bytes().replace(b"\n", b"\r\n") + b".\r\n")
            f.flush()
            lines = [f.readline(), f.readline()]
            return lines
    replies = await asyncio.to_thread(talk)
    assert all(r.startswith(b"250 ") for r in replies), replies
    server.close()
    await server.wait_closed()


async def test_sender_delivers_threaded_auto_submitted_letters_and_retries(bot):
    sink, controller = start_sink()
    try:
        raw = email_bytes(message_id="<orig-thread@example.org>", subject="PLACEHOLDER")
        # an encoded word that decodes to CR LF: the classic header-injection attempt
        raw = raw.replace(b"PLACEHOLDER", b"=?utf-8?Q?Damp=0D=0ABcc:_evil@example.org?=")
        await send(bot, raw)
        sender = OutboxSender(bot.factory, Relay("127.0.0.1", controller.port, starttls=False),
                              "complaints@localhost", "Complaints Team", retry_max_seconds=1)
        sink.fail = True
        assert await sender.drain_once() == 0
        [row] = await rows(bot.factory, m.Outbox)
        assert (row.status, row.attempts) == ("pending", 1) and "451" in row.last_error
        async with bot.factory.begin() as session:  # due again now
            (await session.get(m.Outbox, row.id)).next_attempt_at = dt.datetime.now(UTC)
        sink.fail = False
        assert await sender.drain_once() == 1
        mail_from, rcpts, msg = sink.received[0]
        assert rcpts == ["resident@example.org"]
        assert msg["Auto-Submitted"] == "auto-replied" and msg["X-Auto-Response-Suppress"] == "All"
        assert msg["In-Reply-To"] == "<orig-thread@example.org>"
        assert "CMP-2026-00001" in msg["Subject"] and "Bcc" not in msg.keys()
        assert msg.get_body(("plain",)).get_content().startswith("Dear Ann Resident")
        assert msg.get_body(("html",)) is not None
        [row] = await rows(bot.factory, m.Outbox)
        assert row.status == "sent" and row.sent_at is not None
    finally:
        controller.stop()


async def test_decision_queues_the_acknowledgement_and_sending_it_records_the_acknowledgement(bot):
    sink, controller = start_sink()
    try:
        await send(bot, email_bytes(message_id="<decide@example.org>", body="Nobody came to fix the leak twice."))
        decided = dt.datetime(2026, 3, 3, 10, tzinfo=UTC)
        await bot.services.decide("CMP-2026-00001", "complaint", by="Amira (team lead)", at=decided)
        letters = await rows(bot.factory, m.Outbox)
        assert [l.kind for l in letters] == ["receipt", "acknowledgement"]
        assert "Nobody came to fix the leak twice." in letters[1].body_text
        assert "17 March 2026" in letters[1].body_text  # 10 working days after acknowledging on 3 March
        sender = OutboxSender(bot.factory, Relay("127.0.0.1", controller.port, starttls=False),
                              "complaints@localhost", "Complaints Team")
        assert await sender.drain_once() == 2
        shown = await bot.services.show("CMP-2026-00001")
        assert shown["status"] == "acknowledged"
        assert [e["kind"] for e in shown["history"]] == ["received", "decided", "acknowledged"]
        assert shown["clocks"][0]["acknowledged_on"] == dt.datetime.now(UTC).astimezone(
            __import__("zoneinfo").ZoneInfo("Europe/London")).date().isoformat()
    finally:
        controller.stop()


async def test_excluded_decision_letter_explains_why_and_the_ombudsman_right(bot):
    await send(bot, email_bytes(message_id="<excl@example.org>", body="My neighbour plays loud music."))
    await bot.services.decide("CMP-2026-00001", "excluded", reason="time_expired", by="lead")
    letter = (await rows(bot.factory, m.Outbox))[-1]
    assert letter.kind == "decision" and "more than the time our policy allows" in letter.body_text
    assert "Housing Ombudsman" in " ".join(letter.body_text.split())


async def test_forwarded_mail_names_the_resident_and_writes_to_them(bot):
    from pathlib import Path
    raw = (Path(__file__).resolve().parent.parent / "data" / "mail" / "forward_inline_gmail.eml").read_bytes()
    await send(bot, raw)
    [case] = await rows(bot.factory, m.Case)
    assert case.resident_email == "barry.coombes@example.com" and "priya.natarajan" in case.passed_on_by
    assert case.received_at.replace(tzinfo=UTC) == dt.datetime(2026, 3, 2, 7, 15, tzinfo=UTC)
    [letter] = await rows(bot.factory, m.Outbox)
    assert letter.to_addr == "barry.coombes@example.com"
    assert letter.subject == "Re: Rubbish not collected for 3 weeks and nobody listens [CMP-2026-00001]"


async def test_mail_without_from_takes_the_envelope_sender_and_a_null_sender_is_never_answered(bot):
    """Over SMTP we are the final delivery agent: the envelope sender is recorded as Return-Path (RFC 5321
    4.4). A message with no From is the envelope sender's; with the null sender <> it is a bounce."""
    from pathlib import Path
    raw = (Path(__file__).resolve().parent.parent / "data" / "mail" / "no_sender.eml").read_bytes()
    await send(bot, raw, mail_from="tenant@example.org")
    [case] = await rows(bot.factory, m.Case)
    assert case.resident_email == "tenant@example.org"
    bounce = email_bytes(message_id="<bounce-1@example.org>", sender="someone@example.org", subject="Undelivered")
    await send(bot, bounce, mail_from="")
    [stored] = await rows(bot.factory, m.InboundMessage, m.InboundMessage.identity == "<bounce-1@example.org>")
    assert stored.auto_reply == "null_return_path" and stored.case_id is None
    assert stored.raw.startswith(b"Return-Path: <>\r\n") and stored.raw.endswith(bounce)
    assert [o.to_addr for o in await rows(bot.factory, m.Outbox)] == ["tenant@example.org"]  # one receipt only
    await send(bot, email_bytes())
    assert len(await rows(bot.factory, m.Case)) == 2


async def test_with_the_classifier_cases_are_triaged_and_escalations_in_replies_flagged(store, db_url, model):
    from classifiers.runtime import IntakeClassifier
    engine, factory = store
    settings = settings_for(db_url)
    services = Services(factory)
    intake = build_intake(settings, services, IntakeClassifier(model))
    await intake.take_email(email_bytes(message_id="<cls1@example.org>", subject="Leak AGAIN",
                                        body="Third time reporting the leak in my bathroom. Nobody came on "
                                             "Tuesday as promised. I am fed up."), "test")
    [case] = await rows(factory, m.Case)
    assert case.status == "triaged" and case.suggested_label == "complaint"
    assert case.suggestion["suggestion"]["policy"] == "hos-code-2024" and case.suggestion["why"]
    await services.decide(case.reference, "complaint", by="lead")
    await services.transition(case.reference, "acknowledge", by="bot")
    await services.transition(case.reference, "respond", by="manager", outcome="not_upheld")
    result = await intake.take_email(email_bytes(message_id="<cls2@example.org>", subject=f"Re: {case.reference}",
                                                 body="I do not accept your response. Please take my complaint "
                                                      "to stage 2."), "test")
    assert result.kind == "attach" and result.case_reference == case.reference
    shown = await services.show(case.reference)
    assert shown["escalation_flagged"] is True
    assert shown["history"][-1]["kind"] == "escalation_flagged"
