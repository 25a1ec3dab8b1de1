"""The Bolt app (async): listeners registered, served over HTTP (/slack/events) or Socket Mode."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from .context import SlackContext
from .listeners import card_actions, complaint_modal, complaints_command, intake_channel, shortcut
from .notifier import SlackNotifier

log = logging.getLogger("bot.slack")


def build(settings: Any, services: Any, intake: Any, process_before_response: bool = False,
          client: AsyncWebClient | None = None) -> tuple[AsyncApp, SlackContext]:
    cfg = settings.slack
    client = client or AsyncWebClient(token=cfg.bot_token(), **({"base_url": cfg.api_base_url} if cfg.api_base_url else {}))
    app = AsyncApp(token=cfg.bot_token(), signing_secret=cfg.signing_secret() or None, client=client,
                   process_before_response=process_before_response, name="complaints-bot")
    ctx = SlackContext(settings=settings, services=services, intake=intake, client=client)
    ctx.notifier = SlackNotifier(ctx)
    for module in (intake_channel, shortcut, complaint_modal, card_actions, complaints_command):
        module.register(app, ctx)
    intake.listeners.append(ctx.notifier.on_intake)
    services.listeners.append(ctx.notifier.on_case_event)
    return app, ctx


class SlackRunner:
    """Socket Mode when SLACK_APP_TOKEN is set (no public URL needed), HTTP mode otherwise."""

    def __init__(self, app: AsyncApp, settings: Any) -> None:
        self.app, self.settings = app, settings
        self.runner: web.AppRunner | None = None
        self.socket: Any = None
        self.port: int | None = None

    async def start(self) -> None:
        cfg = self.settings.slack
        if cfg.app_token():
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
            self.socket = AsyncSocketModeHandler(self.app, cfg.app_token())
            await self.socket.connect_async()
            log.info("slack: Socket Mode connected; cards go to %s; intake channels %s", cfg.triage_channel,
                     ", ".join(cfg.intake_channels) or "none")
            return
        self.runner = web.AppRunner(self.app.web_app(path="/slack/events"))
        await self.runner.setup()
        site = web.TCPSite(self.runner, cfg.http_host, cfg.http_port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        log.info("slack: HTTP mode on http://%s:%d/slack/events (put it behind HTTPS); cards go to %s",
                 cfg.http_host, self.port, cfg.triage_channel)

    async def stop(self) -> None:
        if self.socket is not None:
            await self.socket.close_async()
        if self.runner is not None:
            await self.runner.cleanup()
