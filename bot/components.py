"""Starts each adapter that is configured and says, one line each, what is on and what is off."""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack

from .service import Services
from .settings import Settings

log = logging.getLogger("bot")


async def start_components(settings: Settings, services: Services, stack: AsyncExitStack,
                           stop: asyncio.Event) -> None:
    if settings.smtp.enabled:
        from .mail.smtp import start_listener
        server = await start_listener(settings, services)
        stack.push_async_callback(server.close)
    else:
        log.info("smtp: off (smtp.enabled = false)")

    if settings.imap.mailboxes:
        log.info("imap: not started: the IMAP reader is not built yet")
    else:
        log.info("imap: off (no [[imap.mailboxes]] configured)")

    if settings.relay.host:
        log.info("outbound relay: not started: the sender is not built yet")
    else:
        log.info("outbound relay: off (relay.host not set): letters stay in the outbox (python -m bot outbox)")

    if settings.slack.configured:
        log.info("slack: not started: the Slack app is not built yet")
    else:
        log.info("slack: off (set SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET or SLACK_APP_TOKEN, and slack.triage_channel)")
