"""Data protection: retention anonymises closed cases but keeps report figures; a subject access export has
everything about one person; logs at INFO carry no message bodies or addresses."""

import datetime as dt
import json
import logging

from sqlalchemy import select

from bot import reports
from bot.components import build_intake
from bot.privacy import anonymise_closed, subject_access
from bot.service import Services
from storage import models as m
from tests.helpers import email_bytes, settings_for

UTC = dt.timezone.utc
SECRET_TEXT = "my daughter Keziah has asthma and the mould is behind her bed"


async def test_retention_and_subject_access(store, db_url, tmp_path):
    engine, factory = store
    services = Services(factory)
    intake = build_intake(settings_for(db_url), services)
    raw = email_bytes(sender="ruth.h@example.org", name="Ruth Hollis", body=SECRET_TEXT, message_id="<p1@example.org>")
    r1 = await intake.take_email(raw, "smtp")
    r2 = await intake.take_email(email_bytes(sender="other@example.org", message_id="<p2@example.org>"), "smtp")
    await services.decide(r1.case_reference, "excluded", reason="time_expired", by="lead")
    await services.transition(r1.case_reference, "close", by="lead")

    folder = tmp_path / "sar"
    counts = await subject_access(factory, "Ruth.H@example.org", folder)
    assert counts == {"cases": 1, "messages": 1, "letters": 2}
    assert (folder / "message-1.eml").read_bytes() == raw
    case_json = json.loads((folder / f"{r1.case_reference}.json").read_text())
    assert [h["kind"] for h in case_json["history"]] == ["received", "decided", "closed"]
    assert "other@example.org" not in "".join(p.read_text() for p in folder.glob("*.json"))

    before = await reports.build(factory, dt.date(2020, 1, 1), dt.date(2030, 1, 1), 1000, None)
    result = await anonymise_closed(factory, 0, today=dt.date.today() + dt.timedelta(days=1))
    assert result["cases"] == 1 and result["messages"] == 1
    async with factory() as s:
        case = (await s.execute(select(m.Case).where(m.Case.reference == r1.case_reference))).scalar_one()
        msg = (await s.execute(select(m.InboundMessage).where(m.InboundMessage.case_id == case.id))).scalar_one()
        other = (await s.execute(select(m.Case).where(m.Case.reference == r2.case_reference))).scalar_one()
    assert case.resident_email is None and case.resident_name is None and case.anonymised_at is not None
    assert msg.raw is None and SECRET_TEXT not in (msg.text or "") and msg.sender is None
    assert (case.confirmed_label, case.confirmed_reason) == ("excluded", "time_expired")  # figures kept
    assert other.resident_email == "other@example.org"  # open cases untouched
    after = await reports.build(factory, dt.date(2020, 1, 1), dt.date(2030, 1, 1), 1000, None)
    assert after["volumes"] == before["volumes"]
    assert await anonymise_closed(factory, 0, today=dt.date.today() + dt.timedelta(days=1)) == \
        {"cases": 0, "messages": 0, "letters": 0, "events": 0}


async def test_info_logs_never_contain_bodies_or_addresses(store, db_url, caplog):
    engine, factory = store
    services = Services(factory)
    intake = build_intake(settings_for(db_url), services)
    caplog.set_level(logging.INFO)
    await intake.take_email(email_bytes(sender="ruth.h@example.org", name="Ruth Hollis", body=SECRET_TEXT,
                                        subject="Mould behind Keziah's bed"), "smtp")
    await intake.take_email(b"Subject: broken\r\n\r\n" + SECRET_TEXT.encode(), "smtp")  # quarantined
    logged = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.INFO)
    assert logged  # something was logged
    assert "ruth.h@example.org" not in logged and "Ruth Hollis" not in logged
    assert "Keziah" not in logged and "asthma" not in logged
