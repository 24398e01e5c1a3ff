"""The text classifier: hashed word and character n-grams → calibrated logistic regression.

Positive class: ads of trafficking organisations. Legal adult-services ads are negatives on
purpose: the model must not fire on an ad for being adult. Saved with skops (no pickle), with
its version and held-out metrics in a JSON sidecar; loading trusts only the sklearn/numpy
types this pipeline is made of.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, f1_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import FeatureUnion, Pipeline

MODEL_VERSION = "text-hashing-lr-1"
POSITIVE_LABELS = frozenset({"trafficking"})
TRAINABLE_LABELS = frozenset({"benign", "adult", "trafficking"})
MAX_CHARS = 4000  # the start of an ad carries its signal; bounds the cost per ad


def ad_text(title: str, body: str) -> str:
    return f"{title}\n{body}"[:MAX_CHARS]


def _pipeline() -> Pipeline:
    features = FeatureUnion([
        ("words", HashingVectorizer(ngram_range=(1, 2), n_features=2**18, alternate_sign=False,
                                    norm="l2", lowercase=True)),
        ("chars", HashingVectorizer(analyzer="char_wb", ngram_range=(3, 5), n_features=2**18,
                                    alternate_sign=False, norm="l2", lowercase=True)),
    ])
    classifier = CalibratedClassifierCV(LogisticRegression(C=4.0, max_iter=2000),
                                        method="sigmoid", cv=3)
    return Pipeline([("features", features), ("classifier", classifier)])


@dataclass
class TextModel:
    """fit / predict_proba like an estimator, plus save/load and metadata."""

    pipeline: Pipeline = field(default_factory=_pipeline)
    metadata: dict = field(default_factory=dict)

    def fit(self, texts: list[str], labels: list[int]) -> TextModel:
        self.pipeline.fit(texts, np.asarray(labels))
        return self

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        return self.pipeline.predict_proba(texts)[:, 1]

    def predict_proba_one(self, title: str, body: str) -> float:
        return float(self.predict_proba([ad_text(title, body)])[0])

    def save(self, path: str | Path) -> None:
        import skops.io as sio

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        sio.dump(self.pipeline, path)
        path.with_suffix(".json").write_text(json.dumps(self.metadata, indent=2))


def load_model(path: str | Path) -> TextModel:
    """Load a model saved by `TextModel.save`, refusing any type outside the allowlist."""
    import skops.io as sio

    path = Path(path)
    untrusted = sio.get_untrusted_types(file=path)
    allowed = {t for t in untrusted if t.startswith(("sklearn.", "numpy.", "scipy."))}
    refused = set(untrusted) - allowed
    if refused:
        raise ValueError(f"{path}: refusing to load types {sorted(refused)}")
    pipeline = sio.load(path, trusted=sorted(allowed))
    meta_path = path.with_suffix(".json")
    metadata = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    return TextModel(pipeline=pipeline, metadata=metadata)


def training_rows(ads: list[dict], feedback: list[dict]) -> tuple[list[str], list[int], dict]:
    """Texts and labels from a labelled corpus plus analyst feedback (feedback wins; it names
    ads by ad_id, so only feedback on ads present in `ads` can be used)."""
    by_id = {ad["ad_id"]: ad for ad in ads}
    labels: dict[str, int] = {}
    for ad in ads:
        label = (ad.get("ground_truth") or {}).get("label")
        if label in TRAINABLE_LABELS:
            labels[ad["ad_id"]] = int(label in POSITIVE_LABELS)
    used = 0
    for fb in feedback:
        if fb.get("ad_id") in by_id:
            labels[fb["ad_id"]] = int(bool(fb["label"]))
            used += 1
    texts = [ad_text(by_id[i].get("title", ""), by_id[i].get("body", "")) for i in labels]
    return texts, list(labels.values()), {"feedback_total": len(feedback), "feedback_used": used}


def train(ads: list[dict], feedback: list[dict] | None = None, *, seed: int = 0) -> TextModel:
    """Fit on 80 % and report held-out PR-AUC and F1, then refit on everything."""
    texts, labels, fb_counts = training_rows(ads, feedback or [])
    if len(set(labels)) < 2:
        raise ValueError("training needs both positive and negative examples")
    x_tr, x_te, y_tr, y_te = train_test_split(texts, labels, test_size=0.2, random_state=seed,
                                              stratify=labels)
    held_out = TextModel().fit(x_tr, y_tr)
    proba = held_out.predict_proba(x_te)
    metrics = {"pr_auc": float(average_precision_score(y_te, proba)),
               "f1_at_0.5": float(f1_score(y_te, proba >= 0.5)),
               "train_rows": len(x_tr), "test_rows": len(x_te),
               "positives": int(sum(labels))}
    model = TextModel().fit(texts, labels)
    model.metadata = {"version": MODEL_VERSION, "trained_at": time.time(),
                      "held_out": metrics, **fb_counts}
    return model
