"""Posts and updates triage cards and writes case events into each card's thread."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select

from storage import models as m
from storage.db import unit_of_work
from storage.repository import Repository

from . import cards

log = logging.getLogger("bot.slack")

EVENT_TEXT = {
    "acknowledged": ":email: Acknowledgement sent to the resident.",
    "escalation_requested": ":arrow_double_up: Escalation requested: stage {stage} clocks started.",
    "responded": ":memo: Response sent (outcome: {outcome}).",
    "extended": ":hourglass: Response deadline extended by {days} working days: {reason}.",
    "paused": ":double_vertical_bar: Clock paused ({reason}).",
    "resumed": ":arrow_forward: Clock resumed.",
    "closed": ":lock: Case closed.",
    "auto_closed": ":lock: Case closed automatically: no request for the next stage in time.",
    "deadline_breached": ":rotating_light: Deadline breached: {target} (stage {stage}).",
    "holding_response_due": ":hourglass_flowing_sand: Holding response due today (stage {stage}).",
}


class SlackNotifier:
    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx

    async def _case(self, reference: str) -> tuple[dict, str]:
        from bot.service import case_summary
        async with self.ctx.services.sessions() as session:
            repo = Repository(session)
            record = await repo.get(reference)
            text = (await session.execute(select(m.InboundMessage.text).where(
                m.InboundMessage.case_id == record.row.id).order_by(m.InboundMessage.id).limit(1))).scalar()
            return case_summary(record.row), text or ""

    async def post_card(self, reference: str) -> None:
        case, text = await self._case(reference)
        resp = await self.ctx.client.chat_postMessage(
            channel=self.ctx.cfg.triage_channel, text=f"{reference}: new message for triage",
            blocks=cards.triage_card(case, text, self.ctx.cfg.excerpt_chars), unfurl_links=False, unfurl_media=False)
        async with unit_of_work(self.ctx.services.sessions) as session:
            row = (await Repository(session).get(reference)).row
            row.slack_channel, row.slack_ts = resp["channel"], resp["ts"]

    async def update_card(self, reference: str, by_user: str) -> None:
        case, text = await self._case(reference)
        channel, ts = await self._where(reference)
        if not ts:
            return
        await self.ctx.client.chat_update(channel=channel, ts=ts, text=f"{reference}: decided",
                                          blocks=cards.decided_card(case, text, self.ctx.cfg.excerpt_chars, by_user))

    async def _where(self, reference: str) -> tuple[str | None, str | None]:
        async with self.ctx.services.sessions() as session:
            row = (await Repository(session).get(reference)).row
            return row.slack_channel, row.slack_ts

    async def thread(self, reference: str, text: str) -> None:
        channel, ts = await self._where(reference)
        if ts:
            await self.ctx.client.chat_postMessage(channel=channel, thread_ts=ts, text=text, unfurl_links=False)

    # -- listeners ---------------------------------------------------------------------------------
    async def on_intake(self, kind: str, details: dict) -> None:
        reference = details.get("reference")
        if not reference:
            return
        if kind == "new_case":
            await self.post_card(reference)
        elif kind == "attach":
            msg = details.get("message")
            who = cards.escape(getattr(msg, "sender", "") or "someone")
            await self.thread(reference, f":incoming_envelope: Reply from {who} ({getattr(msg, 'channel', '')})."
                              + (" :arrow_double_up: *It asks to escalate.*" if details.get("escalation") else ""))

    async def on_case_event(self, kind: str, details: dict) -> None:
        reference = details.get("reference")
        event = details.get("event")
        if kind == "decided" or not reference or event is None:
            return
        template = EVENT_TEXT.get(kind)
        if template:
            data = {k: cards.escape(v) for k, v in (event.data or {}).items()}
            await self.thread(reference, template.format_map(_Default(data)))

    async def on_letter(self, kind: str, details: dict) -> None:
        if details.get("kind") != "acknowledgement" or not details.get("case_id"):
            return
        async with self.ctx.services.sessions() as session:
            case = await session.get(m.Case, details["case_id"])
            reference = case.reference if case else None
        if reference:
            await self.thread(reference, EVENT_TEXT["acknowledged"])


class _Default(dict):
    def __missing__(self, key: str) -> str:
        return "?"
