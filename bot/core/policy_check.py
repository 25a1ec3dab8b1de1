"""Compares a landlord's policy profile with the Housing Ombudsman's Complaint Handling Code (2024).

Each finding names the topic, what the profile says (with its source) and the Code's rule beside it.
`departure` means the profile falls short of the Code; `stricter` means it promises more than the Code
(allowed); `note` records a difference worth knowing that the Code does not rule on.
"""

from __future__ import annotations

from dataclasses import dataclass

from .policy import REASONS, Policy, Stage


@dataclass(frozen=True)
class Finding:
    kind: str  # departure | stricter | note
    topic: str
    profile: str
    code: str

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "topic": self.topic, "profile": self.profile, "code": self.code}


def _latest_from_receipt(stage: Stage, target: str) -> int | None:
    """Working days from receipt by which `target` is due at the latest (response after acknowledgement
    counts the acknowledgement target too)."""
    t = stage.targets.get(target)
    if t is None:
        return None
    if t.counts_from == "acknowledgement":
        ack = stage.targets.get("acknowledge")
        return t.days + (ack.days if ack else 0)
    return t.days


def compare(profile: Policy, code: Policy) -> list[Finding]:
    out: list[Finding] = []
    add = lambda kind, topic, prof, rule: out.append(Finding(kind, topic, prof, rule))  # noqa: E731

    formal, code_formal = profile.formal_stages, code.formal_stages
    for informal in (s for s in profile.stages if s.informal):
        add("departure", "informal stage",
            f"'{informal.name}' is an informal stage before stage 1 with no clock ({informal.source})",
            "Code 5.2: no extra named stages such as 'stage 0' or 'informal complaint'")
    if len(formal) > len(code_formal):
        add("departure", "number of stages",
            f"{len(formal)} formal stages: " + ", ".join(s.name for s in formal),
            "Code 5.3: a process with more than two stages is not acceptable")

    for number, code_stage in enumerate(code_formal, start=1):
        if not profile.has_stage(number):
            continue
        stage = profile.stage(number)
        label = f"stage {number}"
        for target in ("acknowledge", "respond"):
            c = code_stage.targets[target]
            mine = stage.targets.get(target)
            rule = f"{c.source}"
            if mine is None:
                add("departure", f"{label} {target}", f"no {target} target ({stage.source})", rule)
                continue
            latest, code_latest = _latest_from_receipt(stage, target), _latest_from_receipt(code_stage, target)
            desc = f"{mine.days} working days from {mine.counts_from.replace('_', ' ')} ({mine.source})"
            if latest is not None and code_latest is not None and latest > code_latest:
                add("departure", f"{label} {target}", desc + f": up to {latest} working days after receipt",
                    rule + f": at most {code_latest} working days after receipt")
            elif latest is not None and code_latest is not None and latest < code_latest:
                add("stricter", f"{label} {target}", desc, rule)
        if stage.max_extension is None:
            add("departure", f"{label} extension",
                f"no maximum extension ({stage.extension_source or 'not stated'})", code_stage.extension_source)
        elif code_stage.max_extension is not None and stage.max_extension > code_stage.max_extension:
            add("departure", f"{label} extension", f"up to {stage.max_extension} working days ({stage.extension_source})",
                code_stage.extension_source)

    for stage in formal[len(code_formal):]:
        add("departure", f"stage {stage.number}",
            f"'{stage.name}' ({stage.source}) delays access to the Ombudsman",
            "Code 5.3: stage 2 is the landlord's final response")

    for stage in formal[:-1]:
        w = stage.next_stage
        if w is not None and w.days is not None:
            add("note", f"stage {stage.number} escalation window",
                f"{w.days} {w.unit} days to ask for stage {stage.number + 1} ({w.source})",
                "The Code sets no time limit for asking for stage 2; residents need not give reasons (Code 6.12)")

    if profile.time_limit_months is not None and code.time_limit_months is not None:
        if profile.time_limit_months < code.time_limit_months:
            add("departure", "time limit",
                f"complaints refused after {profile.time_limit_months} months ({profile.time_limit_source})",
                f"{code.time_limit_source}: complaints raised within 12 months must be accepted")

    if profile.ombudsman_wait_weeks:
        add("departure", "Ombudsman access",
            f"{profile.ombudsman_wait_weeks}-week wait before the Ombudsman ({profile.ombudsman_source})",
            code.ombudsman_source)

    if profile.anonymous == "excluded" and code.anonymous != "excluded":
        add("departure", "anonymous complaints", f"refused ({profile.anonymous_source})", code.anonymous_source)

    for reason in REASONS:
        mine, theirs = profile.reasons[reason], code.reasons[reason]
        if mine.inherited or mine.action == theirs.action:
            continue
        kind = "departure" if mine.action == "excluded" and theirs.action == "complaint" else "note"
        add(kind, f"reason {reason}", f"handled as {mine.action} ({mine.source})",
            f"the Code: {theirs.action} ({theirs.source})")

    if profile.pauses:
        add("note", "pauses", "clock paused for " + ", ".join(f"{k} ({v})" for k, v in profile.pauses.items()),
            "The Code provides no pause; extensions are capped (Code 6.4, 6.15)")
    for who, targets in profile.enquiries.items():
        spec = ", ".join(f"{n} in {t.days} working days" for n, t in targets.items())
        add("note", f"{who.replace('_', ' ')} enquiries", f"separate clock: {spec}",
            "The Code sets no separate clock: representatives' complaints follow the two stages")
    return out
