"""The triage card's buttons. Only team leads decide; a decision goes through the same service as
`python -m bot cases decide`, then the card is updated in place and the decision posted in its thread."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.core.errors import BotError, ConsentNeeded
from bot.core.letters import long_date

from .. import cards

log = logging.getLogger("bot.slack")
LABELS = {"complaint": "a complaint", "service_request": "a service request", "excluded": "excluded",
          "not_a_case": "not a case"}


def register(app: AsyncApp, ctx: Any) -> None:
    async def decide(body: dict, reference: str, decision: str, reason: str | None = None,
                     consent: bool | None = None) -> None:
        user = body["user"]["id"]
        channel = (body.get("channel") or {}).get("id") or ctx.cfg.triage_channel
        if not await ctx.is_team_lead(user):
            await ctx.client.chat_postEphemeral(channel=channel, user=user,
                                                text=f"Only team leads can decide on cases: {ctx.who_can_decide()}.")
            return
        name = await ctx.user_name(user)
        try:
            case = await ctx.services.decide(reference, decision, by=f"{name} ({user})", reason=reason,
                                             channel="slack", consent=consent)
        except ConsentNeeded:
            shown = await ctx.services.show(reference)
            await ctx.client.chat_postEphemeral(channel=channel, user=user, text="Consent needed",
                                                blocks=cards.consent_prompt(reference, shown["representative"] or "?"))
            return
        except BotError as exc:
            await ctx.client.chat_postEphemeral(channel=channel, user=user, text=f"Not done: {cards.escape(exc)}")
            return
        await ctx.notifier.update_card(reference, user)
        due = ", ".join(f"{k.replace('_', ' ')} by {long_date(_date(v))}" for k, v in case["deadlines"].items() if v)
        what = LABELS[decision] + (f" ({reason.replace('_', ' ')})" if reason else "")
        await ctx.notifier.thread(reference, f"Decided by <@{user}>: {what}." + (f" Due: {due}." if due else "")
                                  + (" Letter queued to the resident." if decision != "not_a_case" else ""))

    for action, decision in (("decide_complaint", "complaint"), ("decide_service_request", "service_request"),
                             ("decide_not_a_case", "not_a_case")):
        def make(decision: str = decision):  # noqa: ANN202
            async def handler(ack: Any, body: dict, action: dict) -> None:
                await ack()
                await decide(body, action["value"], decision)
            return handler
        app.action(action)(make())

    @app.action("decide_complaint_with_consent")
    async def with_consent(ack: Any, body: dict, action: dict) -> None:
        await ack()
        await decide(body, action["value"], "complaint", consent=True)

    @app.action("decide_excluded")
    async def excluded(ack: Any, body: dict, action: dict) -> None:
        await ack()
        reference, reason = action["selected_option"]["value"].split("|", 1)
        await decide(body, reference, "excluded", reason=reason)

    @app.action("open_case")
    async def open_case(ack: Any, body: dict, action: dict) -> None:
        await ack()
        shown = await ctx.services.show(action["value"])
        await ctx.client.views_open(trigger_id=body["trigger_id"], view=cards.case_modal(shown, shown["messages"]))


def _date(value: str):  # noqa: ANN202
    import datetime as dt
    return dt.date.fromisoformat(value)
