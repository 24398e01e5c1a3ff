"""The text model: learns trafficking wording (not adult wording), agrees with its fast path,
saves and loads safely, and takes analyst feedback."""

from __future__ import annotations

import json
import pickle
import random
import re

import numpy as np
import pytest
import skops.io as sio
from sklearn.tree import DecisionTreeClassifier

from detectors.scoring.model import (
    FORMAT_VERSION,
    MODEL_FORMAT,
    ModelFileError,
    TextModel,
    ad_text,
    load_model,
    prepare_text,
    train,
    training_rows,
    transfer_tokens,
)
from detectors.text.indicators import match_indicators
from streams.cli import main
from streams.evaluation.synthetic import OBFUSCATED_STYLES, PLAIN_STYLES, synthetic_ads, write_phone


@pytest.fixture(scope="module")
def corpus() -> list[dict]:
    return [item.ad for item in synthetic_ads(2500, seed=21, difficulty="hard")]


@pytest.fixture(scope="module")
def model(corpus) -> TextModel:
    return train(corpus)


@pytest.fixture(scope="module")
def fresh_ads() -> list[dict]:
    return [item.ad for item in synthetic_ads(1500, seed=22, difficulty="hard")]


def _by_kind(model: TextModel, ads: list[dict]) -> dict[str, np.ndarray]:
    extras = [transfer_tokens(match_indicators(a["title"], a["body"])) for a in ads]
    probability = model.predict_proba([ad_text(a["title"], a["body"]) for a in ads], extras)
    out: dict[str, list[float]] = {}
    for ad, p in zip(ads, probability, strict=True):
        out.setdefault(ad["ground_truth"]["kind"], []).append(p)
    return {kind: np.array(values) for kind, values in out.items()}


def test_training_reports_held_out_metrics_and_counts(model):
    held = model.metadata["held_out"]
    assert held["examples"] > 300 and 0 < held["positives"] < held["examples"]
    assert held["pr_auc"] > 0.8
    assert {"roc_auc", "f1", "precision", "recall", "adult_flagged_rate"} <= set(held)
    assert model.metadata["positive_labels"] == ["missing_child", "trafficking"]
    assert model.metadata["examples"] == 2500


def test_scores_trafficking_wording_high_and_ordinary_and_adult_ads_low(model, fresh_ads):
    scores = _by_kind(model, fresh_ads)
    assert np.median(scores["org"]) > 0.9
    ordinary = np.concatenate([v for k, v in scores.items() if k.startswith("lookalike")
                               or k in ("cars", "jobs", "pets", "rentals", "services")])
    assert np.mean(ordinary >= 0.5) < 0.01
    # legal adult ads are not flagged for being adult: far fewer than indicator-rich org ads
    assert np.mean(scores["independent"] >= 0.5) < 0.25
    assert np.mean(scores["independent"]) < np.mean(scores["org"]) - 0.5


def test_predict_proba_one_equals_the_scikit_learn_pipeline(model, fresh_ads):
    rng = random.Random(3)
    pairs = [(a["title"], a["body"]) for a in rng.sample(fresh_ads, 200)]
    pairs += [("", ""), (None, None), ("ÀÉÎ 💋", "\u200bnew\u200b girl ＮＥＷ"), ("t", "x" * 5000)]
    expected = model.predict_proba([ad_text(t, b) for t, b in pairs])
    got = np.array([model.predict_proba_one(t, b) for t, b in pairs])
    assert np.allclose(got, expected, rtol=0, atol=1e-9)
    assert ((got >= 0) & (got <= 1)).all()


def test_numbers_in_any_disguise_read_the_same():
    rng = random.Random(1)
    plain = prepare_text("text 720-555-0142 now")
    for style in PLAIN_STYLES + OBFUSCATED_STYLES:
        assert prepare_text(f"text {write_phone('7205550142', style, rng)} now") == plain, style
    assert prepare_text("one of a kind, no oil") == "one of a kind, no oil"


def test_save_and_load_give_the_same_model(model, fresh_ads, tmp_path):
    path = model.save(tmp_path / "m.skops")
    loaded = load_model(path)
    texts = [ad_text(a["title"], a["body"]) for a in fresh_ads[:100]]
    assert np.array_equal(loaded.predict_proba(texts), model.predict_proba(texts))
    assert loaded.predict_proba_one("a", "b") == model.predict_proba_one("a", "b")
    assert loaded.metadata == json.loads(json.dumps(model.metadata))


def test_loading_refuses_untrusted_types_pickles_and_other_files(tmp_path):
    foreign = tmp_path / "foreign.skops"
    sio.dump({"format": MODEL_FORMAT, "format_version": FORMAT_VERSION, "metadata_json": "{}",
              "estimator": DecisionTreeClassifier()}, foreign)
    with pytest.raises(ModelFileError, match="trusted"):
        load_model(foreign)
    pickled = tmp_path / "model.pkl"
    pickled.write_bytes(pickle.dumps({"format": MODEL_FORMAT}))
    with pytest.raises(ModelFileError):
        load_model(pickled)
    with pytest.raises(ModelFileError):
        load_model(tmp_path / "missing.skops")
    other = tmp_path / "other.skops"
    sio.dump({"format": "something else"}, other)
    with pytest.raises(ModelFileError, match="not a vigil text model"):
        load_model(other)


