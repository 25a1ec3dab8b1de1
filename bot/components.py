"""Wires the adapters to the services and starts what is configured, one log line each: on or off, and where."""

from __future__ import annotations

import asyncio
import logging
import threading
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

from .intake import Intake
from .letters import decision_letter_hook
from .outbox import LetterConfig
from .service import Services
from .settings import Settings

log = logging.getLogger("bot")


@dataclass
class Running:
    """What `start_components` started, for tests and for a clean stop."""

    intake: Intake
    smtp_server: Any = None
    sender: Any = None
    readers: list[Any] = field(default_factory=list)
    slack: Any = None
    tasks: list[asyncio.Task] = field(default_factory=list)


def load_classifier(settings: Settings) -> Any:
    """The classifier adapter, or None (intake still records messages, with the suggestion left empty)."""
    try:
        from classifiers.runtime import load_classifier as load
    except ImportError:
        log.info("classifier: off (not installed); messages are recorded without a suggestion")
        return None
    return load(settings)


def build_intake(settings: Settings, services: Services, classifier: Any = None) -> Intake:
    letters = LetterConfig.from_settings(settings)
    services.after_decision = [decision_letter_hook(letters)]
    return Intake(services.sessions, services, letters, default_policy=settings.bot.policy,
                  region=settings.bot.region, classifier=classifier,
                  max_attachment_bytes=settings.attachments.max_bytes)


async def start_components(settings: Settings, services: Services, stack: AsyncExitStack,
                           stop: asyncio.Event) -> Running:
    intake = build_intake(settings, services, load_classifier(settings))
    running = Running(intake=intake)

    if settings.smtp.enabled:
        from .mail.smtp import start_listener
        running.smtp_server = await start_listener(settings, intake)

        async def close_smtp() -> None:
            running.smtp_server.close()
            await running.smtp_server.wait_closed()
        stack.push_async_callback(close_smtp)
    else:
        log.info("smtp: off (smtp.enabled = false)")

    if settings.relay.host:
        from .mail.sender import OutboxSender, Relay
        relay = Relay(settings.relay.host, settings.relay.port, starttls=settings.relay.starttls,
                      use_ssl=settings.relay.ssl, username=settings.relay.username,
                      password=settings.relay.password(),
                      timeout=min(30.0, settings.relay.claim_seconds / 2))  # per SMTP command; the lease is renewed
        sender = running.sender = OutboxSender(services.sessions, relay, settings.relay.from_address,
                                               settings.relay.from_name, settings.relay.retry_max_seconds,
                                               claim_seconds=settings.relay.claim_seconds,
                                               max_per_sender=settings.relay.max_letters_per_sender,
                                               window_hours=settings.relay.rate_window_hours)
        running.tasks.append(asyncio.create_task(sender.run(stop), name="outbox-sender"))
        wake = lambda kind, details: _wake(sender)  # noqa: E731 - new letters go out at once
        intake.listeners.append(wake)
        log.info("outbound relay: sending letters via %s:%d (%s) as %s", settings.relay.host, settings.relay.port,
                 "SSL" if settings.relay.ssl else ("STARTTLS" if settings.relay.starttls else "plain"),
                 settings.relay.from_address)
    else:
        log.info("outbound relay: off (relay.host not set): letters stay in the outbox (python -m bot outbox)")

    if settings.imap.mailboxes:
        from .mail.imap import MailboxReader
        halt = threading.Event()
        loop = asyncio.get_running_loop()
        from .leases import acquire
        for mailbox in settings.imap.mailboxes:
            lease = (lambda name=mailbox.name: acquire(services.sessions, f"imap:{name}", settings.bot.lease_seconds))
            reader = MailboxReader(mailbox, intake, services.sessions, loop, halt, lease=lease,
                                   lease_seconds=settings.bot.lease_seconds)
            reader.start()
            running.readers.append(reader)
            log.info("imap %s: reading %s@%s:%d folder %s", mailbox.name, mailbox.username, mailbox.host,
                     mailbox.port, mailbox.folder)

        async def stop_readers() -> None:
            halt.set()
            for r in running.readers:
                await asyncio.to_thread(r.thread.join, 10)
        stack.push_async_callback(stop_readers)
    else:
        log.info("imap: off (no [[imap.mailboxes]] configured)")

    post_digest = None
    if settings.slack.configured:
        from .slack.app import SlackRunner, build
        app, ctx = build(settings, services, intake)
        if running.sender is not None:
            running.sender.listeners.append(ctx.notifier.on_letter)
        running.slack = SlackRunner(app, settings)
        await running.slack.start()
        stack.push_async_callback(running.slack.stop)

        async def post_digest(text: str, blocks: list) -> None:
            await ctx.client.chat_postMessage(channel=settings.slack.triage_channel, text=text, blocks=blocks)
    else:
        missing = [name for name, ok in (("SLACK_BOT_TOKEN", settings.slack.bot_token()),
                                         ("SLACK_SIGNING_SECRET or SLACK_APP_TOKEN",
                                          settings.slack.signing_secret() or settings.slack.app_token()),
                                         ("slack.triage_channel", settings.slack.triage_channel)) if not ok]
        log.info("slack: off (not configured: %s)", ", ".join(missing))

    from . import metrics
    intake.listeners.append(metrics.on_intake)
    services.listeners.append(metrics.on_case_event)
    if running.sender is not None:
        running.sender.listeners.append(metrics.on_letter)
    if settings.metrics.port:
        port = metrics.serve(settings.metrics.host, settings.metrics.port)
        log.info("metrics: Prometheus counters on http://%s:%d/metrics", settings.metrics.host, port)
    else:
        log.info("metrics: off (metrics.port = 0)")

    from .scheduler import Scheduler
    scheduler = Scheduler(settings, services, post_digest)
    running.tasks.append(asyncio.create_task(scheduler.run(stop), name="scheduler"))
    log.info("scheduler: daily digest %s, auto-close of answered cases once a day",
             f"at {settings.slack.digest_time:%H:%M} on working days" if post_digest else "off (no Slack)")

    async def cancel_tasks() -> None:
        for task in running.tasks:
            task.cancel()
        await asyncio.gather(*running.tasks, return_exceptions=True)
    stack.push_async_callback(cancel_tasks)
    return running


async def _wake(sender: Any) -> None:
    sender.wake.set()
