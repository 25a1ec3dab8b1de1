"""Complaint performance figures: the Tenant Satisfaction Measures CH01 and CH02, volumes, timeliness.

Pure: it takes plain facts about cases (one `CaseFacts` each) and computes; the report command gathers the
facts from the store. CH02 judges each response against the Housing Ombudsman's Code (acknowledge within 5
working days, respond within 10 at stage 1 / 20 at stage 2 of the acknowledgement, extensions counted only up
to the Code's caps of 10 and 20), whatever the landlord's own policy says.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .calendar import WorkingCalendar
from .clocks import Extension, StageClock
from .policy import Policy


@dataclass(frozen=True)
class StageFacts:
    stage: int
    start: dt.date
    acknowledged_on: dt.date | None
    responded_on: dt.date | None
    extensions: tuple[Extension, ...] = ()
    stopped_on: dt.date | None = None


@dataclass(frozen=True)
class CaseFacts:
    reference: str
    received: dt.date
    channel: str
    suggested_label: str | None
    confirmed_label: str | None
    confirmed_reason: str | None
    representative: str | None
    urgent_hazard: str | None
    stages: tuple[StageFacts, ...] = ()
    became_complaint_from_service_request: bool = False
    first_decision_hours: float | None = None
    policy_deadlines_met: dict[int, bool] = field(default_factory=dict)  # by the landlord's own policy


def _in(day: dt.date | None, start: dt.date, end: dt.date) -> bool:
    return day is not None and start <= day <= end


def code_on_time(stage: StageFacts, code: Policy, calendar: WorkingCalendar) -> bool:
    """Was this stage answered within the Code's timescales (extensions up to the Code's cap)?"""
    cap = code.stage(min(stage.stage, 2)).max_extension or 0
    allowed, used = [], 0
    for e in stage.extensions:
        take = min(e.days, cap - used)
        if take > 0:
            allowed.append(Extension(take, e.reason, e.on))
            used += take
    clock = StageClock(stage=min(stage.stage, 2), start=stage.start, acknowledged_on=stage.acknowledged_on,
                       responded_on=stage.responded_on, extensions=tuple(allowed))
    due = clock.deadlines(code, calendar).get("respond")
    return due is not None and stage.responded_on is not None and stage.responded_on <= due


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def compute(cases: list[CaseFacts], start: dt.date, end: dt.date, homes: int, code: Policy,
            calendar: WorkingCalendar) -> dict[str, Any]:
    out: dict[str, Any] = {"period": {"from": start.isoformat(), "to": end.isoformat()}, "homes": homes}
    received = [c for c in cases if _in(c.received, start, end)]
    tsm: dict[str, Any] = {}
    for n in (1, 2):
        started = [s for c in cases for s in c.stages if s.stage == n and _in(s.start, start, end)]
        answered = [s for c in cases for s in c.stages if s.stage == n and _in(s.responded_on, start, end)]
        on_time = sum(code_on_time(s, code, calendar) for s in answered)
        tsm[f"CH01_stage{n}_per_1000_homes"] = round(1000 * len(started) / homes, 2) if homes else None
        tsm[f"stage{n}_received"] = len(started)
        tsm[f"CH02_stage{n}_within_code_timescales"] = round(on_time / len(answered), 3) if answered else None
        tsm[f"stage{n}_answered"] = len(answered)
        tsm[f"stage{n}_answered_on_time"] = on_time
    out["tsm"] = tsm

    out["volumes"] = {
        "messages_opening_cases": len(received),
        "by_confirmed_label": dict(Counter(c.confirmed_label or "undecided" for c in received)),
        "by_suggested_label": dict(Counter(c.suggested_label or "none" for c in received)),
        "excluded_by_reason": dict(Counter(c.confirmed_reason for c in received
                                           if c.confirmed_label == "excluded" and c.confirmed_reason)),
        "by_channel": dict(Counter(c.channel for c in received)),
        "by_week": dict(sorted(Counter(f"{c.received.isocalendar()[0]}-W{c.received.isocalendar()[1]:02d}"
                                       for c in received).items())),
    }
    timeliness: dict[str, Any] = {}
    for n in (1, 2, 3):
        stages = [s for c in cases for s in c.stages if s.stage == n and _in(s.start, start, end)]
        if not stages:
            continue
        ack = [calendar.between(s.start, s.acknowledged_on) for s in stages if s.acknowledged_on]
        resp = [calendar.between(s.start, s.responded_on) for s in stages if s.responded_on]
        ext = [e for s in stages for e in s.extensions]
        timeliness[f"stage{n}"] = {
            "started": len(stages),
            "median_working_days_to_acknowledge": _median(ack),
            "median_working_days_to_respond": _median(resp),
            "extended": sum(1 for s in stages if s.extensions),
            "extension_reasons": dict(Counter(e.reason for e in ext)),
        }
    out["timeliness"] = timeliness
    policy_met = [met for c in received for stage, met in c.policy_deadlines_met.items()]
    out["on_time_by_own_policy"] = round(sum(policy_met) / len(policy_met), 3) if policy_met else None
    out["service_requests_that_became_complaints"] = sum(c.became_complaint_from_service_request for c in received)
    out["representatives"] = dict(Counter(c.representative for c in received if c.representative))
    hazards = [c for c in received if c.urgent_hazard]
    out["urgent_hazards"] = {
        "count": len(hazards), "by_type": dict(Counter(c.urgent_hazard for c in hazards)),
        "median_hours_to_first_decision": _median([c.first_decision_hours for c in hazards
                                                   if c.first_decision_hours is not None]),
    }
    return out
