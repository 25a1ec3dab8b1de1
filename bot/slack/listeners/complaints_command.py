"""/complaints due | overdue | case CMP-2026-00042: answers only the person who asked (ephemeral)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot import policies
from bot.core.errors import NotFound

from .. import cards

USAGE = "Usage: `/complaints due`, `/complaints overdue` or `/complaints case CMP-2026-00042`"


def register(app: AsyncApp, ctx: Any) -> None:
    @app.command("/complaints")
    async def complaints(ack: Any, body: dict, command: dict) -> None:
        await ack()
        words = (command.get("text") or "").split()
        text = await answer(ctx, words)
        await ctx.client.chat_postEphemeral(channel=command["channel_id"], user=command["user_id"], text=text)


async def answer(ctx: Any, words: list[str]) -> str:
    if not words:
        return USAGE
    cal = policies.load(ctx.settings.bot.policy).calendar(ctx.settings.bot.region)
    today = cal.local(dt.datetime.now(dt.timezone.utc)).date()
    if words[0] == "due":
        rows = await ctx.services.list_cases(due_within=3, calendar=cal, today=today)
        rows = [r for r in rows if r["next_due"] and r["next_due"] >= today.isoformat()]
        return "*Due in the next 3 working days*\n" + _lines(rows)
    if words[0] == "overdue":
        rows = await ctx.services.list_cases(due_within=0, calendar=cal, today=today)
        rows = [r for r in rows if r["next_due"] and r["next_due"] < today.isoformat()]
        return "*Overdue*\n" + _lines(rows)
    if words[0] == "case" and len(words) > 1:
        try:
            c = await ctx.services.show(words[1])
        except NotFound:
            return f"No case {cards.escape(words[1])}."
        due = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in c["deadlines"].items() if v) or "none"
        return (f"*{c['reference']}* · {c['status'].replace('_', ' ')} · stage {c['stage']} · {c['policy']}\n"
                f"from {cards.escape(c['sender'])} via {c['channel']} · suggested {c['suggested_label'] or '-'} · "
                f"confirmed {c['confirmed_label'] or '-'}\ndeadlines: {due}"
                + (f"\n:warning: breached: {', '.join(c['breached'])}" if c["breached"] else ""))
    return USAGE


def _lines(rows: list[dict]) -> str:
    if not rows:
        return "none"
    return "\n".join(f"• {r['reference']} · {r['status'].replace('_', ' ')} · due {r['next_due']} · "
                     f"{cards.escape(r['sender'] or '')}" for r in rows[:30])
