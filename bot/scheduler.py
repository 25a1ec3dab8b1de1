"""Scheduled jobs, each run once per period (a unique row per job and period in job_runs, so several workers
never run the same job twice): the Slack digest each working day, deadline checks, auto-close."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import socket
from typing import Any, Awaitable, Callable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from storage import models as m
from storage.db import unit_of_work
from storage.repository import Repository

from . import policies
from .core.calendar import WorkingCalendar

log = logging.getLogger("bot.scheduler")
WORKER = f"{socket.gethostname()}:{os.getpid()}"


async def claim(sessions: Any, job: str, period: str) -> bool:
    """True for the one worker that records (job, period) first."""
    try:
        async with unit_of_work(sessions) as session:
            session.add(m.JobRun(job=job, period=period, owner=WORKER))
        return True
    except IntegrityError:
        return False


async def digest_sections(services: Any, calendar: WorkingCalendar, today: dt.date) -> dict[str, list[dict]]:
    """What the morning digest lists: due soon, holding responses due, overdue, suggestions waiting > 1 day."""
    soon = calendar.add(calendar.on_or_after(today), 3)
    out: dict[str, list[dict]] = {"due": [], "holding": [], "overdue": [], "unconfirmed": []}
    async with services.sessions() as session:
        rows = (await session.execute(select(m.Case).where(m.Case.status.in_(
            ("received", "triaged", "complaint", "escalation_requested", "acknowledged"))))).scalars().all()
        clocks = {(c.case_id, c.stage): c for c in (await session.execute(select(m.Clock))).scalars()}
    for row in rows:
        if row.status in ("received", "triaged"):
            created = row.created_at.replace(tzinfo=dt.timezone.utc) if row.created_at.tzinfo is None else row.created_at
            if dt.datetime.now(dt.timezone.utc) - created > dt.timedelta(days=1):
                out["unconfirmed"].append({"reference": row.reference, "status": row.status,
                                           "detail": f"suggested {row.suggested_label or '-'}"})
            continue
        if row.next_due is None:
            continue
        item = {"reference": row.reference, "status": row.status, "detail": f"due {row.next_due.isoformat()}"}
        if row.next_due < today:
            out["overdue"].append(item)
        elif row.next_due <= soon:
            out["due"].append(item)
        clock = clocks.get((row.id, row.stage))
        holding = (clock.deadlines or {}).get("holding_response") if clock else None
        if holding and today <= dt.date.fromisoformat(holding) <= soon:
            out["holding"].append({**item, "detail": f"holding response by {holding}"})
    return out


class Scheduler:
    def __init__(self, settings: Any, services: Any, post_digest: Callable[[str, list[dict]], Awaitable[None]] | None,
                 clock: Callable[[], dt.datetime] | None = None) -> None:
        self.settings, self.services, self.post_digest = settings, services, post_digest
        self.calendar = policies.load(settings.bot.policy).calendar(settings.bot.region)
        self.now = clock or (lambda: dt.datetime.now(dt.timezone.utc))

    async def tick(self) -> list[str]:
        """Run what is due now; returns the jobs that ran (for tests and logs)."""
        ran = []
        local = self.calendar.local(self.now())
        today = local.date()
        if self.post_digest and self.calendar.is_working_day(today) and local.time() >= self.settings.slack.digest_time:
            if await claim(self.services.sessions, "digest", today.isoformat()):
                from .slack.cards import digest
                sections = await digest_sections(self.services, self.calendar, today)
                await self.post_digest(f"Complaints digest {today.isoformat()}", digest(today.isoformat(), sections))
                ran.append("digest")
        week = f"{today.isocalendar()[0]}-W{today.isocalendar()[1]:02d}"
        first_working_day = self.calendar.on_or_after(today - dt.timedelta(days=today.weekday()))
        if (self.post_digest and today == first_working_day and local.time() >= self.settings.slack.digest_time
                and await claim(self.services.sessions, "weekly_summary", week)):
            await self.post_digest(*await self.weekly_summary(today))
            ran.append("weekly_summary")
        if await claim(self.services.sessions, "auto_close", today.isoformat()):
            closed = await self.auto_close(today)
            log.info("scheduler: auto-close closed %d case(s)", closed)
            ran.append("auto_close")
        if self.settings.retention.enabled and await claim(self.services.sessions, "retention", today.isoformat()):
            from .privacy import anonymise_closed
            await anonymise_closed(self.services.sessions, self.settings.retention.closed_case_days, today)
            ran.append("retention")
        if self.calendar.is_working_day(today) and await claim(self.services.sessions, "deadline_watch",
                                                                today.isoformat()):
            notes = await self.deadline_watch(today)
            log.info("scheduler: deadline watch: %d breach(es), %d holding response(s) due", *notes)
            ran.append("deadline_watch")
        return ran

    async def deadline_watch(self, today: dt.date) -> tuple[int, int]:
        """Record (once) each breached deadline and each holding response due today, and tell listeners
        (Slack posts them in the card's thread)."""
        from .core.lifecycle import Event
        async with self.services.sessions() as session:
            refs = (await session.execute(select(m.Case.reference).where(m.Case.status.in_(
                ("complaint", "escalation_requested", "acknowledged"))))).scalars().all()
        breaches = holding = 0
        for ref in refs:
            async with unit_of_work(self.services.sessions) as session:
                repo = Repository(session)
                record = await repo.get(ref, for_update=True)
                seen = {(e.kind, e.data.get("target"), e.data.get("stage"))
                        for e in await repo.events(record.row.id)}
                new = []
                for target in record.case.breaches(today):
                    if ("deadline_breached", target, record.case.stage) not in seen:
                        new.append(Event("deadline_breached", self.now(), data={"target": target,
                                                                                  "stage": record.case.stage}))
                due = record.case.deadlines().get("holding_response")
                if due == today and ("holding_response_due", "holding_response", record.case.stage) not in seen:
                    new.append(Event("holding_response_due", self.now(),
                                     data={"target": "holding_response", "stage": record.case.stage}))
                if new:
                    await repo.save(record, new)
            for event in new:
                breaches += event.kind == "deadline_breached"
                holding += event.kind == "holding_response_due"
                await self.services._notify(event.kind, {"reference": ref, "event": event})
        return breaches, holding

    async def weekly_summary(self, today: dt.date) -> tuple[str, list[dict]]:
        """Last week's figures (Monday to Sunday) for the triage channel."""
        from .reports import build
        monday = today - dt.timedelta(days=today.weekday() + 7)
        sunday = monday + dt.timedelta(days=6)
        r = await build(self.services.sessions, monday, sunday, self.settings.bot.homes, self.settings.bot.region)
        t, v = r["tsm"], r["volumes"]
        pct = lambda x: "-" if x is None else f"{100 * x:.0f}%"  # noqa: E731
        text = (f"*Complaints last week* ({monday.isoformat()} to {sunday.isoformat()})\n"
                f"• {v['messages_opening_cases']} new cases: " +
                ", ".join(f"{k.replace('_', ' ')} {n}" for k, n in v["by_confirmed_label"].items()) + "\n"
                f"• stage 1 received {t['stage1_received']}, answered {t['stage1_answered']} "
                f"({pct(t['CH02_stage1_within_code_timescales'])} within the Code's timescales)\n"
                f"• stage 2 received {t['stage2_received']}, answered {t['stage2_answered']} "
                f"({pct(t['CH02_stage2_within_code_timescales'])} within the Code's timescales)\n"
                f"• urgent hazards {r['urgent_hazards']['count']}")
        return "Complaints: weekly summary", [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]

    async def auto_close(self, today: dt.date) -> int:
        """Close answered cases whose window for the next stage has passed (per each case's policy)."""
        async with self.services.sessions() as session:
            refs = (await session.execute(select(m.Case.reference).where(m.Case.status == "responded"))).scalars().all()
        closed = 0
        for ref in refs:
            async with unit_of_work(self.services.sessions) as session:
                repo = Repository(session)
                record = await repo.get(ref, for_update=True)
                due = record.case.auto_close_due()
                if due is not None and today >= due and record.case.status == "responded":
                    event = record.case.close(self.now(), by="bot", channel="system", automatic=True)
                    await repo.save(record, [event])
                    closed += 1
                else:
                    continue
            await self.services._notify("auto_closed", {"reference": ref, "event": event})
        return closed

    async def run(self, stop: asyncio.Event, every: float = 60.0) -> None:
        while not stop.is_set():
            try:
                await self.tick()
            except Exception:  # noqa: BLE001 - the scheduler never dies
                log.exception("scheduler tick failed")
            try:
                await asyncio.wait_for(stop.wait(), timeout=every)
            except asyncio.TimeoutError:
                pass
