"""A landlord's complaints policy profile: stages, working-day targets, exclusions, pauses, calendar.

Profiles are written in TOML (config/policies/NAME.toml) with the source section cited next to every
number; this module turns the parsed mapping into frozen objects and validates it. It reads no files:
the loader in `bot.policies` does that.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, Mapping

from .calendar import REGIONS, WorkingCalendar
from .errors import ConfigError, PolicyError

LABELS = ("complaint", "service_request", "excluded")
REASONS = (
    "neighbour_dispute", "legal_proceedings", "insurance_claim", "serious_allegation",
    "employment_matter", "councillor_conduct", "data_breach", "rent_or_charge_level",
    "policy_disagreement", "other_organisation", "previously_concluded", "time_expired",
    "compensation_only", "information_request", "compliment_or_comment",
)
ACTIONS = LABELS  # what a landlord does with a reason: refuse (excluded), or handle as complaint / service request
COUNTS_FROM = ("receipt", "escalation_request", "acknowledgement")
UNITS = ("working", "calendar")
HANDLINGS = ("complaint", "service_request", "excluded")

Action = Literal["complaint", "service_request", "excluded"]


@dataclass(frozen=True)
class Target:
    """A working-day target: `days` after what it counts from."""

    name: str
    days: int
    counts_from: str = "receipt"  # receipt (of the complaint, or of the escalation request) | acknowledgement
    source: str = ""


@dataclass(frozen=True)
class LeadTime:
    """A date that comes `days_before` working days before the response deadline (holding / draft response)."""

    days_before: int
    source: str = ""


@dataclass(frozen=True)
class Window:
    """Time allowed after a stage's outcome to ask for the next stage, and when an unanswered case closes."""

    days: int | None
    unit: str = "working"
    auto_close_after: int | None = None  # working days after the outcome; None: closes when the window passes
    auto_close: bool = True
    source: str = ""


@dataclass(frozen=True)
class Stage:
    number: int  # 1 = the first formal stage; 0 = an informal stage with no clock (the Code allows none)
    name: str
    targets: Mapping[str, Target]
    informal: bool = False
    holding_response: LeadTime | None = None
    draft_response: LeadTime | None = None
    max_extension: int | None = None  # working days; None = the policy sets no cap
    extension_source: str = ""
    next_stage: Window | None = None
    source: str = ""

    def target(self, name: str) -> Target:
        try:
            return self.targets[name]
        except KeyError:
            raise PolicyError(f"stage {self.number} ({self.name}) has no {name!r} target") from None


@dataclass(frozen=True)
class ReasonRule:
    action: Action
    route_to: str = ""
    source: str = ""
    inherited: bool = False  # not stated in this policy: the Code's handling applies


