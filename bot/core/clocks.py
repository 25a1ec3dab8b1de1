"""The clocks of one stage of a complaint: deadlines, acknowledgement, extension, pauses, met and breached.

A `StageClock` holds only facts (day 0, when it was acknowledged or answered, extensions, pauses); every
deadline is derived from those facts, the policy and the working-day calendar by `deadlines()`, so that a
late acknowledgement, an extension or a pause moves every date that depends on it and nothing else.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

from .calendar import WorkingCalendar
from .errors import ClockError
from .policy import Policy, Stage

TRACKED = ("acknowledge", "respond")  # targets that are met by an event and can be breached


@dataclass(frozen=True)
class Extension:
    days: int
    reason: str
    on: dt.date


@dataclass(frozen=True)
class Pause:
    reason: str
    start: dt.date
    end: dt.date | None = None  # working days from start up to (not including) end do not count

    def covers(self, day: dt.date) -> bool:
        return day >= self.start and (self.end is None or day < self.end)


@dataclass(frozen=True)
class StageClock:
    """The facts of one stage's clock; deadlines are computed, never stored as the truth."""

    stage: int
    start: dt.date  # day 0: receipt of the complaint (stage 1) or of the escalation request
    acknowledged_on: dt.date | None = None
    responded_on: dt.date | None = None
    extensions: tuple[Extension, ...] = ()
    pauses: tuple[Pause, ...] = field(default_factory=tuple)
    stopped_on: dt.date | None = None  # the case left the complaints process (excluded, closed) unanswered

    # -- reading -----------------------------------------------------------------------------------
    @property
    def extended_by(self) -> int:
        return sum(e.days for e in self.extensions)

    @property
    def paused(self) -> bool:
        return any(p.end is None for p in self.pauses)

    def _skip(self, day: dt.date) -> bool:
        return any(p.covers(day) for p in self.pauses)

    def deadlines(self, policy: Policy, calendar: WorkingCalendar,
                  representative: str | None = None) -> dict[str, dt.date | None]:
        """Every date the policy defines for this stage (None while a pause holds the clock open)."""
        stage = policy.stage(self.stage)
        out: dict[str, dt.date | None] = {}
        ack = stage.targets.get("acknowledge")
        if ack is not None:
            out["acknowledge"] = self._add(calendar, self.start, ack.days, met=self.acknowledged_on)
        for name, target in stage.targets.items():
            if name == "acknowledge":
                continue
            base: dt.date | None = self.start
            if target.counts_from == "acknowledgement":
                base = calendar.on_or_after(self.acknowledged_on) if self.acknowledged_on else out.get("acknowledge")
            extra = self.extended_by if name == "respond" else 0
            met = self.responded_on if name == "respond" else None
            out[name] = None if base is None else self._add(calendar, base, target.days + extra, met=met)
        respond = out.get("respond")
        for lead_name, lead in (("holding_response", stage.holding_response), ("draft_response", stage.draft_response)):
            if lead is not None:
                out[lead_name] = None if respond is None else calendar.subtract(respond, lead.days_before)
        if representative and representative in policy.enquiries:
            for name, target in policy.enquiries[representative].items():
                out[f"{representative}_enquiry_{name}"] = self._add(calendar, self.start, target.days, met=None)
        return out

    def _add(self, calendar: WorkingCalendar, base: dt.date, days: int, met: dt.date | None) -> dt.date | None:
        if self.paused and met is None:
            return None
        return calendar.add(base, days, skip=self._skip if self.pauses else None)

    def breaches(self, policy: Policy, calendar: WorkingCalendar, today: dt.date) -> list[str]:
        """Targets missed: answered after the deadline, or still unanswered after it (not while paused)."""
        due = self.deadlines(policy, calendar)
        missed = []
        for name, met in (("acknowledge", self.acknowledged_on), ("respond", self.responded_on)):
            when = due.get(name)
            if when is None:
                continue
            if met is not None:
                if met > when:
                    missed.append(name)
            elif self.stopped_on is None and not self.paused and today > when:
                missed.append(name)
        return missed

    # -- changing ----------------------------------------------------------------------------------
    def acknowledge(self, on: dt.date) -> "StageClock":
        if self.acknowledged_on is not None:
            raise ClockError(f"stage {self.stage} was already acknowledged on {self.acknowledged_on}")
        return replace(self, acknowledged_on=on)

    def respond(self, on: dt.date) -> "StageClock":
        if self.responded_on is not None:
            raise ClockError(f"stage {self.stage} was already answered on {self.responded_on}")
        if self.paused:
            raise ClockError(f"stage {self.stage} is paused; resume it before recording the response")
        return replace(self, responded_on=on)

    def extend(self, policy: Policy, days: int, reason: str, on: dt.date) -> "StageClock":
        """Extend the response deadline; the policy's cap (the Code: 10 working days at stage 1, 20 at
        stage 2) is enforced over all extensions of the stage together."""
        stage = policy.stage(self.stage)
        if days <= 0:
            raise ClockError("an extension must be at least one working day")
        if not reason.strip():
            raise ClockError("an extension needs a reason (the resident must be told why)")
        if self.responded_on is not None:
            raise ClockError(f"stage {self.stage} was already answered; nothing to extend")
        if stage.max_extension is not None and self.extended_by + days > stage.max_extension:
            raise ClockError(
                f"{policy.id} allows at most {stage.max_extension} working days of extension at stage "
                f"{self.stage} ({stage.extension_source}); {self.extended_by} already used, {days} asked")
        return replace(self, extensions=self.extensions + (Extension(days, reason.strip(), on),))

    def pause(self, policy: Policy, reason: str, on: dt.date) -> "StageClock":
        if reason not in policy.pauses:
            allowed = ", ".join(policy.pauses) or "none"
            raise ClockError(f"{policy.id} does not provide for pausing the clock for {reason!r} (allowed: {allowed})")
        if self.paused:
            raise ClockError(f"stage {self.stage} is already paused")
        if self.responded_on is not None:
            raise ClockError(f"stage {self.stage} was already answered; nothing to pause")
        return replace(self, pauses=self.pauses + (Pause(reason, on),))

    def resume(self, on: dt.date) -> "StageClock":
        if not self.paused:
            raise ClockError(f"stage {self.stage} is not paused")
        *done, last = self.pauses
        if on < last.start:
            raise ClockError(f"cannot resume on {on}, before the pause began on {last.start}")
        return replace(self, pauses=tuple(done) + (replace(last, end=on),))

    def stop(self, on: dt.date) -> "StageClock":
        return replace(self, stopped_on=on)


