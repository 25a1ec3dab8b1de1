"""Clocks: extension caps, pauses, breaches, and the case lifecycle that drives them."""

import datetime as dt

import pytest
from hypothesis import given, settings, strategies as st

from bot import policies
from bot.core.clocks import auto_close_on, start_stage, window_closes
from bot.core.errors import ClockError, TransitionError
from bot.core.lifecycle import Case

D = dt.date
UTC = dt.timezone.utc
CODE = policies.load("hos-code-2024")
KCTMO = policies.load("kctmo-2010")
CCRMO = policies.load("ccrmo")


def at(day: dt.date, hour: int = 10) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def test_extension_is_capped_by_the_code():
    clock = start_stage(CODE, 1, at(D(2026, 3, 2)))
    clock = clock.extend(CODE, 6, "contractor report awaited", D(2026, 3, 10))
    assert clock.deadlines(CODE, CODE.calendar())["respond"] == D(2026, 3, 31)
    with pytest.raises(ClockError, match="at most 10 working days of extension at stage 1"):
        clock.extend(CODE, 5, "more time", D(2026, 3, 12))
    clock = clock.extend(CODE, 4, "surveyor", D(2026, 3, 12))
    assert clock.extended_by == 10
    with pytest.raises(ClockError, match="needs a reason"):
        start_stage(CODE, 1, at(D(2026, 3, 2))).extend(CODE, 2, "  ", D(2026, 3, 3))


def test_policy_without_a_cap_allows_longer_extensions():
    clock = start_stage(KCTMO, 1, at(D(2026, 3, 2))).extend(KCTMO, 30, "agreed with the resident", D(2026, 3, 5))
    assert clock.extended_by == 30


def test_pause_for_mediation_only_where_the_policy_allows():
    with pytest.raises(ClockError, match="does not provide for pausing"):
        start_stage(CODE, 1, at(D(2026, 3, 2))).pause(CODE, "mediation", D(2026, 3, 4))
    clock = start_stage(CCRMO, 1, at(D(2026, 3, 2)))
    before = clock.deadlines(CCRMO, CCRMO.calendar())["respond"]
    assert before == D(2026, 3, 30)
    paused = clock.pause(CCRMO, "mediation", D(2026, 3, 9))
    assert paused.paused and paused.deadlines(CCRMO, CCRMO.calendar())["respond"] is None
    assert paused.breaches(CCRMO, CCRMO.calendar(), D(2026, 6, 1)) == []  # no breach while paused
    resumed = paused.resume(D(2026, 3, 16))  # five working days paused
    assert resumed.deadlines(CCRMO, CCRMO.calendar())["respond"] == D(2026, 4, 8)  # 30 Mar + 5 wd over Easter


def test_breaches_are_reported():
    cal = CODE.calendar()
    clock = start_stage(CODE, 1, at(D(2026, 3, 2)))
    assert clock.breaches(CODE, cal, D(2026, 3, 9)) == []
    assert clock.breaches(CODE, cal, D(2026, 3, 10)) == ["acknowledge"]
    late = clock.acknowledge(D(2026, 3, 11))
    assert late.breaches(CODE, cal, D(2026, 3, 12)) == ["acknowledge"]
    assert late.deadlines(CODE, cal)["respond"] == D(2026, 3, 25)  # moves with the late acknowledgement
    met = late.respond(D(2026, 3, 20))
    assert met.breaches(CODE, cal, D(2026, 5, 1)) == ["acknowledge"]


def test_escalation_window_and_auto_close():
    cal = KCTMO.calendar()
    assert window_closes(KCTMO, 1, D(2026, 3, 2), cal) == D(2026, 3, 30)
    assert auto_close_on(KCTMO, 1, D(2026, 3, 2), cal) == D(2026, 3, 31)
    assert auto_close_on(CODE, 1, D(2026, 3, 2), cal) is None
    assert window_closes(CCRMO, 1, D(2026, 3, 2), cal) == D(2026, 3, 22)  # 20 calendar days
    assert auto_close_on(CCRMO, 1, D(2026, 3, 2), cal) == D(2026, 3, 16)  # 10 working days


def new_case(policy=CODE, day=D(2026, 3, 2)) -> Case:
    return Case(reference="CMP-2026-00001", policy=policy, received_at=at(day))


