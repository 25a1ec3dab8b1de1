"""Every profile loads, and its deadlines match the numbers its own document gives."""

import datetime as dt
import json

import pytest
from click.testing import CliRunner

from bot import policies
from bot.cli import main
from bot.core.errors import ConfigError
from bot.core.policy import REASONS, Policy
from bot.core.policy_check import compare

D = dt.date
UTC = dt.timezone.utc
ALL = ["hos-code-2024", "kctmo-2010", "rbkc-housing-2021", "west-kent-2011", "kingston", "ccrmo"]


def deadlines(*args):
    result = CliRunner().invoke(main, ["deadlines", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_all_six_profiles_load_with_every_reason():
    assert policies.available() == sorted(ALL)
    for name in ALL:
        p = policies.load(name)
        assert set(p.reasons) == set(REASONS)
        for stage in p.formal_stages:
            for target in stage.targets.values():
                assert target.source, f"{name} stage {stage.number} {target.name} cites no source"


# Monday 2 March 2026, 10:00 GMT: no holidays within four weeks.
PLAIN = "2026-03-02T10:00:00Z"


@pytest.mark.parametrize("policy,stage,expected", [
    # Code 6.2/6.3: acknowledge in 5, respond 10 after the acknowledgement (from the deadline until there is one)
    ("hos-code-2024", 1, {"acknowledge": "2026-03-09", "respond": "2026-03-23"}),
    # Code 6.11/6.14: 5 then 20
    ("hos-code-2024", 2, {"acknowledge": "2026-03-09", "respond": "2026-04-08"}),  # Easter: 3 and 6 April
    # KCTMO: 2 / 10 from receipt, holding 3 before, draft 1 before; stage 3: 28 working days
    ("kctmo-2010", 1, {"acknowledge": "2026-03-04", "respond": "2026-03-16",
                       "holding_response": "2026-03-11", "draft_response": "2026-03-13"}),
    ("kctmo-2010", 3, {"acknowledge": "2026-03-04", "respond": "2026-04-13",
                       "holding_response": "2026-04-08", "draft_response": "2026-04-10"}),
    # RBKC 2021: no acknowledgement target; 10, then 20
    ("rbkc-housing-2021", 1, {"respond": "2026-03-16"}),
    ("rbkc-housing-2021", 2, {"respond": "2026-03-30"}),
    # West Kent: 2 / 10, holding response by the deadline; stage 3 panel arranged in 10
    ("west-kent-2011", 1, {"acknowledge": "2026-03-04", "respond": "2026-03-16", "holding_response": "2026-03-16"}),
    ("west-kent-2011", 3, {"acknowledge": "2026-03-04", "arrange_panel": "2026-03-16"}),
    # Kingston housing landlord: 5 / 10, then 5 / 20
    ("kingston", 1, {"acknowledge": "2026-03-09", "respond": "2026-03-16"}),
    ("kingston", 2, {"acknowledge": "2026-03-09", "respond": "2026-03-30"}),
    # CCRMO: Local Resolution answered in 20; the Review states no times
    ("ccrmo", 1, {"respond": "2026-03-30"}),
    ("ccrmo", 2, {}),
])
def test_deadlines_from_the_documents_numbers(policy, stage, expected):
    out = deadlines("--policy", policy, "--received", PLAIN, "--stage", str(stage))
    assert out == {"policy": policy, "stage": stage, "region": "ENG", "start": "2026-03-02", "deadlines": expected}


def test_christmas_and_new_year():
    out = deadlines("--policy", "hos-code-2024", "--received", "2025-12-24T10:00:00Z")
    assert out["start"] == "2025-12-24"
    assert out["deadlines"] == {"acknowledge": "2026-01-05", "respond": "2026-01-19"}


def test_christmas_eve_after_cutoff_under_kctmo():
    out = deadlines("--policy", "kctmo-2010", "--received", "2025-12-24T17:05:00+00:00")
    assert out["start"] == "2025-12-29"
    assert out["deadlines"]["acknowledge"] == "2025-12-31"
    assert out["deadlines"]["respond"] == "2026-01-13"


def test_easter():
    out = deadlines("--policy", "hos-code-2024", "--received", "2026-04-02T11:00:00Z")
    assert out["deadlines"]["acknowledge"] == "2026-04-13"


def test_scottish_and_northern_irish_holidays():
    scot = deadlines("--policy", "hos-code-2024", "--received", "2026-11-27T10:00:00Z", "--region", "SCT")
    eng = deadlines("--policy", "hos-code-2024", "--received", "2026-11-27T10:00:00Z", "--region", "ENG")
    assert (scot["region"], scot["deadlines"]["acknowledge"]) == ("SCT", "2026-12-07")  # St Andrew's Day
    assert eng["deadlines"]["acknowledge"] == "2026-12-04"
    ni = deadlines("--policy", "kctmo-2010", "--received", "2026-03-16T10:00:00Z", "--region", "NIR")
    assert ni["deadlines"]["acknowledge"] == "2026-03-19"  # St Patrick's Day
    new_year = deadlines("--policy", "hos-code-2024", "--received", "2025-12-31T10:00:00Z", "--region", "SCT")
    assert new_year["deadlines"]["acknowledge"] == "2026-01-09"  # 1 and 2 January


def test_weekend_and_after_cutoff_receipt():
    assert deadlines("--policy", "kctmo-2010", "--received", "2026-03-07T09:00:00Z")["start"] == "2026-03-09"
    assert deadlines("--policy", "kctmo-2010", "--received", "2026-03-10T17:00:00Z")["start"] == "2026-03-11"


def test_utc_timestamp_in_british_summer_time():
    # 16:30 UTC is 17:30 BST: after the cut-off on Friday 12 June 2026, so day 0 is Monday 15 June.
    out = deadlines("--policy", "hos-code-2024", "--received", "2026-06-12T16:30:00Z")
    assert out["start"] == "2026-06-15"
    assert out["deadlines"] == {"acknowledge": "2026-06-22", "respond": "2026-07-06"}


def test_response_moves_with_the_actual_acknowledgement():
    early = deadlines("--policy", "hos-code-2024", "--received", PLAIN, "--acknowledged", "2026-03-03")
    assert early["deadlines"]["respond"] == "2026-03-17"
    # counting from receipt, KCTMO's response date does not move
    k = deadlines("--policy", "kctmo-2010", "--received", PLAIN, "--acknowledged", "2026-03-03")
    assert k["deadlines"]["respond"] == "2026-03-16"


def test_member_enquiry_clocks():
    out = deadlines("--policy", "rbkc-housing-2021", "--received", PLAIN, "--representative", "mp")
    assert out["deadlines"]["mp_enquiry_respond"] == "2026-03-09"
    out = deadlines("--policy", "kctmo-2010", "--received", PLAIN, "--representative", "councillor")
    assert out["deadlines"]["councillor_enquiry_draft"] == "2026-03-13"


def test_bad_arguments_give_one_clear_line():
    result = CliRunner().invoke(main, ["deadlines", "--policy", "nope", "--received", PLAIN])
    assert result.exit_code == 2 and "no profile 'nope'" in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(main, ["deadlines", "--received", "yesterday"])
    assert result.exit_code == 2 and "--received: not an ISO-8601" in result.output
    result = CliRunner().invoke(main, ["deadlines", "--policy", "ccrmo", "--received", PLAIN, "--stage", "3"])
    assert result.exit_code == 2 and "has no stage 3" in result.output


def findings(name):
    return {(f.kind, f.topic) for f in compare(policies.load(name), policies.load("hos-code-2024"))}


def test_policy_check_lists_the_real_departures():
    assert findings("hos-code-2024") == set()
    k = findings("kctmo-2010")
    assert {("departure", "number of stages"), ("departure", "stage 3"), ("departure", "anonymous complaints"),
            ("departure", "stage 1 extension")} <= k
    assert ("stricter", "stage 1 acknowledge") in k
    r = findings("rbkc-housing-2021")
    assert {("departure", "stage 1 acknowledge"), ("departure", "stage 2 acknowledge"),
            ("departure", "Ombudsman access"), ("departure", "reason policy_disagreement")} <= r
    w = findings("west-kent-2011")
    assert ("departure", "number of stages") in w and ("departure", "Ombudsman access") not in w
    g = findings("kingston")
    assert {("departure", "Ombudsman access"), ("departure", "reason compensation_only")} <= g
    assert ("departure", "reason policy_disagreement") not in g  # Kingston treats it as a complaint
    c = findings("ccrmo")
    assert {("departure", "informal stage"), ("departure", "time limit"), ("departure", "stage 1 respond"),
            ("departure", "stage 2 respond"), ("departure", "Ombudsman access")} <= c
    assert ("departure", "number of stages") not in c  # Early Resolution is informal, not a third stage


def test_policy_check_command_prints_the_codes_rule():
    result = CliRunner().invoke(main, ["policy", "check", "ccrmo"])
    assert result.exit_code == 0
    assert "Code 5.2" in result.output and "8-week wait" in result.output
    assert "Code:" in result.output


def test_invalid_profile_names_the_key():
    base = policies.load("hos-code-2024")
    with pytest.raises(ConfigError, match=r"stages\[0\].targets.respond.from must be one of"):
        Policy.from_mapping({"id": "x", "stages": [{"number": 1, "targets": {"respond": {"days": 5, "from": "moon"}}}]},
                            defaults=base)
    with pytest.raises(ConfigError, match="reasons.time_expired.action must be one of"):
        Policy.from_mapping({"id": "x", "stages": [], "reasons": {"time_expired": {"action": "ignore"}}}, defaults=base)
    with pytest.raises(ConfigError, match="formal stages must be numbered"):
        Policy.from_mapping({"id": "x", "stages": [{"number": 2}]}, defaults=base)
