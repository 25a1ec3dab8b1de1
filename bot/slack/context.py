"""What every Slack listener shares: the services, the intake, the Web API client, who may decide."""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.exc import IntegrityError

from storage import models as m
from storage.db import unit_of_work

log = logging.getLogger("bot.slack")


@dataclass
class SlackContext:
    settings: Any
    services: Any
    intake: Any
    client: AsyncWebClient
    notifier: Any = None
    _group_cache: tuple[float, set[str]] = field(default=(0.0, set()))

    @property
    def cfg(self) -> Any:
        return self.settings.slack

    async def is_team_lead(self, user_id: str) -> bool:
        if user_id in self.cfg.team_leads:
            return True
        if not self.cfg.team_lead_group:
            return False
        fetched_at, members = self._group_cache
        if time.monotonic() - fetched_at > 300:
            try:
                resp = await self.client.usergroups_users_list(usergroup=self.cfg.team_lead_group)
                members = set(resp.get("users", []))
            except Exception:  # noqa: BLE001
                log.warning("slack: could not read user group %s", self.cfg.team_lead_group)
            self._group_cache = (time.monotonic(), members)
        return user_id in members

    def who_can_decide(self) -> str:
        people = " ".join(f"<@{u}>" for u in self.cfg.team_leads)
        group = f"<!subteam^{self.cfg.team_lead_group}>" if self.cfg.team_lead_group else ""
        return " ".join(x for x in (people, group) if x) or "the configured team leads (none are set)"

    async def first_time(self, key: str) -> bool:
        """True the first time a Slack event key is seen: Slack retries events, we record each once."""
        try:
            async with unit_of_work(self.services.sessions) as session:
                session.add(m.SlackEvent(key=key[:255], received_at=dt.datetime.now(dt.timezone.utc)))
            return True
        except IntegrityError:
            return False

    async def user_name(self, user_id: str) -> str:
        try:
            resp = await self.client.users_info(user=user_id)
            user = resp.get("user") or {}
            return (user.get("real_name") or user.get("name") or user_id)
        except Exception:  # noqa: BLE001
            return user_id
