"""The classifier adapter: loads the trained pipeline once and reads messages in batches.

The bot's intake and `python -m bot classify` use the same `TriageModel.classify`, so a message gets the
same suggestion whichever way it arrives.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import spacy
from spacy.language import Language

from bot import policies
from bot.core.policy import LABELS, REASONS
from bot.core.triage import Reading, suggest

from . import signals as signal_rules
from .pipeline import text_of

log = logging.getLogger("bot.classifier")


@dataclass(frozen=True)
class Message:
    body: str
    subject: str | None = None
    channel: str = "email"
    sender: str | None = None
    received_at: dt.datetime | None = None


class TriageModel:
    def __init__(self, nlp: Language, threshold: float = 0.6) -> None:
        self.nlp, self.threshold = nlp, threshold

    @classmethod
    def load(cls, path: Path, threshold: float = 0.6) -> "TriageModel":
        return cls(spacy.load(path), threshold)

    def read(self, messages: Sequence[Message], batch_size: int = 256) -> list[Reading]:
        docs = (self._doc(text_of(m.subject, m.body)) for m in messages)
        return [self._reading(doc, m) for doc, m in zip(self.nlp.pipe(docs, batch_size=batch_size), messages)]

    def _doc(self, text: str) -> Any:
        """Tokenise here and keep the text on the doc: rebuilding doc.text from its tokens costs 0.5 ms.
        An empty message is read as "(empty message)": spaCy's n-gram extraction fails on an empty doc
        batched with others, which would leave the whole batch without suggestions."""
        doc = self.nlp.make_doc(text if text.strip() else "(empty message)")
        doc.user_data["text"] = text
        return doc

    def _reading(self, doc: Any, m: Message) -> Reading:
        scores = {name: round(float(doc.cats.get(name, 0.0)), 4) for name in LABELS}
        label = max(scores, key=scores.get)
        confidence = scores[label]
        sig = signal_rules.read_signals(doc, m.received_at, m.channel, m.sender)
        why = list(sig.rules)
        if sig.escalation_request and label != "complaint":
            why.append(f"escalation request is a complaint (label guide); model said {label}")
            label, confidence = "complaint", max(confidence, scores["complaint"])
        reason = None
        if label == "excluded":
            reasons = {name: float(doc.cats.get(name, 0.0)) for name in REASONS}
            reason = max(reasons, key=reasons.get)
            why.append(f"reason {reason.replace('_', ' ')} ({reasons[reason]:.2f})")
        ranked = sorted(scores.items(), key=lambda kv: -kv[1])
        why.insert(0, "scores: " + ", ".join(f"{k.replace('_', ' ')} {v:.2f}" for k, v in ranked))
        return Reading(label, reason, round(confidence, 4), scores, sig.as_dict(), tuple(why))

    def classify(self, messages: Sequence[Message], policy_name: str) -> list[dict[str, Any]]:
        """Reading + the policy's suggestion, in the shape `python -m bot classify` prints."""
        return self.classify_each(messages, [policy_name] * len(messages))

    def classify_each(self, messages: Sequence[Message], policy_names: Sequence[str]) -> list[dict[str, Any]]:
        out = []
        for m, reading, name in zip(messages, self.read(messages), policy_names):
            policy = policies.load(name)
            received = (m.received_at or dt.datetime.now(dt.timezone.utc))
            day = policy.calendar().local(received).date() if isinstance(received, dt.datetime) else received
            s = suggest(reading, policy, day, self.threshold)
            out.append({"label": reading.label, "reason": reading.reason, "confidence": reading.confidence,
                        "scores": reading.scores, "signals": reading.signals, "suggestion": s.as_dict(),
                        "why": list(reading.why) + list(s.why)})
        return out


class IntakeClassifier:
    """The port the intake calls (bot.intake.Classifier): one message at a time."""

    def __init__(self, model: TriageModel) -> None:
        self.model = model

    def __call__(self, msg: Any, policy_name: str) -> dict[str, Any]:
        return self.many([msg], [policy_name])[0]

    def many(self, msgs: Sequence[Any], policy_names: Sequence[str]) -> list[dict[str, Any]]:
        """One pass of the model over a batch (an IMAP chunk)."""
        return self.model.classify_each([_message(m) for m in msgs], policy_names)


def _message(msg: Any) -> Message:
    sender = msg.sender if msg.channel == "email" else (msg.forwarded_by or msg.sender)
    return Message(body=msg.text, subject=msg.subject, channel=msg.channel, sender=sender,
                   received_at=msg.received_at)


def load_classifier(settings: Any) -> IntakeClassifier | None:
    path = settings.model_dir
    if not (path / "meta.json").is_file():
        log.warning("classifier: off: no trained model at %s (run `python -m bot train`); "
                    "messages are recorded without a suggestion", path)
        return None
    model = TriageModel.load(path, settings.bot.review_threshold)
    meta = model.nlp.meta.get("training", {})
    log.info("classifier: spaCy model %s loaded (%s training records, held-out macro-F1 %.3f)", path,
             meta.get("records", "?"), meta.get("holdout_macro_f1", 0.0))
    return IntakeClassifier(model)


def messages_from_records(records: Iterable[dict]) -> list[Message]:
    out = []
    for r in records:
        received = r.get("received_at")
        when = dt.datetime.fromisoformat(received.replace("Z", "+00:00")) if isinstance(received, str) else None
        out.append(Message(body=r.get("body") or "", subject=r.get("subject"), channel=r.get("channel") or "email",
                           sender=r.get("sender"), received_at=when))
    return out
