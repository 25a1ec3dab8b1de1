"""The policy turns a reading into a suggestion: routing by reason, time limits, hazards, needs-review."""

import datetime as dt

import pytest

from bot import policies
from bot.core.triage import Reading, suggest

D = dt.date


def reading(label="complaint", reason=None, confidence=0.9, **signals):
    base = {"escalation_request": False, "representative": None, "anonymous": False, "incident_date": None,
            "case_reference": None, "urgent_hazard": None}
    base.update(signals)
    return Reading(label, reason, confidence, {label: confidence}, base)


@pytest.mark.parametrize("policy,reason,label,kept_reason", [
    ("hos-code-2024", "neighbour_dispute", "service_request", "neighbour_dispute"),  # routed to the ASB team
    ("hos-code-2024", "policy_disagreement", "complaint", None),                      # no blanket exclusions
    ("hos-code-2024", "legal_proceedings", "excluded", "legal_proceedings"),
    ("rbkc-housing-2021", "policy_disagreement", "excluded", "policy_disagreement"),  # RBKC s.5 excludes policy
    ("kingston", "policy_disagreement", "complaint", None),                           # Kingston 2.0: a complaint
    ("kingston", "compensation_only", "excluded", "compensation_only"),
    ("ccrmo", "compensation_only", "service_request", "compensation_only"),           # Legal Advice Service
    ("kctmo-2010", "data_breach", "excluded", "data_breach"),                         # not stated: the Code's rule
])
def test_each_reason_goes_where_the_policy_sends_it(policy, reason, label, kept_reason):
    s = suggest(reading("excluded", reason), policies.load(policy), D(2026, 3, 2))
    assert (s.label, s.reason) == (label, kept_reason)
    assert s.why  # says why


def test_incident_beyond_the_time_limit_suggests_time_expired_for_review():
    r = reading("complaint", incident_date="2025-07-01")
    code = suggest(r, policies.load("hos-code-2024"), D(2026, 3, 2))
    assert (code.label, code.reason) == ("complaint", None)  # 8 months: within the Code's 12
    ccrmo = suggest(r, policies.load("ccrmo"), D(2026, 3, 2))
    assert (ccrmo.label, ccrmo.reason, ccrmo.needs_review) == ("excluded", "time_expired", True)  # CCRMO: 6 months
    assert any("6" in w and "months" in w for w in ccrmo.why)
    assert suggest(r, policies.load("west-kent-2011"), D(2026, 3, 2)).label == "complaint"  # no limit stated


def test_escalation_is_never_time_expired():
    r = reading("complaint", incident_date="2024-01-01", escalation_request=True)
    assert suggest(r, policies.load("hos-code-2024"), D(2026, 3, 2)).label == "complaint"


def test_low_confidence_needs_review():
    assert suggest(reading(confidence=0.45), policies.load("hos-code-2024"), D(2026, 3, 2), threshold=0.6).needs_review
    assert not suggest(reading(confidence=0.75), policies.load("hos-code-2024"), D(2026, 3, 2), threshold=0.6).needs_review


def test_urgent_hazard_is_flagged_in_the_why():
    s = suggest(reading("service_request", urgent_hazard="gas"), policies.load("hos-code-2024"), D(2026, 3, 2))
    assert s.label == "service_request" and any("URGENT" in w and "Awaab" in w for w in s.why)


def test_anonymous_complaint_under_a_policy_that_refuses_them_needs_review():
    s = suggest(reading("complaint", anonymous=True), policies.load("kctmo-2010"), D(2026, 3, 2))
    assert s.needs_review and any("anonymous" in w for w in s.why)
    assert not suggest(reading("complaint", anonymous=True), policies.load("west-kent-2011"), D(2026, 3, 2)).needs_review