def test_fit_needs_both_classes():
    with pytest.raises(ValueError):
        TextModel().fit(["a sofa"] * 10, [0] * 10)
    with pytest.raises(RuntimeError):
        TextModel().predict_proba_one("a", "b")


def _ad(ad_id: str, label: str, text: str, org_id: str | None = None) -> dict:
    return {"ad_id": ad_id, "title": text, "body": text,
            "ground_truth": {"label": label, "org_id": org_id}}


def test_feedback_overrides_labels_latest_verdict_wins_and_unknown_ads_are_counted():
    corpus = [_ad("a1", "benign", "bakery"), _ad("a2", "adult", "companion"),
              _ad("a3", "trafficking", "new girl", "org-1")]
    extra = [_ad("x9", "benign", "ingested ad")]
    feedback = [
        {"alert_id": "al1", "ad_id": "a1", "label": True, "at": 10.0},
        {"alert_id": "al2", "ad_id": "a3", "label": True, "at": 11.0},
        {"alert_id": "al2", "ad_id": "a3", "label": False, "at": 12.0},  # changed their mind
        {"alert_id": "al3", "ad_id": "x9", "label": True, "at": 13.0},
        {"alert_id": "al4", "ad_id": None, "label": True, "at": 14.0},
        {"alert_id": "al5", "ad_id": "nowhere", "label": False, "at": 15.0},
    ]
    rows = training_rows(corpus, feedback, extra)
    positive = dict(zip((t.split("\n")[0] for t in rows.texts), rows.positive, strict=True))
    assert positive == {"bakery": True, "companion": False, "new girl": False,
                        "ingested ad": True}
    assert rows.groups[rows.texts.index("new girl\nnew girl")] == "org-1"
    assert rows.counts["feedback_used"] == 3
    assert rows.counts["feedback_unused"] == 2
    assert rows.counts["feedback_alerts"] == 5


