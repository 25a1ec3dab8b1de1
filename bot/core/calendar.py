"""Working days: weekends, a UK nation's bank holidays, a landlord's own closure days, and the daily cut-off.

Clocks in complaint policies are counted in working days. Day 0 is the date a message is received in
Europe/London (whatever offset its timestamp carries); a message received on a non-working day, or at or
after the cut-off time, counts as received on the next working day. A deadline of N working days is the
Nth working day after day 0.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Iterable
from zoneinfo import ZoneInfo

import holidays

from .errors import ConfigError

REGIONS = ("ENG", "WLS", "SCT", "NIR")
LONDON = ZoneInfo("Europe/London")


@lru_cache(maxsize=64)
def _bank_holidays(region: str, year: int) -> frozenset[dt.date]:
    # `holidays` keeps a weekend holiday beside its weekday "(observed)" substitute; weekends are
    # skipped separately, so keeping both is harmless.
    return frozenset(holidays.UK(subdiv=region, years=year).keys())


@dataclass(frozen=True)
class WorkingCalendar:
    """Which dates are working days for one landlord in one UK nation."""

    region: str = "ENG"
    closures: frozenset[dt.date] = field(default_factory=frozenset)
    cutoff: dt.time = dt.time(17, 0)
    timezone: ZoneInfo = LONDON

    def __post_init__(self) -> None:
        if self.region not in REGIONS:
            raise ConfigError(f"region: must be one of {', '.join(REGIONS)} (got {self.region!r})")

    # -- single days -------------------------------------------------------------------------------
    def is_bank_holiday(self, day: dt.date) -> bool:
        return day in _bank_holidays(self.region, day.year)

    def is_working_day(self, day: dt.date) -> bool:
        return day.weekday() < 5 and not self.is_bank_holiday(day) and day not in self.closures

    def next_working_day(self, day: dt.date) -> dt.date:
        """The first working day strictly after `day`."""
        day += dt.timedelta(days=1)
        while not self.is_working_day(day):
            day += dt.timedelta(days=1)
        return day

    def previous_working_day(self, day: dt.date) -> dt.date:
        """The last working day strictly before `day`."""
        day -= dt.timedelta(days=1)
        while not self.is_working_day(day):
            day -= dt.timedelta(days=1)
        return day

    def on_or_after(self, day: dt.date) -> dt.date:
        return day if self.is_working_day(day) else self.next_working_day(day)

    # -- receipt -----------------------------------------------------------------------------------
    def local(self, moment: dt.datetime) -> dt.datetime:
        """`moment` in the landlord's time zone; a naive timestamp is taken to be UTC."""
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.timezone.utc)
        return moment.astimezone(self.timezone)

    def day_zero(self, received: dt.datetime | dt.date) -> dt.date:
        """Day 0 of a clock started by something received at `received`."""
        if isinstance(received, dt.datetime):
            local = self.local(received)
            day = local.date()
            if self.is_working_day(day) and local.time() >= self.cutoff:
                return self.next_working_day(day)
            return self.on_or_after(day)
        return self.on_or_after(received)

    # -- arithmetic --------------------------------------------------------------------------------
    def add(self, start: dt.date, n: int, skip: "Callable[[dt.date], bool] | None" = None) -> dt.date:
        """The Nth working day after `start` (n >= 0); n == 0 gives `start` itself.

        Working days for which `skip` is true (a paused clock) are passed over without being counted.
        """
        if n < 0:
            return self.subtract(start, -n)
        day, counted = start, 0
        while counted < n:
            day = self.next_working_day(day)
            if skip is None or not skip(day):
                counted += 1
        return day

    def subtract(self, end: dt.date, n: int) -> dt.date:
        """The Nth working day before `end` (n >= 0)."""
        day = end
        for _ in range(n):
            day = self.previous_working_day(day)
        return day

    def between(self, start: dt.date, end: dt.date) -> int:
        """Working days after `start` up to and including `end` (negative when `end` is earlier)."""
        if end < start:
            return -self.between(end, start)
        count, day = 0, start
        while True:
            day = self.next_working_day(day)
            if day > end:
                return count
            count += 1

    def working_days(self, start: dt.date, end: dt.date) -> Iterable[dt.date]:
        """Working days from `start` to `end` inclusive."""
        day = self.on_or_after(start)
        while day <= end:
            yield day
            day = self.next_working_day(day)