def test_lifecycle_happy_path_through_two_stages():
    case = new_case()
    case.suggest("complaint", None, at(D(2026, 3, 2)))
    event = case.decide("complaint", by="Amira (team lead)", at=at(D(2026, 3, 3)))
    assert case.status == "complaint" and event.data["deadlines"]["acknowledge"] == "2026-03-09"
    assert case.clock.start == D(2026, 3, 2)  # counted from receipt, not from the decision
    case.acknowledge(at(D(2026, 3, 4)))
    assert case.deadlines()["respond"] == D(2026, 3, 18)
    case.respond("partly_upheld", at(D(2026, 3, 17)), by="Housing manager")
    event = case.request_escalation(at(D(2026, 4, 20)), by="resident")
    assert case.stage == 2 and case.status == "escalation_requested"
    assert event.data["deadlines"]["acknowledge"] == "2026-04-27"
    case.acknowledge(at(D(2026, 4, 21)))
    case.respond("not_upheld", at(D(2026, 5, 1)), by="Director")
    with pytest.raises(TransitionError, match="has no stage 3"):
        case.request_escalation(at(D(2026, 5, 5)))
    case.close(at(D(2026, 5, 5)), by="Amira")
    assert case.status == "closed"


def test_illegal_transitions_are_refused_clearly():
    case = new_case()
    with pytest.raises(TransitionError, match="cannot acknowledge a case that is received"):
        case.acknowledge(at(D(2026, 3, 2)))
    with pytest.raises(TransitionError, match="needs a reason"):
        case.decide("excluded", by="Amira", at=at(D(2026, 3, 2)))
    case.decide("service_request", by="Amira", at=at(D(2026, 3, 2)))
    with pytest.raises(TransitionError, match="cannot respond"):
        case.respond("upheld", at(D(2026, 3, 3)), by="x")
    # a service request that later becomes a complaint: the clock starts from the original receipt
    case.decide("complaint", by="Amira", at=at(D(2026, 3, 20)))
    assert case.clock.start == D(2026, 3, 2)


def test_escalation_after_the_window_needs_a_team_lead():
    case = new_case(KCTMO)
    case.decide("complaint", by="lead", at=at(D(2026, 3, 2)))
    case.respond("not_upheld", at(D(2026, 3, 10)), by="manager")
    with pytest.raises(TransitionError, match="window to ask for stage 2 closed on 2026-04-09"):
        case.request_escalation(at(D(2026, 4, 20)))
    case.request_escalation(at(D(2026, 4, 20)), late_accepted=True)
    assert case.stage == 2


def test_decision_records_corrections():
    case = new_case()
    case.suggest("service_request", None, at(D(2026, 3, 2)))
    assert case.decide("complaint", by="lead", at=at(D(2026, 3, 2))).data["correction"] is True
    case2 = new_case()
    case2.suggest("excluded", "neighbour_dispute", at(D(2026, 3, 2)))
    ev = case2.decide("excluded", by="lead", reason="neighbour_dispute", at=at(D(2026, 3, 2)))
    assert ev.data["correction"] is False


@settings(max_examples=200, deadline=None)
@given(st.dates(min_value=D(2024, 1, 1), max_value=D(2027, 12, 31)), st.integers(0, 9), st.integers(0, 9),
       st.sampled_from(["hos-code-2024", "kctmo-2010", "kingston", "west-kent-2011"]))
def test_acknowledging_later_never_brings_the_response_forward(day, d1, d2, name):
    policy = policies.load(name)
    cal = policy.calendar()
    clock = start_stage(policy, 1, day)
    early, late = sorted((d1, d2))
    r1 = clock.acknowledge(cal.add(clock.start, early)).deadlines(policy, cal)["respond"]
    r2 = clock.acknowledge(cal.add(clock.start, late)).deadlines(policy, cal)["respond"]
    assert cal.is_working_day(r1) and cal.is_working_day(r2)
    assert r1 <= r2


def test_a_representatives_complaint_needs_consent_before_it_is_confirmed():
    from bot.core.errors import ConsentNeeded
    case = new_case()
    case.representative = "mp"
    with pytest.raises(ConsentNeeded, match="permission"):
        case.decide("complaint", by="lead", at=at(D(2026, 3, 2)))
    assert case.status == "received"
    case.decide("service_request", by="lead", at=at(D(2026, 3, 2)))  # routing needs no consent
    case.decide("complaint", by="lead", at=at(D(2026, 3, 3)), consent=True)
    assert case.status == "complaint" and case.representative_consent
