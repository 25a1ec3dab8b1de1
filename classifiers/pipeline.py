"""The spaCy pipeline: blank English tokenizer, the signal rules, a label classifier and a reason classifier.

    tokenizer -> signal_rules (Matcher/PhraseMatcher) -> label (textcat, exclusive: 3 labels)
                                                       -> reason (textcat, exclusive: 15 exclusion reasons)

Both classifiers are bags of unigrams and bigrams with TF-IDF-like weighting (classifiers/bow.py): measured by
cross-validation on the training data, more accurate than spaCy's TextCatBOW.v3 and the CNN ensemble, and as
fast to classify as the former.
"""

from __future__ import annotations

import spacy
from spacy.language import Language

from bot.core.policy import LABELS, REASONS

from . import bow as _norm_bow  # noqa: F401 - registers complaints.TextCatNormBOW.v1
from . import signals  # noqa: F401 - registers the signal_rules factory

HASH_ROWS = 2 ** 17  # hashed n-gram table: 131,072 rows keeps the model near 3 MB on disk


def bow(ngram: int = 2) -> dict:
    return {"@architectures": "complaints.TextCatNormBOW.v1", "exclusive_classes": True, "ngram_size": ngram,
            "no_output_layer": False, "length": HASH_ROWS}


def build(label_ngram: int = 2, reason_ngram: int = 2) -> Language:
    nlp = spacy.blank("en")
    nlp.add_pipe("signal_rules")
    label = nlp.add_pipe("textcat", name="label", config={"model": bow(label_ngram)})
    for name in LABELS:
        label.add_label(name)
    reason = nlp.add_pipe("textcat", name="reason", config={"model": bow(reason_ngram)})
    for name in REASONS:
        reason.add_label(name)
    return nlp


def text_of(subject: str | None, body: str) -> str:
    """What the classifier reads: the subject line, then the message."""
    return f"{subject or ''}\n{body or ''}".strip()
