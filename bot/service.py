"""Application services: the use cases the CLI, the mail worker and Slack share, one unit of work each.

The rules live in the core (lifecycle, clocks, triage, intake); this module loads and saves through the
repository, so `python -m bot cases decide` and a Slack button run the same code.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Awaitable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import models as m
from storage.db import unit_of_work
from storage.repository import CaseRecord, NewCase, Repository, aware

from .core.calendar import WorkingCalendar
from .core.lifecycle import Case, Event
from .core.policy import Policy

Hook = Callable[[Repository, CaseRecord, Event], Awaitable[None]]


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def new_case(reference: str, *, policy: Policy, channel: str, received_at: dt.datetime, region: str | None = None,
             events: list[Event] | None = None, suggestion_args: tuple | None = None,
             **fields: Any) -> tuple[Case, list[Event]]:
    """A new case and its opening events (received; the classifier's suggestion when there is one): no I/O."""
    case = Case(reference=reference, policy=policy, received_at=received_at, region=region,
                representative=fields.get("representative"),
                representative_consent=bool(fields.get("representative_consent", False)))
    opened = Event("received", now(), actor=fields.get("passed_on_by") or "bot", channel=channel,
                   data={"received_at": received_at.isoformat(), "policy": policy.id})
    more = list(events or [])
    if suggestion_args is not None:
        label, reason, why, confidence, needs_review = suggestion_args
        more.append(case.suggest(label, reason, now(), why=why, confidence=confidence, needs_review=needs_review))
    return case, [opened, *more]


@dataclass
class Services:
    """The use cases, bound to one database; `after_decision` hooks queue letters and notify Slack."""

    sessions: async_sessionmaker[AsyncSession]
    after_decision: list[Hook] | None = None
    # told after a change commits: (kind, {"reference", "event", "case"}); Slack posts in the card's thread
    listeners: list[Callable[[str, dict], Awaitable[None]]] = field(default_factory=list)

    async def _notify(self, kind: str, details: dict) -> None:
        for listener in self.listeners:
            try:
                await listener(kind, details)
            except Exception:  # noqa: BLE001 - a notifier failing never undoes a committed change
                logging.getLogger("bot").exception("listener failed after %s", kind)

    async def open_case(self, repo: Repository, *, policy: Policy, channel: str, received_at: dt.datetime,
                        region: str | None = None, events: list[Event] | None = None,
                        suggestion_args: tuple | None = None, reference: str | None = None,
                        **fields: Any) -> CaseRecord:
        """A new case with the next reference (and the classifier's suggestion, when there is one), inside the
        caller's unit of work."""
        if reference is None:
            reference = await repo.next_reference(policy.calendar(region).local(received_at).year)
        case, opened = new_case(reference, policy=policy, channel=channel, received_at=received_at, region=region,
                                events=events, suggestion_args=suggestion_args, **fields)
        ids = await repo.insert_cases([NewCase(case, opened, {"channel": channel, **fields})])
        return await repo.get_by_id(ids[reference])

    async def decide(self, reference: str, decision: str, by: str, reason: str | None = None,
                     channel: str = "cli", consent: bool | None = None, at: dt.datetime | None = None) -> dict:
        async with unit_of_work(self.sessions) as session:
            repo = Repository(session)
            record = await repo.get(reference, for_update=True)
            event = record.case.decide(decision, by=by, at=at or now(), reason=reason, channel=channel,
                                       consent=consent)
            await repo.save(record, [event])
            for hook in self.after_decision or []:
                await hook(repo, record, event)
            summary = case_summary(record.row)
        await self._notify("decided", {"reference": summary["reference"], "event": event, "case": summary})
        return summary

    async def transition(self, reference: str, action: str, by: str, channel: str = "cli",
                         at: dt.datetime | None = None, **kwargs: Any) -> dict:
        """acknowledge / respond / request_escalation / extend / pause / resume / close, by name."""
        async with unit_of_work(self.sessions) as session:
            repo = Repository(session)
            record = await repo.get(reference, for_update=True)
            event = getattr(record.case, action)(at=at or now(), by=by, channel=channel, **kwargs)
            await repo.save(record, [event])
            summary = case_summary(record.row)
        await self._notify(event.kind, {"reference": summary["reference"], "event": event, "case": summary})
        return summary

    async def list_cases(self, status: str | None = None, due_within: int | None = None,
                         calendar: WorkingCalendar | None = None, today: dt.date | None = None) -> list[dict]:
        """Cases by status and/or with a deadline within `due_within` working days (overdue included)."""
        async with self.sessions() as session:
            repo = Repository(session)
            due_by = None
            if due_within is not None:
                cal = calendar or WorkingCalendar()
                due_by = cal.add(cal.on_or_after(today or dt.date.today()), due_within)
            return [case_summary(row) for row in await repo.list_cases(status=status, due_by=due_by)]

    async def show(self, reference: str) -> dict:
        async with self.sessions() as session:
            repo = Repository(session)
            record = await repo.get(reference)
            out = case_summary(record.row)
            out["history"] = [
                {"at": aware(e.at).isoformat(), "kind": e.kind, "actor": e.actor, "channel": e.channel, "data": e.data}
                for e in await repo.events(record.row.id)]
            out["messages"] = [
                {"id": msg.id, "role": msg.role, "channel": msg.channel, "sender": msg.sender,
                 "received_at": aware(msg.received_at).isoformat(), "subject": msg.subject, "text": msg.text,
                 "auto_reply": msg.auto_reply}
                for msg in await repo.messages(record.row.id)]
            return out


def case_summary(row: m.Case) -> dict:
    clocks = {c.stage: c for c in row.clocks}
    current = clocks.get(row.stage)
    return {
        "reference": row.reference,
        "status": row.status,
        "stage": row.stage,
        "policy": row.policy,
        "channel": row.channel,
        "sender": row.resident_email or row.resident_name,
        "resident_name": row.resident_name,
        "passed_on_by": row.passed_on_by,
        "representative": row.representative,
        "representative_consent": row.representative_consent,
        "received_at": aware(row.received_at).isoformat(),
        "subject": row.subject,
        "suggested_label": row.suggested_label,
        "suggested_reason": row.suggested_reason,
        "suggestion": row.suggestion,
        "confirmed_label": row.confirmed_label,
        "confirmed_reason": row.confirmed_reason,
        "decided_by": row.decided_by,
        "outcome": row.outcome,
        "escalation_flagged": row.escalation_flagged,
        "urgent_hazard": row.urgent_hazard,
        "next_due": row.next_due.isoformat() if row.next_due else None,
        "deadlines": dict(current.deadlines) if current else {},
        "breached": list(current.breached) if current else [],
        "clocks": [
            {"stage": c.stage, "start": c.start.isoformat(), "acknowledged_on": _iso(c.acknowledged_on),
             "responded_on": _iso(c.responded_on), "stopped_on": _iso(c.stopped_on), "extensions": c.extensions,
             "pauses": c.pauses, "deadlines": c.deadlines, "breached": c.breached}
            for c in row.clocks],
    }


def _iso(d: dt.date | None) -> str | None:
    return d.isoformat() if d else None