def start_stage(policy: Policy, stage: int, received: dt.datetime | dt.date,
                calendar: WorkingCalendar | None = None) -> StageClock:
    """Start the clocks of `stage` for something received at `received` (a complaint, an escalation)."""
    s: Stage = policy.stage(stage)
    if s.informal:
        raise ClockError(f"{policy.id} stage {stage} ({s.name}) is informal and has no clock")
    cal = calendar or policy.calendar()
    return StageClock(stage=stage, start=cal.day_zero(received))


def window_closes(policy: Policy, stage: int, outcome: dt.date, calendar: WorkingCalendar) -> dt.date | None:
    """The last day to ask for the next stage after `stage`'s outcome (None: no window stated)."""
    window = policy.stage(stage).next_stage
    if window is None or window.days is None:
        return None
    if window.unit == "calendar":
        return outcome + dt.timedelta(days=window.days)
    return calendar.add(outcome, window.days)


def auto_close_on(policy: Policy, stage: int, outcome: dt.date, calendar: WorkingCalendar) -> dt.date | None:
    """The day a case answered at `stage` closes if nobody asks for the next stage (None: never)."""
    window = policy.stage(stage).next_stage
    if window is None or not window.auto_close:
        return None
    if window.auto_close_after is not None:
        return calendar.add(outcome, window.auto_close_after)
    closes = window_closes(policy, stage, outcome, calendar)
    return None if closes is None else calendar.next_working_day(closes)