@dataclass(frozen=True)
class Policy:
    id: str
    name: str
    source_document: str
    stages: tuple[Stage, ...]
    reasons: Mapping[str, ReasonRule]
    region: str = "ENG"
    closures: frozenset[dt.date] = frozenset()
    cutoff: dt.time = dt.time(17, 0)
    time_limit_months: int | None = None
    time_limit_source: str = ""
    anonymous: str = "complaint"
    anonymous_source: str = ""
    enquiries: Mapping[str, Mapping[str, Target]] = field(default_factory=dict)
    enquiries_source: str = ""
    pauses: Mapping[str, str] = field(default_factory=dict)  # reason -> source
    ombudsman_wait_weeks: int | None = None
    ombudsman_source: str = ""
    cutoff_source: str = ""
    region_source: str = ""

    # -- reading -----------------------------------------------------------------------------------
    @property
    def formal_stages(self) -> tuple[Stage, ...]:
        return tuple(s for s in self.stages if not s.informal)

    def stage(self, number: int) -> Stage:
        for s in self.stages:
            if s.number == number:
                return s
        formal = ", ".join(str(s.number) for s in self.formal_stages)
        raise PolicyError(f"policy {self.id} has no stage {number} (its stages: {formal})")

    def has_stage(self, number: int) -> bool:
        return any(s.number == number and not s.informal for s in self.stages)

    def calendar(self, region: str | None = None) -> WorkingCalendar:
        return WorkingCalendar(region=region or self.region, closures=self.closures, cutoff=self.cutoff)

    def action_for(self, reason: str) -> ReasonRule:
        try:
            return self.reasons[reason]
        except KeyError:
            raise PolicyError(f"policy {self.id} has no rule for reason {reason!r}") from None

    # -- building ----------------------------------------------------------------------------------
    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], defaults: "Policy | None" = None) -> "Policy":
        """Build and validate a profile; reasons it does not mention take the `defaults` profile's rule."""
        pid = _req(data, "id", str, "policy")
        where = f"policy {pid}"
        stages = tuple(_stage(s, f"{where}: stages[{i}]") for i, s in enumerate(_req(data, "stages", list, where)))
        numbers = [s.number for s in stages]
        formal = [s.number for s in stages if not s.informal]
        if formal != list(range(1, len(formal) + 1)):
            raise ConfigError(f"{where}: formal stages must be numbered 1, 2, ... in order (got {numbers})")
        if len(set(numbers)) != len(numbers):
            raise ConfigError(f"{where}: stage numbers must be unique (got {numbers})")
        reasons = _reasons(data.get("reasons", {}), where, defaults)
        region = data.get("region", "ENG")
        if region not in REGIONS:
            raise ConfigError(f"{where}: region must be one of {', '.join(REGIONS)} (got {region!r})")
        anonymous = _sub(data, "anonymous", where)
        handling = anonymous.get("handling", "complaint")
        if handling not in HANDLINGS:
            raise ConfigError(f"{where}: anonymous.handling must be one of {', '.join(HANDLINGS)} (got {handling!r})")
        limit = _sub(data, "time_limit", where)
        ombudsman = _sub(data, "ombudsman", where)
        pauses = {k: str(v.get("source", "")) for k, v in _sub(data, "pauses", where).items() if v.get("allowed", True)}
        enquiries_raw = _sub(data, "enquiries", where)
        enquiries = {
            who: MappingProxyType({n: _target(n, t, f"{where}: enquiries.{who}.{n}") for n, t in spec.items()
                                   if n != "source"})
            for who, spec in enquiries_raw.items() if who != "source"
        }
        return cls(
            id=pid,
            name=str(data.get("name", pid)),
            source_document=str(data.get("source", "")),
            stages=stages,
            reasons=MappingProxyType(reasons),
            region=region,
            region_source=str(data.get("region_source", "")),
            closures=frozenset(_date(d, f"{where}: closures") for d in data.get("closures", [])),
            cutoff=_time(data.get("cutoff", "17:00"), f"{where}: cutoff"),
            cutoff_source=str(data.get("cutoff_source", "")),
            time_limit_months=_opt_int(limit.get("months"), f"{where}: time_limit.months"),
            time_limit_source=str(limit.get("source", "")),
            anonymous=handling,
            anonymous_source=str(anonymous.get("source", "")),
            enquiries=MappingProxyType(enquiries),
            enquiries_source=str(enquiries_raw.get("source", "")),
            pauses=MappingProxyType(pauses),
            ombudsman_wait_weeks=_opt_int(ombudsman.get("wait_weeks"), f"{where}: ombudsman.wait_weeks"),
            ombudsman_source=str(ombudsman.get("source", "")),
        )


