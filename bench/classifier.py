"""Classifier numbers for the README: quality on the development set against a TF-IDF + logistic regression
baseline trained on the same corpus, throughput on 10,000 messages, start-up to first answer, size on disk.

    .venv/bin/python bench/classifier.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from classifiers.evaluate import prf, score  # noqa: E402
from classifiers.pipeline import text_of  # noqa: E402
from classifiers.runtime import TriageModel, messages_from_records  # noqa: E402
from classifiers.train import load_records  # noqa: E402

DEV = ROOT.parent / "shared" / "data" / "dev-set.jsonl"
MODEL = ROOT / "classifiers" / "model"


def baseline(train: list[dict], dev: list[dict]) -> dict:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    x = vec.fit_transform([text_of(r.get("subject"), r["body"]) for r in train])
    label = LogisticRegression(max_iter=3000, C=10).fit(x, [r["label"] for r in train])
    pred = label.predict(vec.transform([text_of(r.get("subject"), r["body"]) for r in dev]))
    per = prf([r["label"] for r in dev], list(pred))
    excluded = [r for r in train if r["label"] == "excluded"]
    reason = LogisticRegression(max_iter=3000, C=10).fit(vec.transform([text_of(r.get("subject"), r["body"])
                                                                        for r in excluded]),
                                                         [r["reason"] for r in excluded])
    dev_ex = [r for r in dev if r["label"] == "excluded"]
    rpred = reason.predict(vec.transform([text_of(r.get("subject"), r["body"]) for r in dev_ex]))
    return {"macro_f1": sum(v["f1"] for v in per.values()) / 3,
            "reason_accuracy": sum(p == r["reason"] for p, r in zip(rpred, dev_ex)) / len(dev_ex)}


def main() -> None:
    train, dev = load_records(), load_records([DEV])
    model = TriageModel.load(MODEL)
    ours = score(model, dev)
    base = baseline(train, dev)
    print(f"development set: {len(dev)} records; training corpus: {len(train)} records")
    print(f"  spaCy pipeline   macro-F1 {ours['macro_f1']:.3f}  reason accuracy {ours['reason_accuracy']:.3f}")
    print(f"  TF-IDF + LogReg  macro-F1 {base['macro_f1']:.3f}  reason accuracy {base['reason_accuracy']:.3f}")
    print(f"  difference       {100 * (ours['macro_f1'] - base['macro_f1']):+.1f} points of macro-F1")
    print("  signals: " + ", ".join(f"{k} {v:.3f}" for k, v in ours["signal_accuracy"].items()))

    messages = messages_from_records(train)
    batch = (messages * (10_000 // len(messages) + 1))[:10_000]
    model.classify(batch[:200], "hos-code-2024")  # warm up
    t0 = time.perf_counter()
    model.classify(batch, "hos-code-2024")
    elapsed = time.perf_counter() - t0
    print(f"throughput: 10,000 messages in {elapsed:.2f} s = {10_000 / elapsed:,.0f} messages/s (one process, after load)")

    line = json.dumps({"id": 1, "body": "The lift has been broken for a week and nobody has come."}) + "\n"
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "bot", "classify"], input=line, text=True, capture_output=True,
                       cwd=ROOT, check=True)
        times.append(time.perf_counter() - t0)
    print(f"start-up to first answer (fresh `python -m bot classify`, 1 line): best {min(times):.2f} s, "
          f"worst {max(times):.2f} s")
    size = sum(p.stat().st_size for p in MODEL.rglob("*") if p.is_file())
    print(f"model on disk: {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
