"""Message shortcut "Send to complaints triage": any message in a channel the bot is in becomes an inbound
message, with the member of staff who sent it recorded as who passed it on."""

from __future__ import annotations

import datetime as dt
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.core.intake import Inbound

CALLBACK_ID = "send_to_triage"


def register(app: AsyncApp, ctx: Any) -> None:
    @app.shortcut(CALLBACK_ID)
    async def send_to_triage(ack: Any, shortcut: dict) -> None:
        await ack()
        message = shortcut.get("message") or {}
        channel = (shortcut.get("channel") or {}).get("id", "unknown")
        staff = (shortcut.get("user") or {}).get("id", "unknown")
        ts = message.get("ts") or shortcut.get("message_ts")
        msg = Inbound(identity=f"slack:{channel}:{ts}", channel="slack", source=f"slack:{channel}",
                      received_at=dt.datetime.fromtimestamp(float(ts), dt.timezone.utc), text=message.get("text") or "",
                      sender=message.get("user") or staff, forwarded_by=f"slack:{staff}",
                      extra={"slack_channel": channel, "slack_ts": ts, "via": "shortcut"})
        result = await ctx.intake.take(msg, raw=None)
        text = (f"Sent to complaints triage as {result.case_reference}." if result.case_reference and
                result.kind == "new_case" else f"Already with the complaints team ({result.why}).")
        await ctx.client.chat_postEphemeral(channel=channel, user=staff, text=text)
