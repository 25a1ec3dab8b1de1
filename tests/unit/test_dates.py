"""Incident dates from what a message says, relative to the day it was received (Tuesday 9 June 2026)."""

import datetime as dt

import pytest

from classifiers.dates import incident_date

RECEIVED = dt.date(2026, 6, 9)


@pytest.mark.parametrize("text, expected, rule", [
    ("The lights have been on all day since about February.", dt.date(2026, 2, 1), "in_month"),
    ("Mould has spread over the past month.", dt.date(2026, 5, 9), "past_unit"),
    ("The landing light has been out since the weekend.", dt.date(2026, 6, 6), "since_weekend"),
    ("Back in March last year the roof started leaking.", dt.date(2025, 3, 1), "month_last_year"),
    ("It broke two years ago and was never fixed.", dt.date(2024, 6, 9), "ago"),
    ("No hot water since last Tuesday.", dt.date(2026, 6, 2), "weekday"),
    ("Nobody has been out for a while now.", None, None),  # vague: nothing rather than a guess
])
def test_phrases_give_the_day_the_problem_began(text, expected, rule):
    assert incident_date(text, RECEIVED) == (expected, rule)


def test_the_earliest_date_is_the_start_of_the_problem():
    text = "The leak started on 3rd May. I reported it on 10 May and again yesterday."
    assert incident_date(text, RECEIVED)[0] == dt.date(2026, 5, 3)
