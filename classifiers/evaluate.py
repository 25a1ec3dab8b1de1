"""`python -m bot evaluate`: per-label precision/recall/F1, macro-F1, the confusion matrix, reason accuracy on
excluded records and signal accuracy, on the development set by default."""

from __future__ import annotations

from typing import Any

from bot.core.policy import LABELS

SIGNALS = ("escalation_request", "representative", "anonymous", "incident_date", "case_reference", "urgent_hazard")


def prf(gold: list[str], pred: list[str]) -> dict[str, dict[str, float]]:
    out = {}
    for label in LABELS:
        tp = sum(g == label and p == label for g, p in zip(gold, pred))
        fp = sum(g != label and p == label for g, p in zip(gold, pred))
        fn = sum(g == label and p != label for g, p in zip(gold, pred))
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out[label] = {"precision": precision, "recall": recall, "f1": f1, "support": tp + fn}
    return out


def _same_reference(gold: str | None, pred: str | None) -> bool:
    if not gold or not pred:
        return not gold and not pred
    norm = lambda s: "".join(ch for ch in s.lower() if ch.isalnum())  # noqa: E731
    return norm(pred) in norm(gold) or norm(gold) in norm(pred)


def score(nlp_or_model: Any, records: list[dict]) -> dict[str, Any]:
    """Scores of a model (a TriageModel or a bare spaCy pipeline) on labelled records."""
    from .runtime import TriageModel, messages_from_records
    model = nlp_or_model if isinstance(nlp_or_model, TriageModel) else TriageModel(nlp_or_model)
    readings = model.read(messages_from_records(records))
    gold = [r["label"] for r in records]
    pred = [x.label for x in readings]
    per = prf(gold, pred)
    confusion = {g: {p: sum(1 for a, b in zip(gold, pred) if a == g and b == p) for p in LABELS} for g in LABELS}
    excluded = [(r, x) for r, x in zip(records, readings) if r["label"] == "excluded"]
    reason_acc = sum(x.reason == r["reason"] for r, x in excluded) / len(excluded) if excluded else 0.0
    signal_acc = {}
    for key in SIGNALS:
        have = [(r, x) for r, x in zip(records, readings) if key in r.get("signals", {})]
        if not have:
            continue
        if key == "case_reference":
            ok = sum(_same_reference(r["signals"][key], x.signals.get(key)) for r, x in have)
        elif key == "urgent_hazard":
            ok = sum(bool(r["signals"][key]) == bool(x.signals.get(key)) for r, x in have)
        else:
            ok = sum(r["signals"][key] == x.signals.get(key) for r, x in have)
        signal_acc[key] = ok / len(have)
    return {"n": len(records), "per_label": per, "macro_f1": sum(v["f1"] for v in per.values()) / len(LABELS),
            "accuracy": sum(g == p for g, p in zip(gold, pred)) / len(records) if records else 0.0,
            "confusion": confusion, "reason_accuracy": reason_acc, "excluded": len(excluded),
            "signal_accuracy": signal_acc}


def render(s: dict[str, Any]) -> str:
    lines = [f"{s['n']} records", "", f"{'label':18}{'precision':>10}{'recall':>10}{'F1':>10}{'support':>9}"]
    for label, v in s["per_label"].items():
        lines.append(f"{label:18}{v['precision']:>10.3f}{v['recall']:>10.3f}{v['f1']:>10.3f}{v['support']:>9}")
    lines += [f"{'macro-F1':18}{'':>20}{s['macro_f1']:>10.3f}", f"{'accuracy':18}{'':>20}{s['accuracy']:>10.3f}", "",
              "confusion (rows: gold, columns: predicted)", f"{'':18}" + "".join(f"{p[:12]:>14}" for p in LABELS)]
    for g, row in s["confusion"].items():
        lines.append(f"{g:18}" + "".join(f"{row[p]:>14}" for p in LABELS))
    lines += ["", f"reason accuracy on {s['excluded']} excluded records: {s['reason_accuracy']:.3f}", "",
              "signal accuracy:"]
    lines += [f"  {k:20} {v:.3f}" for k, v in s["signal_accuracy"].items()]
    return "\n".join(lines)
