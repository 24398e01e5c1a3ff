"""The text model: a calibrated linear classifier over hashed word and character n-grams.

Labels. Positive means the ad is part of trafficking: ground-truth label `trafficking` or
`missing_child`. `benign` and `adult` are negative: legal adult-services ads are adult in
wording and must not score high for that alone, so the model learns what separates
trafficking ads from other adult ads (youth, third-party control, movement, restricted
movement ...), not what separates adult ads from ordinary classifieds. Indicator-light
trafficking ads read like plain adult ads; the model cannot find those, linking does.

Text. An ad's text is `ad_text(title, body)`; before hashing it is normalised
(`detectors.text.normalise`: homoglyphs, zero-width characters, HTML undone; lowercased) and
numbers become `0`: digits, number words (EN/ES) and letter-for-digit runs alike, so the model
learns wording and the fact of an obfuscated number, not particular numbers, ages or prices.

Features that transfer. Beside the n-grams the model reads tokens made from the text
detectors' findings (`transfer_tokens`): each indicator category found (`<cat_youth>`), the
strong ones (`<strong_third_party_control>`), a commercial-sex context (`<ctx_commercial>`) and
how many categories there are (`<ncat_2>`). These carry over to wording the training corpus
never used, where n-grams of generated phrases do not.

Model. HashingVectorizer (word 1-2-grams + char_wb 3-5-grams, no vocabulary to store) →
LogisticRegression → CalibratedClassifierCV (sigmoid, 3-fold, ensemble=False: one linear model
and one calibration curve). `predict_proba_one` evaluates that same function with a dot
product on the hashed features (well under a millisecond).

Files. `save` writes skops (no pickle) holding the estimator and its metadata (format,
version, metrics, training counts); `load_model` refuses any type outside `TRUSTED_TYPES`.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn import metrics
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, HashingVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupShuffleSplit
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.utils import murmurhash3_32

from detectors.text.indicators import match_indicators
from detectors.text.normalise import normalise

MODEL_FORMAT = "vigil.text_model"
FORMAT_VERSION = 2  # 2: transfer tokens beside the n-grams
POSITIVE_LABELS = frozenset({"trafficking", "missing_child"})
NEGATIVE_LABELS = frozenset({"benign", "adult"})
HASH_FEATURES = 2**18
THRESHOLD = 0.5  # for the F1 / precision / recall reported in the metadata

# Every type a saved model may contain (skops refuses the rest when loading).
TRUSTED_TYPES = [
    "builtins.dict",
    "builtins.list",
    "builtins.str",
    "builtins.tuple",
    "numpy.dtype",
    "numpy.float64",
    "numpy.int64",
    "numpy.ndarray",
    "sklearn.calibration.CalibratedClassifierCV",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.feature_extraction.text.HashingVectorizer",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.pipeline.FeatureUnion",
    "sklearn.pipeline.Pipeline",
]


class ModelFileError(Exception):
    """A model file that is missing, unreadable, of another format or holds untrusted types."""


def ad_text(title: str | None, body: str | None) -> str:
    """The text the model reads for one ad."""
    return f"{title or ''}\n{body or ''}"


_NUMBER_WORD = (r"zero|one|two|three|four|five|six|seven|eight|nine|oh|cero|uno|dos|tres|cuatro|"
                r"cinco|seis|siete|ocho|nueve")
# a token of digits, look-alike letters and number words holding a digit ("72o", "7two0"), or
# a run of two or more number words ("seven two zero")
_NUMBERS = re.compile(
    rf"(?<![a-z0-9])(?:(?=[a-z0-9]*[0-9])(?:[0-9oli]|{_NUMBER_WORD})+"
    rf"|(?:{_NUMBER_WORD})(?:[\s.\-]*(?:{_NUMBER_WORD}))+)(?![a-z0-9])")
_DIGITS = re.compile(r"[0-9]+")
# numbers joined by phone separators or emoji: 720-555-0142, (720) 555 0142, 720💋555💋0142
_NUMBER_GROUPS = re.compile(r"\(?0(?:(?:[\s.\-*_~/()]|[^\x00-\x7f]){1,3}0)+")


def prepare_text(text: str) -> str:
    """Normalised, lowercased text with every number (in digits, words or letters, grouped by
    any separators) as one `0`."""
    lowered = normalise(text).lower
    return _NUMBER_GROUPS.sub("0", _DIGITS.sub("0", _NUMBERS.sub("0", lowered)))


STRONG_WEIGHT = 0.5
EXPLAINED_WORDS = 6
"""How many of an ad's word n-grams the model reports as having moved it most."""


