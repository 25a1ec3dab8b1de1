"""Messages people post in the intake channel(s) become inbound messages; replies in a card's thread become
notes on its case. Bot messages are ignored, an edit before triage updates the text, a deletion is recorded
but deletes nothing."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from sqlalchemy import select

from storage import models as m
from storage.db import unit_of_work
from storage.repository import Repository

from bot.core.intake import Inbound
from bot.core.lifecycle import Event

log = logging.getLogger("bot.slack")


def _when(ts: str) -> dt.datetime:
    return dt.datetime.fromtimestamp(float(ts), dt.timezone.utc)


def register(app: AsyncApp, ctx: Any) -> None:
    @app.event("message")
    async def on_message(event: dict, body: dict) -> None:
        if not await ctx.first_time(body.get("event_id") or f"{event.get('channel')}:{event.get('ts')}"):
            return
        subtype = event.get("subtype")
        channel = event.get("channel")
        if subtype == "message_changed":
            await _edited(ctx, channel, event.get("message") or {})
            return
        if subtype == "message_deleted":
            await _deleted(ctx, channel, event.get("deleted_ts") or (event.get("previous_message") or {}).get("ts"))
            return
        if event.get("bot_id") or subtype in ("bot_message", "channel_join", "channel_leave", "channel_topic"):
            return
        if channel == ctx.cfg.triage_channel and event.get("thread_ts") and event.get("thread_ts") != event.get("ts"):
            await _note(ctx, event)
            return
        if channel in ctx.cfg.intake_channels and not event.get("thread_ts"):
            user = event.get("user") or "unknown"
            msg = Inbound(identity=f"slack:{channel}:{event['ts']}", channel="slack", source=f"slack:{channel}",
                          received_at=_when(event["ts"]), text=event.get("text") or "", sender=user,
                          sender_name=None, forwarded_by=f"slack:{user}", subject=None,
                          extra={"slack_channel": channel, "slack_ts": event["ts"]})
            await ctx.intake.take(msg, raw=None)


async def _edited(ctx: Any, channel: str, message: dict) -> None:
    identity = f"slack:{channel}:{message.get('ts')}"
    async with unit_of_work(ctx.services.sessions) as session:
        row = await Repository(session).message_by_identity(identity)
        if row is None:
            return
        case = await session.get(m.Case, row.case_id) if row.case_id else None
        if case is not None and case.status in ("received", "triaged"):
            row.text = message.get("text") or ""
            session.add(m.Event(case_id=case.id, kind="source_edited", at=dt.datetime.now(dt.timezone.utc),
                                actor=message.get("user") or "unknown", channel="slack", data={"message": row.id}))
        elif case is not None:
            session.add(m.Event(case_id=case.id, kind="source_edited_after_triage",
                                at=dt.datetime.now(dt.timezone.utc), actor=message.get("user") or "unknown",
                                channel="slack", data={"message": row.id, "new_text_kept": False}))


async def _deleted(ctx: Any, channel: str, ts: str | None) -> None:
    if not ts:
        return
    async with unit_of_work(ctx.services.sessions) as session:
        row = await Repository(session).message_by_identity(f"slack:{channel}:{ts}")
        if row is not None and row.case_id:
            session.add(m.Event(case_id=row.case_id, kind="source_deleted", at=dt.datetime.now(dt.timezone.utc),
                                actor="slack", channel="slack", data={"message": row.id, "record_kept": True}))


async def _note(ctx: Any, event: dict) -> None:
    """A reply in the thread of a case's card: a note on that case."""
    async with unit_of_work(ctx.services.sessions) as session:
        case = (await session.execute(select(m.Case).where(m.Case.slack_ts == event["thread_ts"]))).scalar_one_or_none()
        if case is None:
            return
        repo = Repository(session)
        row = await repo.add_message(identity=f"slack:{event['channel']}:{event['ts']}", channel="slack",
                                     source=f"slack:{event['channel']}", sender=event.get("user"),
                                     received_at=_when(event["ts"]), text=event.get("text") or "", role="note",
                                     case_id=case.id)
        record = await repo.get_by_id(case.id)
        await repo.save(record, [Event("note", dt.datetime.now(dt.timezone.utc), actor=event.get("user") or "unknown",
                                       channel="slack", data={"message": row.id})])
