"""The trained spaCy pipeline on examples written for these tests (never the development set)."""

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path


from classifiers.runtime import Message, TriageModel

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "classifiers" / "model"
UTC = dt.timezone.utc


def one(model, body, subject=None, channel="email", sender="resident@example.org", policy="hos-code-2024",
        received=dt.datetime(2026, 3, 2, 10, tzinfo=UTC)):
    return model.classify([Message(body, subject, channel, sender, received)], policy)[0]


def test_labels(model):
    assert one(model, "This is the third time I have reported the leak under my sink. Your plumber never turned up "
                      "on Tuesday and nobody rang to cancel. I am fed up with being ignored.")["label"] == "complaint"
    assert one(model, "Hello, the light on the landing outside flat 12 has stopped working. Could someone replace "
                      "it please? Thanks, Joy", subject="landing light")["label"] == "service_request"
    r = one(model, "The family upstairs have parties every weekend until 4am and their dog barks all day. "
                   "I want you to stop them.", subject="Noise from upstairs neighbours")
    assert (r["label"], r["reason"]) == ("excluded", "neighbour_dispute")
    r = one(model, "I just wanted to say thank you to Marcus the caretaker who cleared the snow from our path "
                   "so my mum could get to her appointment. Brilliant service.")
    assert (r["label"], r["reason"]) == ("excluded", "compliment_or_comment")


def test_signals(model):
    s = one(model, "I am not satisfied with your stage 1 response to complaint CMP-2026-00311. Please escalate it "
                   "to stage 2.")["signals"]
    assert s["escalation_request"] and s["case_reference"] == "CMP-2026-00311"
    s = one(model, "I am writing on behalf of my constituent Mrs Adaeze Obi of 4 Fern Road, who has waited since "
                   "January for her broken window to be repaired.\n\nYours sincerely\n\nOffice of Tom Hale MP")["signals"]
    assert s["representative"] == "mp"
    s = one(model, "As ward councillor for Riverside I have been contacted by several residents of Bloom House "
                   "about the lift being out for a fortnight.")["signals"]
    assert s["representative"] == "councillor"
    s = one(model, "I am a support worker with the local mental health team writing on behalf of my client, "
                   "Mr Peter Lodge, who has given consent. His front door lock is broken.")["signals"]
    assert s["representative"] == "advocate"
    s = one(model, "Caller wouldn't give their name. Says the bin chute on floor 6 of Marsh Tower is blocked.",
            channel="slack", sender="kim.o (Contact Centre)")["signals"]
    assert s["anonymous"]
    s = one(model, "The boiler has been broken since last Tuesday and my 88 year old father has no heating.")["signals"]
    assert s["incident_date"] == "2026-02-24" and s["urgent_hazard"] == "no_heating_vulnerable"
    assert one(model, "There is a smell of gas on the stairs of Block B.")["signals"]["urgent_hazard"] == "gas"
    plain = one(model, "Please can you send me a copy of my tenancy agreement.")["signals"]
    assert not plain["escalation_request"] and plain["representative"] is None and plain["urgent_hazard"] is None


def test_routing_by_policy(model):
    body = ("I think your policy of banning all pets in the flats is unfair and should be changed. It is cruel "
            "to make people give up animals and other landlords allow cats. I disagree with the policy itself.")
    assert one(model, body)["reason"] == "policy_disagreement"
    assert one(model, body, policy="hos-code-2024")["suggestion"]["label"] == "complaint"   # no blanket exclusion
    assert one(model, body, policy="rbkc-housing-2021")["suggestion"]["label"] == "excluded"  # RBKC s.5


def test_time_limit_from_the_incident_date(model):
    body = "In August 2025 your contractor broke my fence panel and did not replace it. The fence is still broken."
    code = one(model, body)["suggestion"]
    ccrmo = one(model, body, policy="ccrmo")["suggestion"]
    assert code["reason"] != "time_expired"
    assert (ccrmo["label"], ccrmo["reason"], ccrmo["needs_review"]) == ("excluded", "time_expired", True)


def test_why_is_short_enough_for_a_card(model):
    r = one(model, "Still no repair to the damp in my son's bedroom; his asthma is worse. Third time of asking.")
    assert r["why"][0].startswith("scores:") and sum(len(w) for w in r["why"]) < 600
    assert 0.0 <= r["confidence"] <= 1.0 and abs(sum(r["scores"].values()) - 1.0) < 0.01


def test_classify_command_keeps_order_and_reports_bad_lines():
    lines = [json.dumps({"id": "a", "body": "The lift is broken again, fourth time this month."}), "{broken json",
             json.dumps({"id": "b"}), json.dumps({"id": "c", "body": "thank you for fixing my door so quickly",
                                                  "received_at": "yesterday"}),
             json.dumps({"id": "d", "body": "Can I have a new key fob please", "channel": "slack"})]
    proc = subprocess.run([sys.executable, "-m", "bot", "classify"], input="\n".join(lines) + "\n", text=True,
                          capture_output=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(x) for x in proc.stdout.splitlines()]
    assert [o.get("id") for o in out] == ["a", None, "b", "c", "d"]
    assert out[1]["line"] == 2 and "not valid JSON" in out[1]["error"]
    assert out[2]["line"] == 3 and "needs 'id'" in out[2]["error"]
    assert out[3]["line"] == 4 and "received_at" in out[3]["error"]
    assert out[0]["label"] in ("complaint", "service_request", "excluded") and out[4]["suggestion"]["policy"]


def test_needs_review_below_the_threshold(model):
    strict = TriageModel(model.nlp, threshold=0.999)
    r = strict.classify([Message("the door")], "hos-code-2024")[0]
    assert r["suggestion"]["needs_review"]


def test_an_empty_message_in_a_batch_does_not_cost_the_others_their_reading(model):
    """spaCy's n-gram extraction fails on an empty document batched with others; the empty one is read as a
    placeholder and marked for review like any low-confidence reading."""
    boiler = Message("The boiler has broken, no heating since Monday", "Boiler")
    out = model.classify([Message(""), boiler, Message("   ")], "hos-code-2024")
    alone = model.classify([boiler], "hos-code-2024")[0]
    assert len(out) == 3 and out[1]["scores"] == alone["scores"]
    assert out[0]["suggestion"]["needs_review"] and out[2]["suggestion"]["needs_review"]