# -- validation helpers ------------------------------------------------------------------------------
def _req(data: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    if key not in data:
        raise ConfigError(f"{where}: {key} is required")
    value = data[key]
    if not isinstance(value, kind):
        raise ConfigError(f"{where}: {key} must be a {kind.__name__} (got {value!r})")
    return value


def _sub(data: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: {key} must be a table (got {value!r})")
    return value


def _opt_int(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ConfigError(f"{where}: must be a whole number of days/weeks/months >= 0 (got {value!r})")
    return value


def _date(value: Any, where: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(f"{where}: dates must be YYYY-MM-DD (got {value!r})") from None


def _time(value: Any, where: str) -> dt.time:
    if isinstance(value, dt.time):
        return value
    try:
        return dt.time.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(f"{where}: must be a time HH:MM (got {value!r})") from None


def _target(name: str, spec: Any, where: str) -> Target:
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{where}: must be a table with days, from and source (got {spec!r})")
    days = _opt_int(spec.get("days"), f"{where}.days")
    if days is None:
        raise ConfigError(f"{where}.days is required")
    counts_from = spec.get("from", "receipt")
    if counts_from not in COUNTS_FROM:
        raise ConfigError(f"{where}.from must be one of {', '.join(COUNTS_FROM)} (got {counts_from!r})")
    if counts_from == "escalation_request":
        counts_from = "receipt"  # at later stages, receipt is receipt of the escalation request
    return Target(name=name, days=days, counts_from=counts_from, source=str(spec.get("source", "")))


def _lead(spec: Any, where: str) -> LeadTime | None:
    if spec is None:
        return None
    days = _opt_int(spec.get("days_before"), f"{where}.days_before")
    if days is None:
        raise ConfigError(f"{where}.days_before is required")
    return LeadTime(days_before=days, source=str(spec.get("source", "")))


def _window(spec: Any, where: str) -> Window | None:
    if spec is None:
        return None
    unit = spec.get("unit", "working")
    if unit not in UNITS:
        raise ConfigError(f"{where}.unit must be one of {', '.join(UNITS)} (got {unit!r})")
    return Window(
        days=_opt_int(spec.get("days"), f"{where}.days"),
        unit=unit,
        auto_close_after=_opt_int(spec.get("auto_close_after"), f"{where}.auto_close_after"),
        auto_close=bool(spec.get("auto_close", True)),
        source=str(spec.get("source", "")),
    )


def _stage(spec: Any, where: str) -> Stage:
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{where}: must be a table")
    number = _opt_int(spec.get("number"), f"{where}.number")
    if number is None:
        raise ConfigError(f"{where}.number is required")
    targets = {n: _target(n, t, f"{where}.targets.{n}") for n, t in _sub(spec, "targets", where).items()}
    informal = bool(spec.get("informal", False))
    if informal and targets:
        raise ConfigError(f"{where}: an informal stage has no clock, so it cannot have targets")
    if "respond" not in targets and any(k in spec for k in ("holding_response", "draft_response")):
        raise ConfigError(f"{where}: holding and draft response dates need a respond target")
    ext = _sub(spec, "extension", where)
    return Stage(
        number=number,
        name=str(spec.get("name", f"Stage {number}")),
        targets=MappingProxyType(targets),
        informal=informal,
        holding_response=_lead(spec.get("holding_response"), f"{where}.holding_response"),
        draft_response=_lead(spec.get("draft_response"), f"{where}.draft_response"),
        max_extension=_opt_int(ext.get("max_days"), f"{where}.extension.max_days"),
        extension_source=str(ext.get("source", "")),
        next_stage=_window(spec.get("next_stage"), f"{where}.next_stage"),
        source=str(spec.get("source", "")),
    )


def _reasons(spec: Any, where: str, defaults: Policy | None) -> dict[str, ReasonRule]:
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{where}: reasons must be a table")
    unknown = set(spec) - set(REASONS)
    if unknown:
        raise ConfigError(f"{where}: unknown reasons {sorted(unknown)}; allowed: {', '.join(REASONS)}")
    out: dict[str, ReasonRule] = {}
    for reason in REASONS:
        if reason in spec:
            rule = spec[reason]
            action = rule.get("action") if isinstance(rule, Mapping) else None
            if action not in ACTIONS:
                raise ConfigError(f"{where}: reasons.{reason}.action must be one of {', '.join(ACTIONS)} (got {action!r})")
            out[reason] = ReasonRule(action=action, route_to=str(rule.get("route_to", "")),
                                     source=str(rule.get("source", "")))
        elif defaults is not None:
            base = defaults.reasons[reason]
            out[reason] = ReasonRule(action=base.action, route_to=base.route_to,
                                     source=f"not stated in this policy; the Code's handling applies ({base.source})",
                                     inherited=True)
        else:
            raise ConfigError(f"{where}: reasons.{reason} is required in a base profile")
    return out
