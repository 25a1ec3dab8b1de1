"""Data protection: anonymise closed cases after the retention period, and export everything held about one
person (a subject access request). Figures for reports survive anonymisation: labels, reasons, dates and clocks
stay; names, addresses, contact details and what people wrote go."""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select, update

from storage import models as m
from storage.db import unit_of_work
from storage.repository import aware

log = logging.getLogger("bot.privacy")
REMOVED = "[removed]"


async def anonymise_closed(sessions: Any, older_than_days: int, today: dt.date | None = None) -> dict[str, int]:
    """Anonymise cases closed more than `older_than_days` ago (and their messages, letters and events)."""
    today = today or dt.date.today()
    cutoff = today - dt.timedelta(days=older_than_days)
    counts = {"cases": 0, "messages": 0, "letters": 0, "events": 0}
    async with unit_of_work(sessions) as session:
        ids = list((await session.execute(select(m.Case.id).where(
            m.Case.status == "closed", m.Case.closed_on.is_not(None), m.Case.closed_on < cutoff,
            m.Case.anonymised_at.is_(None)))).scalars())
        if not ids:
            return counts
        now = dt.datetime.now(dt.timezone.utc)
        counts["cases"] = (await session.execute(update(m.Case).where(m.Case.id.in_(ids)).values(
            resident_name=None, resident_email=None, resident_contact=None, resident_address=None,
            representative_name=None, passed_on_by=None, subject=None, anonymised_at=now,
            suggestion=None))).rowcount
        counts["messages"] = (await session.execute(update(m.InboundMessage).where(
            m.InboundMessage.case_id.in_(ids)).values(
            sender=None, reply_to=None, complainant=None, forwarded_by=None, subject=None, text=REMOVED,
            quoted=None, signature=None, headers=None, attachments=None, raw=None))).rowcount
        counts["letters"] = (await session.execute(update(m.Outbox).where(m.Outbox.case_id.in_(ids)).values(
            to_addr=REMOVED, to_name=None, subject=REMOVED, body_text=REMOVED, body_html=None))).rowcount
        events = (await session.execute(select(m.Event).where(m.Event.case_id.in_(ids)))).scalars().all()
        for e in events:
            data = dict(e.data or {})
            for key in ("subject", "why", "message_text"):
                data.pop(key, None)
            e.data = data
        counts["events"] = len(events)
    log.info("retention: anonymised %d case(s) closed before %s (%d messages, %d letters, %d events)",
             counts["cases"], cutoff, counts["messages"], counts["letters"], counts["events"])
    return counts


async def subject_access(sessions: Any, address: str, folder: Path) -> dict[str, int]:
    """Everything held about `address`: its cases (summary, clocks, history), messages with the raw .eml,
    and letters, as JSON files and the original emails in `folder`."""
    from .service import case_summary
    address = address.strip().lower()
    folder.mkdir(parents=True, exist_ok=True)
    async with sessions() as session:
        msgs = list((await session.execute(select(m.InboundMessage).where(or_(
            m.InboundMessage.sender == address, m.InboundMessage.complainant == address,
            m.InboundMessage.reply_to == address)).order_by(m.InboundMessage.id))).scalars())
        case_ids = {x.case_id for x in msgs if x.case_id}
        case_ids |= set((await session.execute(select(m.Case.id).where(m.Case.resident_email == address))).scalars())
        from sqlalchemy.orm import selectinload
        cases = list((await session.execute(select(m.Case).options(selectinload(m.Case.clocks))
                                            .where(m.Case.id.in_(case_ids)).order_by(m.Case.id))).scalars())
        all_msgs = {x.id: x for x in msgs}
        if case_ids:
            for x in (await session.execute(select(m.InboundMessage).where(
                    m.InboundMessage.case_id.in_(case_ids)))).scalars():
                all_msgs[x.id] = x
        letters = list((await session.execute(select(m.Outbox).where(or_(
            m.Outbox.to_addr == address, m.Outbox.case_id.in_(case_ids))).order_by(m.Outbox.id))).scalars())
        events = list((await session.execute(select(m.Event).where(m.Event.case_id.in_(case_ids))
                                             .order_by(m.Event.id))).scalars())
    for case in cases:
        summary = case_summary(case)
        summary["history"] = [{"at": aware(e.at).isoformat(), "kind": e.kind, "actor": e.actor, "channel": e.channel,
                               "data": e.data} for e in events if e.case_id == case.id]
        (folder / f"{case.reference}.json").write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
    messages_out = []
    for msg in sorted(all_msgs.values(), key=lambda x: x.id):
        entry = {"id": msg.id, "channel": msg.channel, "source": msg.source, "sender": msg.sender,
                 "complainant": msg.complainant, "subject": msg.subject,
                 "received_at": aware(msg.received_at).isoformat(), "role": msg.role, "text": msg.text,
                 "attachments": msg.attachments, "case_id": msg.case_id}
        if msg.raw:
            name = f"message-{msg.id}.eml"
            (folder / name).write_bytes(msg.raw)
            entry["raw_file"] = name
        messages_out.append(entry)
    (folder / "messages.json").write_text(json.dumps(messages_out, indent=2, default=str), encoding="utf-8")
    (folder / "letters.json").write_text(json.dumps([
        {"id": x.id, "kind": x.kind, "to": x.to_addr, "subject": x.subject, "status": x.status,
         "sent_at": x.sent_at.isoformat() if x.sent_at else None, "text": x.body_text} for x in letters],
        indent=2), encoding="utf-8")
    return {"cases": len(cases), "messages": len(messages_out), "letters": len(letters)}
