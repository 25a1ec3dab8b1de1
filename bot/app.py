"""Composition root: settings in, adapters wired to the services, tasks started, SIGINT/SIGTERM drain.

Logs one line per component: what started and where, or what is off because it is not configured.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from contextlib import AsyncExitStack
from typing import Any, Callable

from storage.db import make_engine, migrate, sessions

from . import logs
from .core.errors import ConfigError
from .service import Services
from .settings import Settings

log = logging.getLogger("bot")


def _describe_db(url: str) -> str:
    if url.startswith("sqlite"):
        return f"SQLite file {url.split('///', 1)[-1]}"
    return "PostgreSQL at " + url.split("@", 1)[-1]


async def run_forever(settings: Settings, on_ready: Callable[[Any], None] | None = None,
                      stop: asyncio.Event | None = None) -> int:
    """Run until SIGINT/SIGTERM (or `stop` is set); returns the process exit code."""
    logs.setup(settings.bot.log_level, settings.bot.log_format)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread (tests)
            pass

    missing = settings.missing_secrets()
    if missing:
        raise ConfigError("not set in the environment: " + ", ".join(missing))
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.database_url)
    revision = await migrate(engine)
    log.info("database: %s, schema at revision %s", _describe_db(settings.database_url), revision)
    services = Services(sessions(engine))

    from .components import start_components
    async with AsyncExitStack() as stack:
        running = await start_components(settings, services, stack, stop)
        log.info("bot: running with policy %s; stop with Ctrl-C or SIGTERM", settings.bot.policy)
        if on_ready is not None:
            on_ready(running)
        await stop.wait()
        log.info("bot: stopping")
    await engine.dispose()
    log.info("bot: stopped cleanly")
    return 0
