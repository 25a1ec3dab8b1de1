"""`python -m bot train`: builds the model deterministically from classifiers/data/*.jsonl.

Records of the development set are never read here. 10% of the training records (fixed seed) are held out
to pick the number of epochs by macro-F1; the model is then trained on every record for that many epochs.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from spacy.language import Language
from spacy.training import Example
from spacy.util import fix_random_seed, minibatch

from bot.core.policy import LABELS, REASONS

from .pipeline import build, text_of

DATA_DIR = Path(__file__).resolve().parent / "data"
SEED = 20261123
MAX_EPOCHS = 10
LEARN_RATE = 0.01  # normalised features give small logits: 10x Adam's default (chosen by cross-validation)


def load_records(paths: list[Path] | None = None) -> list[dict[str, Any]]:
    files = paths or sorted(DATA_DIR.glob("*.jsonl"))
    records = []
    for f in files:
        with f.open(encoding="utf-8") as fh:
            records += [json.loads(line) for line in fh if line.strip()]
    return records


def _examples(nlp: Language, records: list[dict], cats: Callable[[dict], dict[str, float]]) -> list[Example]:
    return [Example.from_dict(nlp.make_doc(text_of(r.get("subject"), r["body"])), {"cats": cats(r)})
            for r in records]


def _label_cats(r: dict) -> dict[str, float]:
    return {name: float(r["label"] == name) for name in LABELS}


def _reason_cats(r: dict) -> dict[str, float]:
    return {name: float(r["reason"] == name) for name in REASONS}


def _fit(records: list[dict], epochs: int, on_epoch: Callable[[Language, int], None] | None = None) -> Language:
    fix_random_seed(SEED)
    nlp = build()
    label_ex = _examples(nlp, records, _label_cats)
    reason_ex = _examples(nlp, [r for r in records if r["label"] == "excluded"], _reason_cats)
    optimizer = nlp.initialize()
    optimizer.learn_rate = LEARN_RATE
    rng = random.Random(SEED)
    for epoch in range(epochs):
        rng.shuffle(label_ex)
        rng.shuffle(reason_ex)
        for batch in minibatch(label_ex, size=16):
            nlp.update(batch, sgd=optimizer, drop=0.2, exclude=["reason", "signal_rules"])
        for batch in minibatch(reason_ex, size=16):
            nlp.update(batch, sgd=optimizer, drop=0.2, exclude=["label", "signal_rules"])
        if on_epoch:
            on_epoch(nlp, epoch + 1)
    return nlp


@dataclass
class TrainReport:
    records: int
    epochs: int
    holdout_macro_f1: float
    holdout_reason_accuracy: float
    seconds: float
    path: Path
    size_bytes: int


def train(out_dir: Path, records: list[dict] | None = None, log: Callable[[str], None] = print) -> TrainReport:
    from .evaluate import score
    started = time.monotonic()
    records = records if records is not None else load_records()
    ordered = sorted(records, key=lambda r: r["id"])
    random.Random(SEED).shuffle(ordered)
    cut = len(ordered) // 10
    holdout, rest = ordered[:cut], ordered[cut:]
    history: list[tuple[float, float, int]] = []

    def on_epoch(nlp: Language, epoch: int) -> None:
        s = score(nlp, holdout)
        history.append((s["macro_f1"], s["reason_accuracy"], epoch))
        log(f"  epoch {epoch}: held-out macro-F1 {s['macro_f1']:.3f}, reason accuracy {s['reason_accuracy']:.3f}")

    log(f"choosing epochs on {len(holdout)} held-out training records ({len(rest)} to learn from)")
    _fit(rest, MAX_EPOCHS, on_epoch)
    best_f1, best_reason, best_epoch = max(history, key=lambda h: (round(h[0] + 0.5 * h[1], 4), -h[2]))
    log(f"training on all {len(ordered)} records for {best_epoch} epochs")
    nlp = _fit(ordered, best_epoch)
    out_dir.mkdir(parents=True, exist_ok=True)
    nlp.meta["name"] = "complaints_triage"
    nlp.meta["version"] = "1.0.0"
    nlp.meta["description"] = "Triage of UK social housing complaints: label, exclusion reason and signals"
    nlp.meta["training"] = {"records": len(ordered), "epochs": best_epoch, "seed": SEED,
                            "holdout_macro_f1": best_f1, "holdout_reason_accuracy": best_reason}
    nlp.to_disk(out_dir)
    size = sum(p.stat().st_size for p in out_dir.rglob("*") if p.is_file())
    return TrainReport(len(ordered), best_epoch, best_f1, best_reason, time.monotonic() - started, out_dir, size)