def transfer_tokens(indicators: Sequence[dict] | None) -> str:
    """The indicator findings of one ad as tokens the vectorizer reads ("<cat_youth> ...")."""
    if not indicators:
        return " <ncat_0>"
    categories: dict[str, float] = {}
    for ind in indicators:
        if ind["category"] == "context":
            categories.setdefault("_ctx", 1.0)
            continue
        categories[ind["category"]] = max(categories.get(ind["category"], 0.0), float(ind["weight"]))
    tokens = []
    for category, weight in sorted(categories.items()):
        if category == "_ctx":
            tokens.append("<ctx_commercial>")
            continue
        tokens.append(f"<cat_{category}>")
        if weight >= STRONG_WEIGHT:
            tokens.append(f"<strong_{category}>")
    count = min(len([c for c in categories if c != "_ctx"]), 4)
    tokens.append(f"<ncat_{count}>")
    return " " + " ".join(tokens)


def is_positive(label: str) -> bool:
    """The model's target for a ground-truth label (see the module docstring)."""
    if label in POSITIVE_LABELS:
        return True
    if label in NEGATIVE_LABELS:
        return False
    raise ValueError(f"unknown label {label!r}")


def new_features() -> FeatureUnion:
    """Hashed word 1-2-grams and char_wb 3-5-grams (stateless: nothing is learnt here)."""
    common = {"n_features": HASH_FEATURES, "alternate_sign": False, "lowercase": False,
              "dtype": np.float64}
    return FeatureUnion([
        ("words", HashingVectorizer(analyzer="word", ngram_range=(1, 2),
                                    token_pattern=r"(?u)<\w+>|\b\w+\b|[^\w\s]", **common)),
        ("chars", HashingVectorizer(analyzer="char_wb", ngram_range=(3, 5), **common)),
    ])


def new_classifier(c: float = 4.0) -> CalibratedClassifierCV:
    """Logistic regression (liblinear, dual: quick with many more features than ads), calibrated
    by a sigmoid fitted on 3-fold out-of-fold scores; one final linear model (ensemble=False)."""
    linear = LogisticRegression(C=c, solver="liblinear", dual=True, max_iter=5000)
    return CalibratedClassifierCV(linear, method="sigmoid", cv=3, ensemble=False)


def _check_labels(y: np.ndarray) -> None:
    if len(set(y.tolist())) < 2:
        raise ValueError("training needs both positive and negative examples")
    if min(np.bincount(y)) < 3:
        raise ValueError("training needs at least 3 examples of each class")


_INT_MIN = -(2**31)
COLUMN_CACHE_SIZE = 200_000  # n-grams repeat across ads: hash each once (cleared when full)


def _column(token: str, n_features: int) -> int:
    """The HashingVectorizer column of one token (murmurhash3, as scikit-learn's hasher)."""
    h = murmurhash3_32(token)
    return (2**31 - 1 if h == _INT_MIN else abs(h)) % n_features


