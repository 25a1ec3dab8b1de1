"""The case state machine: which decisions and events may follow which, and the clocks they move.

Every change goes through `Case.apply`-style methods that check the transition, update the clocks per the
policy and return the `Event` to append to the case's history. An illegal transition raises
`TransitionError` naming the current status and what is allowed from it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from .calendar import WorkingCalendar
from .clocks import StageClock, auto_close_on, start_stage, window_closes
from .errors import ConsentNeeded, TransitionError
from .policy import LABELS, REASONS, Policy

STATUSES = (
    "received",              # recorded, no suggestion yet
    "triaged",               # a suggestion waits for a team lead
    "complaint",             # confirmed as a complaint; the stage's clocks run, not yet acknowledged
    "escalation_requested",  # the resident asked for the next stage; its clocks run, not yet acknowledged
    "acknowledged",
    "responded",             # the stage's response was sent (with an outcome)
    "service_request",       # confirmed: routed to the service, no complaint clock
    "excluded",              # confirmed: refused and signposted, with the reason
    "not_a_case",            # confirmed: nothing to do (spam, duplicate, misdirected)
    "closed",
)
DECISIONS = ("complaint", "service_request", "excluded", "not_a_case")
OUTCOMES = ("upheld", "partly_upheld", "not_upheld", "resolved")
OPEN_COMPLAINT = ("complaint", "escalation_requested", "acknowledged")

# action -> statuses it may be taken from
ALLOWED: dict[str, tuple[str, ...]] = {
    "suggest": ("received", "triaged"),
    "decide": ("received", "triaged", "complaint", "service_request", "excluded", "not_a_case"),
    "acknowledge": ("complaint", "escalation_requested"),
    "respond": ("complaint", "escalation_requested", "acknowledged"),
    "request_escalation": ("responded", "closed"),
    "extend": OPEN_COMPLAINT,
    "pause": OPEN_COMPLAINT,
    "resume": OPEN_COMPLAINT,
    "close": ("responded", "service_request", "excluded", "not_a_case"),
    "auto_close": ("responded",),
}


@dataclass(frozen=True)
class Event:
    """One entry of a case's append-only history."""

    kind: str
    at: dt.datetime
    actor: str = "bot"
    channel: str = "system"  # email | slack | cli | system
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Case:
    """A case as the domain sees it: status, stage, labels, the clocks of each stage it reached."""

    reference: str
    policy: Policy
    received_at: dt.datetime
    status: str = "received"
    stage: int = 1
    suggested_label: str | None = None
    suggested_reason: str | None = None
    confirmed_label: str | None = None
    confirmed_reason: str | None = None
    decided_by: str | None = None
    outcome: str | None = None
    responded_on: dt.date | None = None
    closed_on: dt.date | None = None
    representative: str | None = None
    representative_consent: bool = False
    escalation_flagged: bool = False
    clocks: dict[int, StageClock] = field(default_factory=dict)
    region: str | None = None

    # -- helpers -----------------------------------------------------------------------------------
    @property
    def calendar(self) -> WorkingCalendar:
        return self.policy.calendar(self.region)

    @property
    def clock(self) -> StageClock | None:
        return self.clocks.get(self.stage)

    def _check(self, action: str) -> None:
        allowed = ALLOWED[action]
        if self.status not in allowed:
            raise TransitionError(
                f"{self.reference}: cannot {action.replace('_', ' ')} a case that is {self.status} "
                f"(allowed from: {', '.join(allowed)})")

    def _set_clock(self, clock: StageClock) -> None:
        self.clocks[clock.stage] = clock

    def deadlines(self) -> dict[str, dt.date | None]:
        clock = self.clock
        return {} if clock is None else clock.deadlines(self.policy, self.calendar, self.representative)

    # -- transitions -------------------------------------------------------------------------------
    def suggest(self, label: str | None, reason: str | None, at: dt.datetime, why: list[str] | None = None,
                confidence: float | None = None, needs_review: bool = False) -> Event:
        self._check("suggest")
        if label is not None and label not in LABELS:
            raise TransitionError(f"unknown label {label!r} (allowed: {', '.join(LABELS)})")
        self.suggested_label, self.suggested_reason, self.status = label, reason, "triaged"
        return Event("suggested", at, data={"label": label, "reason": reason, "confidence": confidence,
                                             "needs_review": needs_review, "why": why or []})

    def decide(self, decision: str, by: str, at: dt.datetime, reason: str | None = None,
               channel: str = "cli", consent: bool | None = None) -> Event:
        """A team lead's decision; starts, keeps or stops the stage-1 clocks per the policy."""
        self._check("decide")
        if decision not in DECISIONS:
            raise TransitionError(f"unknown decision {decision!r} (allowed: {', '.join(DECISIONS)})")
        if decision == "excluded" and reason not in REASONS:
            raise TransitionError(f"an exclusion needs a reason (one of: {', '.join(REASONS)})")
        if decision != "excluded" and decision != "service_request":
            reason = None
        if self.status == "complaint" and self.clock and self.clock.acknowledged_on:
            raise TransitionError(f"{self.reference}: already acknowledged as a complaint; close it instead")
        if not by.strip():
            raise TransitionError("a decision needs the name of the team lead who made it")
        if consent is not None:
            self.representative_consent = consent
        if decision == "complaint" and self.representative and not self.representative_consent:
            raise ConsentNeeded(f"{self.reference} was made by a representative ({self.representative}): the "
                                "policies need the resident's permission for them to act; record it (--consent) first")
        previous = self.confirmed_label
        self.confirmed_label, self.confirmed_reason, self.decided_by = decision, reason, by
        today = self.calendar.local(at).date()
        if decision == "complaint":
            if self.stage not in self.clocks:
                # The clock starts from receipt, not from the decision: the resident complained when they wrote.
                self._set_clock(start_stage(self.policy, self.stage, self.received_at, self.calendar))
            elif self.clock and self.clock.stopped_on:
                self._set_clock(StageClock(stage=self.stage, start=self.clock.start))
        elif self.clock is not None and self.clock.stopped_on is None:
            self._set_clock(self.clock.stop(today))
        self.status = decision
        corrected = self.suggested_label is not None and (
            self.suggested_label != _label_of(decision) or
            (decision == "excluded" and self.suggested_reason != reason))
        return Event("decided", at, actor=by, channel=channel,
                     data={"decision": decision, "reason": reason, "previous": previous,
                           "suggested": self.suggested_label, "suggested_reason": self.suggested_reason,
                           "correction": corrected, "deadlines": _iso(self.deadlines())})

    def acknowledge(self, at: dt.datetime, by: str = "bot", channel: str = "system") -> Event:
        self._check("acknowledge")
        assert self.clock is not None
        self._set_clock(self.clock.acknowledge(self.calendar.local(at).date()))
        self.status = "acknowledged"
        return Event("acknowledged", at, actor=by, channel=channel,
                     data={"stage": self.stage, "deadlines": _iso(self.deadlines())})

    def respond(self, outcome: str, at: dt.datetime, by: str, channel: str = "cli") -> Event:
        self._check("respond")
        if outcome not in OUTCOMES:
            raise TransitionError(f"unknown outcome {outcome!r} (allowed: {', '.join(OUTCOMES)})")
        assert self.clock is not None
        day = self.calendar.local(at).date()
        self._set_clock(self.clock.respond(day))
        self.status, self.outcome, self.responded_on = "responded", outcome, day
        return Event("responded", at, actor=by, channel=channel,
                     data={"stage": self.stage, "outcome": outcome,
                           "breaches": self.clock.breaches(self.policy, self.calendar, day) if self.clock else []})

    def request_escalation(self, at: dt.datetime, by: str = "resident", channel: str = "email",
                           late_accepted: bool = False) -> Event:
        """The resident asks for the next stage: its clocks start from receipt of the request."""
        self._check("request_escalation")
        nxt = self.stage + 1
        if not self.policy.has_stage(nxt):
            raise TransitionError(f"{self.reference}: {self.policy.id} has no stage {nxt}; "
                                  "the landlord's process is complete (the resident may go to the Ombudsman)")
        day = self.calendar.local(at).date()
        if self.responded_on is not None and not late_accepted:
            closes = window_closes(self.policy, self.stage, self.responded_on, self.calendar)
            if closes is not None and day > closes:
                raise TransitionError(f"{self.reference}: the window to ask for stage {nxt} closed on {closes} "
                                      f"({self.policy.stage(self.stage).next_stage.source}); a team lead may accept it late")
        if self.status == "closed" and self.closed_on is not None and self.outcome is None:
            raise TransitionError(f"{self.reference}: closed without a response; it cannot be escalated")
        self.stage = nxt
        self._set_clock(start_stage(self.policy, nxt, at, self.calendar))
        self.status, self.outcome, self.responded_on, self.closed_on = "escalation_requested", None, None, None
        self.escalation_flagged = True
        return Event("escalation_requested", at, actor=by, channel=channel,
                     data={"stage": nxt, "deadlines": _iso(self.deadlines())})

    def extend(self, days: int, reason: str, at: dt.datetime, by: str, channel: str = "cli") -> Event:
        self._check("extend")
        assert self.clock is not None
        self._set_clock(self.clock.extend(self.policy, days, reason, self.calendar.local(at).date()))
        return Event("extended", at, actor=by, channel=channel,
                     data={"stage": self.stage, "days": days, "reason": reason, "deadlines": _iso(self.deadlines())})

    def pause(self, reason: str, at: dt.datetime, by: str, channel: str = "cli") -> Event:
        self._check("pause")
        assert self.clock is not None
        self._set_clock(self.clock.pause(self.policy, reason, self.calendar.local(at).date()))
        return Event("paused", at, actor=by, channel=channel, data={"stage": self.stage, "reason": reason})

    def resume(self, at: dt.datetime, by: str, channel: str = "cli") -> Event:
        self._check("resume")
        assert self.clock is not None
        self._set_clock(self.clock.resume(self.calendar.local(at).date()))
        return Event("resumed", at, actor=by, channel=channel,
                     data={"stage": self.stage, "deadlines": _iso(self.deadlines())})

    def close(self, at: dt.datetime, by: str, channel: str = "cli", automatic: bool = False) -> Event:
        self._check("auto_close" if automatic else "close")
        day = self.calendar.local(at).date()
        if self.clock is not None and self.clock.responded_on is None and self.clock.stopped_on is None:
            self._set_clock(self.clock.stop(day))
        self.status, self.closed_on = "closed", day
        return Event("auto_closed" if automatic else "closed", at, actor=by, channel=channel,
                     data={"stage": self.stage, "outcome": self.outcome})

    def auto_close_due(self) -> dt.date | None:
        """When this answered case closes by itself if nobody asks for the next stage."""
        if self.status != "responded" or self.responded_on is None:
            return None
        if not self.policy.has_stage(self.stage + 1):
            return self.calendar.next_working_day(self.responded_on)  # final stage: nothing left to ask for
        return auto_close_on(self.policy, self.stage, self.responded_on, self.calendar)

    def breaches(self, today: dt.date) -> list[str]:
        clock = self.clock
        return [] if clock is None else clock.breaches(self.policy, self.calendar, today)


def _label_of(decision: str) -> str | None:
    return decision if decision in LABELS else None


def _iso(deadlines: dict[str, dt.date | None]) -> dict[str, str | None]:
    return {k: (v.isoformat() if v else None) for k, v in deadlines.items()}
