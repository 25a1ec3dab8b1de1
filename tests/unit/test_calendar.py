"""Working-day arithmetic: examples with real bank holidays, and properties checked by hypothesis."""

import datetime as dt

import pytest
from hypothesis import given, settings, strategies as st

from bot.core.calendar import WorkingCalendar
from bot.core.errors import ConfigError

D = dt.date
UTC = dt.timezone.utc
ENG = WorkingCalendar("ENG")


@pytest.mark.parametrize("day,region,working", [
    (D(2025, 12, 25), "ENG", False), (D(2025, 12, 26), "ENG", False), (D(2026, 1, 1), "ENG", False),
    (D(2026, 1, 2), "ENG", True), (D(2026, 1, 2), "SCT", False),           # 2 January: Scotland only
    (D(2026, 4, 3), "ENG", False), (D(2026, 4, 6), "ENG", False),          # Good Friday, Easter Monday
    (D(2026, 4, 6), "SCT", True),                                          # no Easter Monday in Scotland
    (D(2026, 3, 17), "NIR", False), (D(2026, 3, 17), "ENG", True),         # St Patrick's Day
    (D(2026, 7, 13), "NIR", False),                                        # Battle of the Boyne (12th is a Sunday)
    (D(2026, 11, 30), "SCT", False), (D(2026, 11, 30), "WLS", True),       # St Andrew's Day
    (D(2026, 8, 3), "SCT", False), (D(2026, 8, 31), "SCT", True), (D(2026, 8, 31), "ENG", False),
    (D(2026, 12, 28), "ENG", False),                                       # Boxing Day substitute (26th a Saturday)
    (D(2026, 12, 26), "ENG", False),                                       # a Saturday
])
def test_working_days_by_region(day, region, working):
    assert WorkingCalendar(region).is_working_day(day) is working


def test_unknown_region_is_a_config_error():
    with pytest.raises(ConfigError, match="region: must be one of ENG, WLS, SCT, NIR"):
        WorkingCalendar("XYZ")


def test_closure_dates_are_not_working_days():
    cal = WorkingCalendar("ENG", closures=frozenset({D(2025, 12, 29), D(2025, 12, 30), D(2025, 12, 31)}))
    assert cal.add(D(2025, 12, 24), 1) == D(2026, 1, 2)


@pytest.mark.parametrize("received,day0", [
    (dt.datetime(2026, 3, 10, 16, 59, tzinfo=UTC), D(2026, 3, 10)),   # GMT, before cut-off
    (dt.datetime(2026, 3, 10, 17, 0, tzinfo=UTC), D(2026, 3, 11)),    # at the cut-off: next working day
    (dt.datetime(2026, 6, 12, 15, 59, tzinfo=UTC), D(2026, 6, 12)),   # 16:59 BST
    (dt.datetime(2026, 6, 12, 16, 0, tzinfo=UTC), D(2026, 6, 15)),    # 17:00 BST on a Friday -> Monday
    (dt.datetime(2026, 6, 12, 23, 30, tzinfo=UTC), D(2026, 6, 15)),   # 00:30 BST Saturday
    (dt.datetime(2026, 3, 7, 10, 0, tzinfo=UTC), D(2026, 3, 9)),      # Saturday -> Monday
    (dt.datetime(2026, 3, 9, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=5))), D(2026, 3, 9)),  # 03:00 London
    (dt.datetime(2025, 12, 24, 17, 30, tzinfo=UTC), D(2025, 12, 29)), # Christmas Eve after cut-off
    (D(2026, 4, 3), D(2026, 4, 7)),                                   # a date on Good Friday
])
def test_day_zero(received, day0):
    assert ENG.day_zero(received) == day0


def test_between_counts_working_days():
    assert ENG.between(D(2025, 12, 24), D(2026, 1, 5)) == 5
    assert ENG.between(D(2026, 1, 5), D(2025, 12, 24)) == -5


working_date = st.dates(min_value=D(2023, 1, 1), max_value=D(2028, 12, 31))
regions = st.sampled_from(["ENG", "WLS", "SCT", "NIR"])


@settings(max_examples=300, deadline=None)
@given(working_date, st.integers(min_value=1, max_value=60), regions)
def test_add_lands_on_a_working_day_and_counts_back(start, n, region):
    cal = WorkingCalendar(region)
    end = cal.add(start, n)
    assert cal.is_working_day(end)
    assert end > start
    assert cal.between(start, end) == n
    assert cal.subtract(end, n) == cal.on_or_after(start) or not cal.is_working_day(start)


@settings(max_examples=300, deadline=None)
@given(working_date, st.integers(min_value=0, max_value=40), st.integers(min_value=0, max_value=40), regions)
def test_add_is_monotonic_in_days(start, a, b, region):
    cal = WorkingCalendar(region)
    lo, hi = sorted((a, b))
    assert cal.add(start, lo) <= cal.add(start, hi)
    if lo < hi:
        assert cal.add(start, lo) < cal.add(start, hi)


@settings(max_examples=300, deadline=None)
@given(working_date, working_date, st.integers(min_value=1, max_value=30), regions)
def test_add_is_monotonic_in_start(d1, d2, n, region):
    cal = WorkingCalendar(region)
    lo, hi = sorted((d1, d2))
    assert cal.add(lo, n) <= cal.add(hi, n)


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=dt.datetime(2023, 1, 1), max_value=dt.datetime(2028, 12, 31),
                    timezones=st.sampled_from([UTC, dt.timezone(dt.timedelta(hours=-5)),
                                               dt.timezone(dt.timedelta(hours=9))])), regions)
def test_day_zero_is_a_working_day_on_or_after_the_local_date(moment, region):
    cal = WorkingCalendar(region)
    day0 = cal.day_zero(moment)
    assert cal.is_working_day(day0)
    assert day0 >= cal.local(moment).date()
    assert cal.between(cal.local(moment).date(), day0) <= 1