def _hashed(tokens: list[str], n_features: int,
            cache: dict[str, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """What HashingVectorizer(alternate_sign=False, norm="l2") makes of `tokens`: column
    indices and their l2-normalised counts."""
    if cache is None:
        cache = {}
    elif len(cache) > COLUMN_CACHE_SIZE:
        cache.clear()
    get = cache.get
    columns = [get(t) for t in tokens]
    for i, column in enumerate(columns):
        if column is None:
            columns[i] = cache[tokens[i]] = _column(tokens[i], n_features)
    unique, counts = np.unique(np.array(columns, dtype=np.int64), return_counts=True)
    values = counts.astype(np.float64)
    return unique, values / np.sqrt(values @ values)


@dataclass
class _FastPath:
    """The fitted model as arrays: p = 1 / (1 + exp(a * (x·w + b) + c)), with x hashed here
    exactly as the FeatureUnion of HashingVectorizers does (a test holds the two equal)."""

    analyzers: list[tuple[object, int, int]]  # (analyzer, column offset, n_features)
    weights: np.ndarray
    intercept: float
    a: float
    c: float
    caches: list[dict[str, int]] = field(default_factory=lambda: [{}, {}])

    @classmethod
    def of(cls, estimator: Pipeline) -> _FastPath:
        calibrated = estimator.named_steps["classifier"].calibrated_classifiers_[0]
        linear, sigmoid = calibrated.estimator, calibrated.calibrators[0]
        analyzers, offset = [], 0
        for _, vectorizer in estimator.named_steps["features"].transformer_list:
            analyzers.append((vectorizer.build_analyzer(), offset, vectorizer.n_features))
            offset += vectorizer.n_features
        return cls(analyzers, np.ascontiguousarray(linear.coef_[0]),
                   float(linear.intercept_[0]), float(sigmoid.a_), float(sigmoid.b_))

    def probability(self, text: str, extra: str = "", words: int = 0) -> tuple[float, list[ModelWord]]:
        """The calibrated probability, and (`words` > 0) the ad's word n-grams that moved the
        linear score most, each with its share of that score (word analyzer only: characters
        n-grams explain nothing to a reader; the detectors' own tokens are left out)."""
        prepared = prepare_text(text) + extra
        score = self.intercept
        moved: list[ModelWord] = []
        for i, ((analyze, offset, n_features), cache) in enumerate(zip(self.analyzers, self.caches,
                                                                       strict=True)):
            tokens = analyze(prepared)
            if tokens:
                columns, values = _hashed(tokens, n_features, cache)
                parts = values * self.weights[offset + columns]
                score += float(parts.sum())
                if words and i == 0:
                    moved = _words_that_moved(tokens, columns, parts, cache, words)
        z = self.a * score + self.c
        return (1.0 / (1.0 + math.exp(z)) if z < 700 else 0.0), moved


@dataclass(frozen=True)
class ModelWord:
    """A word n-gram of the ad and its signed part of the model's linear score."""

    text: str
    weight: float


STOP_WORDS = ENGLISH_STOP_WORDS | frozenset([
    "el", "la", "los", "las", "lo", "un", "una", "y", "o", "de", "del", "en", "con", "por", "para",
    "que", "su", "sus", "le", "les", "des", "du", "et", "au", "aux", "ou", "um", "uma", "os", "as",
    "do", "da", "dos", "das", "no", "na", "e"])
"""Words that move the model by their count, not their meaning: never shown as a reason."""


def _readable(token: str) -> bool:
    """A word n-gram worth showing a reader: words only (no punctuation or emoji token, none of
    the detectors' own tokens), one of two letters or more that is not a stop word."""
    words = token.split()
    return ("<" not in token and all(any(c.isalpha() for c in word) for word in words)
            and any(sum(c.isalpha() for c in word) >= 2 and word not in STOP_WORDS for word in words))


def _words_that_moved(tokens: list[str], columns: np.ndarray, parts: np.ndarray,
                      cache: dict[str, int], count: int) -> list[ModelWord]:
    """The `count` readable tokens whose columns moved the score most (either way): columns
    ranked by their part, then mapped back to a token of the ad (a column two tokens share
    by hashing is shown under one of them)."""
    token_of = {cache[token]: token for token in tokens}
    moved = []
    for i in np.argsort(-np.abs(parts)).tolist():
        if len(moved) == count or not parts[i]:
            break
        token = token_of.get(int(columns[i]))
        if token is not None and _readable(token):
            moved.append(ModelWord(token, float(parts[i])))
    return moved


@dataclass
class TextModel:
    """The text classifier: `estimator` is Pipeline(features → calibrated classifier);
    `metadata` travels with it into the saved file."""

    estimator: Pipeline | None = None
    metadata: dict = field(default_factory=dict)
    _fast: _FastPath | None = field(default=None, repr=False)

    @classmethod
    def from_parts(cls, features: FeatureUnion, classifier: CalibratedClassifierCV) -> TextModel:
        model = cls(Pipeline([("features", features), ("classifier", classifier)]))
        model._require_fitted()
        model._fast = _FastPath.of(model.estimator)
        return model

    @property
    def fitted(self) -> bool:
        return self.estimator is not None and hasattr(
            self.estimator.named_steps.get("classifier"), "calibrated_classifiers_")

    def fit(self, texts: Sequence[str], labels: Sequence[bool | int],
            extras: Sequence[str] | None = None) -> TextModel:
        """Fit on ad texts (`ad_text`), their `transfer_tokens` and booleans (true: trafficking)."""
        y = np.asarray(labels, dtype=int)
        _check_labels(y)
        features = new_features()
        x = features.transform(_prepared(texts, extras))
        fitted = TextModel.from_parts(features, new_classifier().fit(x, y))
        self.estimator, self._fast = fitted.estimator, fitted._fast
        self.metadata = {**self.metadata, "examples": int(len(y)), "positives": int(y.sum())}
        return self

    def _require_fitted(self) -> None:
        if not self.fitted:
            raise RuntimeError("the text model is not fitted")

    def predict_proba(self, texts: Sequence[str], extras: Sequence[str] | None = None) -> np.ndarray:
        """Calibrated probability that each text is a trafficking ad (1-D array)."""
        self._require_fitted()
        return self.estimator.predict_proba(_prepared(texts, extras))[:, 1]

    def predict_proba_one(self, title: str | None, body: str | None,
                          indicators: Sequence[dict] | None = None) -> float:
        """`predict_proba` for one ad (its indicators give the transfer tokens), without
        scikit-learn's per-call overhead."""
        self._require_fitted()
        return self._fast.probability(ad_text(title, body), transfer_tokens(indicators))[0]

    def explain_one(self, title: str | None, body: str | None,
                    indicators: Sequence[dict] | None = None,
                    words: int = EXPLAINED_WORDS) -> tuple[float, list[ModelWord]]:
        """`predict_proba_one` and the ad's words that moved the model most (see
        `_FastPath.probability`)."""
        self._require_fitted()
        return self._fast.probability(ad_text(title, body), transfer_tokens(indicators), words)

    def save(self, path: str | Path) -> Path:
        """Write the model and its metadata (skops format, no pickle)."""
        import skops.io as sio

        self._require_fitted()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = json.loads(json.dumps(self.metadata))  # plain JSON types only
        payload = {"format": MODEL_FORMAT, "format_version": FORMAT_VERSION,
                   "metadata_json": json.dumps(meta, sort_keys=True), "estimator": self.estimator}
        tmp = path.with_name(path.name + ".tmp")
        sio.dump(payload, tmp)
        tmp.replace(path)
        return path


def _prepared(texts: Sequence[str], extras: Sequence[str] | None) -> list[str]:
    if extras is None:
        extras = [transfer_tokens(None)] * len(texts)
    return [prepare_text(t) + e for t, e in zip(texts, extras, strict=True)]


def load_model(path: str | Path) -> TextModel:
    """A model saved by `TextModel.save`; refuses files holding types outside TRUSTED_TYPES."""
    import skops.io as sio

    path = Path(path)
    try:
        untrusted = set(sio.get_untrusted_types(file=path))
    except FileNotFoundError as exc:
        raise ModelFileError(f"no model file at {path}") from exc
    except Exception as exc:  # skops raises several types for a file that is not its format
        raise ModelFileError(f"{path} is not a skops model file: {exc}") from exc
    unexpected = sorted(untrusted - set(TRUSTED_TYPES))
    if unexpected:
        raise ModelFileError(f"{path} holds types outside the trusted list: {unexpected}")
    payload = sio.load(path, trusted=TRUSTED_TYPES)
    if not isinstance(payload, dict) or payload.get("format") != MODEL_FORMAT:
        raise ModelFileError(f"{path} is not a vigil text model")
    if payload.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(f"{path} has model format {payload.get('format_version')}, "
                             f"this build reads {FORMAT_VERSION}")
    estimator = payload["estimator"]
    if not isinstance(estimator, Pipeline) or list(estimator.named_steps) != ["features",
                                                                           "classifier"]:
        raise ModelFileError(f"{path} does not hold a text-model pipeline")
    model = TextModel.from_parts(estimator.named_steps["features"],
                                 estimator.named_steps["classifier"])
    model.metadata = json.loads(payload["metadata_json"])
    return model


# --- training with a held-out evaluation -----------------------------------------------------


def held_out_metrics(y_true: np.ndarray, probability: np.ndarray, *,
                     adult: np.ndarray | None = None) -> dict:
    """PR-AUC, ROC-AUC, and precision / recall / F1 at THRESHOLD; with `adult` (a mask of the
    legal adult ads) also the share of them the model scores at or over THRESHOLD."""
    y_true = np.asarray(y_true, dtype=bool)
    predicted = np.asarray(probability) >= THRESHOLD
    out = {
        "examples": int(len(y_true)), "positives": int(y_true.sum()),
        "pr_auc": float(metrics.average_precision_score(y_true, probability)),
        "roc_auc": float(metrics.roc_auc_score(y_true, probability)),
        "precision": float(metrics.precision_score(y_true, predicted, zero_division=0)),
        "recall": float(metrics.recall_score(y_true, predicted, zero_division=0)),
        "f1": float(metrics.f1_score(y_true, predicted, zero_division=0)),
        "threshold": THRESHOLD,
    }
    if adult is not None and adult.any():
        out["adult_flagged_rate"] = float(predicted[adult].mean())
    return out


def train_with_holdout(texts: Sequence[str], positive: Sequence[bool], groups: Sequence[str],
                       *, kinds: Sequence[str] | None = None, test_size: float = 0.2,
                       seed: int = 0, extras: Sequence[str] | None = None,
                       weights: Sequence[float] | None = None) -> tuple[TextModel, dict]:
    """Fit on a split grouped by `groups` (an organisation's ads stay on one side, so its
    template cannot leak into the test), report held-out metrics, then refit on everything.
    `kinds` (the ground-truth label of each row) adds the rate of legal adult ads flagged;
    `weights` are sample weights (the held-out metrics are unweighted)."""
    y = np.asarray(positive, dtype=int)
    _check_labels(y)
    w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=np.float64)
    split = GroupShuffleSplit(n_splits=1, test_size=test_size, random_state=seed)
    train_idx, test_idx = next(split.split(np.zeros(len(y)), y, groups))
    for part in (train_idx, test_idx):
        if len(set(y[part].tolist())) < 2:
            raise ValueError("a held-out split has a single class: give a larger corpus")
    features = new_features()
    x = features.transform(_prepared(texts, extras))  # hashed once for both fits
    trial = new_classifier().fit(x[train_idx], y[train_idx], sample_weight=w[train_idx])
    probability = trial.predict_proba(x[test_idx])[:, 1]
    adult = None if kinds is None else np.array([kinds[i] == "adult" for i in test_idx])
    report = held_out_metrics(y[test_idx], probability, adult=adult)
    report["train_examples"] = int(len(train_idx))
    return TextModel.from_parts(features, new_classifier().fit(x, y, sample_weight=w)), report


@dataclass(frozen=True)
class TrainingRows:
    """What `training_rows` assembled: texts, targets, split groups and where labels came from."""

    texts: list[str]
    positive: list[bool]
    groups: list[str]
    labels: list[str]  # ground-truth label, or "feedback:true" / "feedback:false"
    counts: dict
    extras: list[str] = field(default_factory=list)  # transfer_tokens of each row
    weights: list[float] = field(default_factory=list)  # sample weights; empty: all 1


def text_and_transfer_tokens(ad: dict) -> tuple[str, str]:
    """What the model reads of one training ad: its text and its indicators' tokens."""
    title, body = ad.get("title") or "", ad.get("body") or ""
    return ad_text(title, body), transfer_tokens(match_indicators(title, body))


def latest_feedback(feedback: Sequence[dict]) -> list[dict]:
    """One verdict per alert id: the latest by `at` (ties: the later record)."""
    latest: dict[str, dict] = {}
    for record in feedback:
        previous = latest.get(record["alert_id"])
        if previous is None or float(record.get("at") or 0) >= float(previous.get("at") or 0):
            latest[record["alert_id"]] = record
    return list(latest.values())


def training_rows(corpus: Sequence[dict], feedback: Sequence[dict] = (),
                  extra_ads: Sequence[dict] = ()) -> TrainingRows:
    """Rows from a labelled corpus plus analyst feedback.

    A feedback record names its ad by `ad_id`; the ad's text is looked up in the corpus, then in
    `extra_ads` (e.g. the ads that were ingested). The verdict (true: a real case) overrides the
    ad's ground-truth label; of several verdicts on one ad the latest counts. Feedback with no
    `ad_id`, or naming an ad found nowhere, is counted as unused."""
    ads: dict[str, dict] = {}
    labels: dict[str, str] = {}
    for ad in corpus:
        label = (ad.get("ground_truth") or {}).get("label")
        if label in POSITIVE_LABELS | NEGATIVE_LABELS:
            ads[ad["ad_id"]], labels[ad["ad_id"]] = ad, label
    known = {ad["ad_id"]: ad for ad in extra_ads}
    verdicts: dict[str, tuple[float, bool]] = {}
    unused = 0
    records = latest_feedback(feedback)
    for record in records:
        ad_id = record.get("ad_id")
        if not ad_id or (ad_id not in ads and ad_id not in known):
            unused += 1
            continue
        at = float(record.get("at") or 0)
        if ad_id not in verdicts or at >= verdicts[ad_id][0]:
            verdicts[ad_id] = (at, bool(record["label"]))
    for ad_id, (_, verdict) in verdicts.items():
        ads.setdefault(ad_id, known.get(ad_id))
        labels[ad_id] = f"feedback:{'true' if verdict else 'false'}"
    texts, positive, groups, row_labels, extras = [], [], [], [], []
    for ad_id, ad in ads.items():
        label = labels[ad_id]
        text, extra = text_and_transfer_tokens(ad)
        texts.append(text)
        extras.append(extra)
        positive.append(label == "feedback:true" or label in POSITIVE_LABELS)
        groups.append((ad.get("ground_truth") or {}).get("org_id") or ad_id)
        row_labels.append(label)
    counts = {"corpus_ads": len(corpus), "feedback_records": len(feedback),
              "feedback_alerts": len(records), "feedback_used": len(verdicts),
              "feedback_unused": unused}
    return TrainingRows(texts, positive, groups, row_labels, counts, extras)


INDEPENDENT_SHARE = 1.0
"""The weight of human-written labelled ads (`independent`) in training, as a share of the
weight of all other rows: a thousand of them beside tens of thousands of generated ads would
otherwise teach the model next to nothing. 1.0 (0.25 before): leaving one writer out at a time,
the model ranked the left-out writer's ads better at 1.0 (mean ROC-AUC 0.976 against 0.970)."""


def with_independent(rows: TrainingRows, independent: Sequence[dict],
                     share: float = INDEPENDENT_SHARE) -> TrainingRows:
    """`rows` plus human-written ads labelled by an `eval` object (`label`: concerning or
    benign, as in tests/data/independent), weighted together to `share` of the other rows."""
    if not independent:
        return rows
    if not 0 < share <= 10:
        raise ValueError(f"independent share must be in (0, 10], not {share}")
    texts, positive, groups, labels, extras = [], [], [], [], []
    for ad in independent:
        label = (ad.get("eval") or {}).get("label")
        if label not in ("concerning", "benign"):
            raise ValueError(f"independent ad {ad.get('ad_id')!r} has eval.label {label!r} "
                             "(concerning or benign)")
        text, extra = text_and_transfer_tokens(ad)
        texts.append(text)
        extras.append(extra)
        positive.append(label == "concerning")
        groups.append(f"independent:{ad.get('ad_id') or len(groups)}")
        labels.append(f"independent:{label}")
    base = rows.weights or [1.0] * len(rows.texts)
    each = share * sum(base) / len(texts) if base else 1.0
    counts = {**rows.counts, "independent_ads": len(texts),
              "independent_positives": int(sum(positive)), "independent_share": share}
    return TrainingRows(rows.texts + texts, rows.positive + positive, rows.groups + groups,
                        rows.labels + labels, counts, rows.extras + extras,
                        list(base) + [each] * len(texts))


def train(corpus: Sequence[dict], feedback: Sequence[dict] = (), extra_ads: Sequence[dict] = (),
          *, seed: int = 0, independent: Sequence[dict] = (),
          independent_share: float = INDEPENDENT_SHARE) -> TextModel:
    """The model for a corpus plus feedback (and human-written labelled ads, weighted: see
    `with_independent`), with held-out metrics and counts in its metadata."""
    rows = with_independent(training_rows(corpus, feedback, extra_ads), independent,
                            independent_share)
    if len(set(rows.positive)) < 2:
        raise ValueError("training needs both positive and negative examples")
    model, held_out = train_with_holdout(rows.texts, rows.positive, rows.groups,
                                         kinds=rows.labels, seed=seed, extras=rows.extras,
                                         weights=rows.weights or None)
    model.metadata = {
        "format": MODEL_FORMAT, "format_version": FORMAT_VERSION,
        "version": time.strftime("text-%Y%m%dT%H%M%SZ", time.gmtime()),
        "trained_at": time.time(), "positive_labels": sorted(POSITIVE_LABELS),
        "examples": len(rows.texts), "positives": int(sum(rows.positive)),
        "held_out": held_out, **rows.counts,
    }
    return model