def test_cli_trains_writes_model_and_sidecar_and_info_reads_it(tmp_path, capsys):
    corpus = tmp_path / "corpus.jsonl"
    ads = [item.ad for item in synthetic_ads(1200, seed=5, difficulty="easy")]
    corpus.write_text("".join(json.dumps(ad) + "\n" for ad in ads))
    target = next(ad for ad in ads if ad["ground_truth"]["label"] == "benign")
    feedback = tmp_path / "feedback.jsonl"
    feedback.write_text(json.dumps({"schema_version": 1, "alert_id": "al-1",
                                    "ad_id": target["ad_id"], "label": True, "at": 1.0}) + "\n")
    out = tmp_path / "models" / "m.skops"
    assert main(["model", "train", "--corpus", str(corpus), "--feedback", str(feedback),
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "PR-AUC" in printed and "1 verdicts used" in printed
    assert out.exists() and (tmp_path / "models" / "m.skops.json").exists()
    assert main(["model", "info", str(out)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["feedback_used"] == 1 and info["held_out"]["pr_auc"] > 0.9


def test_cli_errors_are_one_line(tmp_path, capsys):
    unlabelled = tmp_path / "raw.jsonl"
    unlabelled.write_text(json.dumps({"ad_id": "a", "title": "t", "body": "b"}) + "\n")
    assert main(["model", "train", "--corpus", str(tmp_path / "none.jsonl")]) == 2
    assert main(["model", "train", "--corpus", str(unlabelled)]) == 2
    garbage = tmp_path / "g.skops"
    garbage.write_bytes(b"not a model")
    assert main(["model", "info", str(garbage)]) == 2
    err = capsys.readouterr().err
    assert "cannot read corpus" in err and "no ground_truth" in err and "skops" in err


def _written(ad_id: str, body: str, label: str) -> dict:
    return {"ad_id": ad_id, "title": "", "body": body,
            "eval": {"label": label, "categories": [], "kind": "test", "file": "writerX/ads.jsonl"}}


def test_independent_ads_weigh_their_share_of_the_corpus_and_are_counted(corpus):
    from detectors.scoring.model import INDEPENDENT_SHARE, with_independent

    rows = training_rows(corpus)
    written = [_written(f"x-{i}", f"ad number {i}", "concerning" if i % 2 else "benign")
               for i in range(40)]
    both = with_independent(rows, written)
    assert len(both.texts) == len(rows.texts) + 40
    assert both.weights[:len(rows.texts)] == [1.0] * len(rows.texts)
    assert sum(both.weights[len(rows.texts):]) == pytest.approx(INDEPENDENT_SHARE * len(rows.texts))
    assert both.counts["independent_ads"] == 40 and both.counts["independent_positives"] == 20
    assert both.positive[-1] is True and both.labels[-2] == "independent:benign"
    assert with_independent(rows, []) is rows
    with pytest.raises(ValueError, match="x-bad.*eval.label"):
        with_independent(rows, [_written("x-bad", "text", "maybe")])


def test_a_model_learns_wording_that_only_the_independent_ads_use_by_its_weight(corpus):
    """Words no generated ad uses ("quillmarsh desk keeps the earnings") move the model's
    probability only when human-written ads labelled with them are in training, and the more
    the larger their share (the sample weights reach the fit)."""
    concerning = [f"Quillmarsh desk keeps the earnings of girl {i}, she rests at the flat" for i in range(30)]
    benign = [f"Quillmarsh bakery hiring morning staff {i}, weekly pay, free parking" for i in range(30)]
    written = ([_written(f"c-{i}", t, "concerning") for i, t in enumerate(concerning)]
               + [_written(f"b-{i}", t, "benign") for i, t in enumerate(benign)])
    probe = ["Quillmarsh desk keeps the earnings of the new one, she rests at the flat"]
    plain = train(corpus).predict_proba(probe)[0]
    light = train(corpus, independent=written, independent_share=0.002)
    heavy = train(corpus, independent=written, independent_share=0.5)
    assert heavy.predict_proba(probe)[0] > plain + 0.2
    assert heavy.predict_proba(probe)[0] > light.predict_proba(probe)[0] + 0.1
    assert heavy.metadata["independent_ads"] == 60


def test_the_share_needs_the_dev_halves_and_a_bad_share_is_refused(tmp_path, capsys):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(item.ad) + "\n"
                              for item in synthetic_ads(300, seed=7, difficulty="easy")))
    out = str(tmp_path / "m.skops")
    assert main(["model", "train", "--corpus", str(corpus), "--out", out,
                 "--independent-share", "0.5"]) == 2
    assert main(["model", "train", "--corpus", str(corpus), "--out", out, "--independent-dev",
                 "--independent-share", "0"]) == 2
    err = capsys.readouterr().err
    assert "--independent-share needs --independent-dev" in err
    assert "independent share must be in (0, 10], not 0.0" in err


def test_cli_learns_from_the_dev_halves_only_when_asked(tmp_path, capsys):
    from streams.evaluation.independent import DEV_HALVES_TRAINED_ON, dev_ads_trained_on

    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(item.ad) + "\n"
                              for item in synthetic_ads(600, seed=6, difficulty="easy")))
    out = tmp_path / "m.skops"
    assert main(["model", "train", "--corpus", str(corpus), "--out", str(out),
                 "--independent-dev", "--independent-share", "0.5"]) == 0
    assert "independent dev halves: " in capsys.readouterr().out
    meta = load_model(out).metadata
    dev = dev_ads_trained_on()
    assert meta["independent_halves"] == list(DEV_HALVES_TRAINED_ON)
    assert meta["independent_ads"] == len(dev) and meta["independent_share"] == 0.5
    assert meta["independent_positives"] == sum(a["eval"]["label"] == "concerning" for a in dev)


def test_explain_one_gives_the_probability_and_the_readable_words_that_moved_it(model, fresh_ads):
    from detectors.scoring.model import STOP_WORDS

    ad = next(a for a in fresh_ads if a["ground_truth"]["label"] == "trafficking")
    indicators = match_indicators(ad["title"], ad["body"])
    probability, words = model.explain_one(ad["title"], ad["body"], indicators)
    assert probability == model.predict_proba_one(ad["title"], ad["body"], indicators)
    assert 0 < len(words) <= 6
    assert [abs(w.weight) for w in words] == sorted((abs(w.weight) for w in words), reverse=True)
    text = prepare_text(ad_text(ad["title"], ad["body"]))
    for word in words:
        assert "<" not in word.text and word.text.split()[0] in text
        assert any(part not in STOP_WORDS for part in word.text.split())
    assert words[0].weight != 0
    # the words' parts are the model's own: dropping the strongest raising word lowers the score
    top = max(words, key=lambda w: w.weight)
    assert top.weight > 0
    strongest = re.compile(rf"\b{re.escape(top.text.split()[0])}\b", re.IGNORECASE)
    title, body = strongest.sub("", ad["title"]), strongest.sub("", ad["body"])
    assert (title, body) != (ad["title"], ad["body"])
    assert model.predict_proba_one(title, body, indicators) < probability


@pytest.mark.parametrize("token, readable", [
    ("my driver", True), ("incall", True), ("bf", True), (". incall", False), ("⛽ ask", False),
    ("the", False), ("to the", False), ("m", False), ("<cat_youth>", False), ("0", False),
    ("et le", False), ("disponible", True),
])
def test_only_words_a_reader_can_use_are_shown(token, readable):
    from detectors.scoring.model import _readable

    assert _readable(token) is readable
