"""From the classifier's reading of a message to the suggestion a team lead sees, per the landlord's policy.

The reading (label, reason, signals, confidence) is the same whatever the landlord; the policy decides what
happens to it: each exclusion reason is refused, handled as a complaint or as a service request; an
incident date beyond the policy's time limit suggests `time_expired`; an urgent hazard is a service request
that must not wait; a confidence below the threshold marks the suggestion "needs review".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from .policy import Policy


@dataclass(frozen=True)
class Reading:
    """What the classifier read in the message (label guide terms, landlord-neutral)."""

    label: str
    reason: str | None
    confidence: float
    scores: dict[str, float]
    signals: dict[str, Any]
    why: tuple[str, ...] = ()


@dataclass(frozen=True)
class Suggestion:
    policy: str
    label: str
    reason: str | None
    needs_review: bool
    why: tuple[str, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, Any]:
        return {"policy": self.policy, "label": self.label, "reason": self.reason, "needs_review": self.needs_review}


def months_between(earlier: dt.date, later: dt.date) -> float:
    return (later.year - earlier.year) * 12 + (later.month - earlier.month) + (later.day - earlier.day) / 31


def suggest(reading: Reading, policy: Policy, received: dt.date, threshold: float = 0.6) -> Suggestion:
    why: list[str] = []
    label, reason = reading.label, reading.reason
    signals = reading.signals

    incident = signals.get("incident_date")
    if policy.time_limit_months and incident and label == "complaint" and not signals.get("escalation_request"):
        age = months_between(dt.date.fromisoformat(incident), received)
        if age > policy.time_limit_months:
            label, reason = "excluded", "time_expired"
            why.append(f"incident {incident} is {age:.0f} months before receipt; {policy.id} allows "
                       f"{policy.time_limit_months} ({policy.time_limit_source}); check it is not still going on")

    if label == "excluded" and reason:
        rule = policy.action_for(reason)
        if rule.action != "excluded":
            why.append(f"{policy.id} handles {reason.replace('_', ' ')} as a {rule.action.replace('_', ' ')}"
                       + (f" ({rule.route_to})" if rule.route_to else ""))
            label = rule.action
            reason = reason if rule.action == "service_request" else None
        else:
            why.append(f"{policy.id} refuses {reason.replace('_', ' ')}: signpost to {rule.route_to or 'the right place'}")

    hazard = signals.get("urgent_hazard")
    if hazard and label in ("service_request", "excluded") and reason in (None, "other_organisation", "neighbour_dispute"):
        if label == "excluded":
            why.append(f"urgent hazard ({hazard}): passed on now even though it is routed elsewhere")
        else:
            why.append(f"URGENT: {hazard.replace('_', ' ')} (Awaab's Law): act within 24 hours")

    needs_review = reading.confidence < threshold
    if policy.anonymous != "complaint" and signals.get("anonymous") and label == "complaint":
        why.append(f"anonymous: {policy.id} treats anonymous complaints as {policy.anonymous.replace('_', ' ')} "
                   f"({policy.anonymous_source})")
        needs_review = True
    if reason == "time_expired" and reading.reason != "time_expired":
        needs_review = True  # a date the rules found, not the model's reading: a person checks it
    if reading.confidence < threshold:
        needs_review = True
        why.append(f"low confidence {reading.confidence:.2f} < {threshold:.2f}: needs review")
    return Suggestion(policy.id, label, reason, needs_review, tuple(why))
