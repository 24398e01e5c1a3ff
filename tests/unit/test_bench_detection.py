"""`vigil bench detection`: which halves it reads, what it sums, and what a model says it read."""

from __future__ import annotations

import json

import pytest

from streams.bench import detection
from streams.evaluation.independent import DEV_HALVES_TRAINED_ON, dev_ads_trained_on


def _row(label: str, rank: int, categories=(), kind="k", file="writer3/ads.jsonl", risk=None,
         states_minor=False) -> dict:
    return {"eval": {"label": label, "categories": list(categories), "kind": kind, "file": file},
            "rank": rank, "risk": rank / 5 if risk is None else risk, "states_minor": states_minor}


def test_dev_halves_and_the_models_training_never_read_a_locked_file():
    for half, files in detection.HALVES.items():
        locked = [f for f in files if f.startswith("locked")]
        assert (locked == list(files)) if half.startswith("locked") else not locked, half
    assert all(h.startswith("dev") for h in DEV_HALVES_TRAINED_ON)
    # writers 4, 9 and 15 are kept apart from training: writers no model has read
    assert not {"dev_w4", "dev_w9", "dev_w15"} & set(DEV_HALVES_TRAINED_ON)
    writers = {detection.writer_of(ad) for ad in dev_ads_trained_on()}
    assert writers == {"writer1", "writer2", "writer3", "writer5", "writer6", "writer7", "writer8",
                       "writer10", "writer11", "writer12", "writer13", "writer14"}


def test_summarise_counts_shares_per_label_category_and_minor_row():
    rows = [
        _row("concerning", 2, ["payment"]), _row("concerning", 1, ["payment", "youth"]),
        _row("concerning", 4, ["minor_age"], file="writer1/ads.jsonl"),
        _row("concerning", 3, ["minor_age"], file="writer4/ads.jsonl"),
        _row("benign", 2, states_minor=True), _row("benign", 0), _row("benign", 0),
        _row("benign", 1),
    ]
    summary = detection.summarise(rows)
    assert summary["ads"] == 8
    assert summary["concerning_medium"] == (0.75, 4) and summary["benign_medium"] == (0.25, 4)
    assert summary["categories"]["payment"] == (0.5, 2) and summary["categories"]["youth"] == (0.0, 1)
    assert summary["minor_sex_critical"] == (1.0, 1)
    assert summary["minor_labour_high"] == (1.0, 1)
    assert summary["benign_minor_flagged"] == (1.0, 1)
    assert 0.5 < summary["auc"] <= 1.0


@pytest.mark.parametrize("text, states", [
    ("Babysitter, 15 y/o, $12/hr", True), ("U14 tryouts, ages 12-13", True),
    ("Saturday job, 16+ with work permit", True), ("Hola, tengo 16 años, doy clases", True),
    ("campamento para niños de 8 a 14 años", True), ("j'ai 15 ans, baby-sitting", True),
    ("licensed therapist, 12 years experience", False), ("10 años de experiencia", False),
    ("touring 10-14 March", False), ("Jaz, 26, independent", False),
])
def test_a_benign_ad_states_a_minor_by_its_text_not_only_its_kind(text, states):
    ad = {"title": "t", "body": text, "eval": {"label": "benign", "kind": "k", "file": "w/ads.jsonl"}}
    assert detection.states_minor_age(ad) is states


def test_a_model_says_which_independent_halves_it_learnt_from(tmp_path, capsys):
    from streams.cli import main
    from streams.evaluation.synthetic import synthetic_ads

    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(item.ad) + "\n"
                              for item in synthetic_ads(500, seed=3, difficulty="easy")))
    plain, taught = tmp_path / "plain.skops", tmp_path / "taught.skops"
    assert main(["model", "train", "--corpus", str(corpus), "--out", str(plain)]) == 0
    assert main(["model", "train", "--corpus", str(corpus), "--out", str(taught), "--independent-dev"]) == 0
    assert detection.model_learnt_from(str(plain)) == []
    assert detection.model_learnt_from(str(taught)) == list(DEV_HALVES_TRAINED_ON)
    capsys.readouterr()
    assert main(["bench", "detection", "--model", str(taught), "--halves", "dev_w3"]) == 0
    printed = capsys.readouterr().out
    assert "learnt from the independent halves dev, dev_w3, dev_w5, dev_w6, dev_w7" in printed
    assert "dev_w3 half: 150 ads (75 concerning, 75 benign)" in printed


def test_an_unknown_half_is_a_clear_error(capsys):
    from streams.cli import main

    assert main(["bench", "detection", "--halves", "dev,lockd"]) == 2
    assert "unknown half 'lockd'" in capsys.readouterr().err


@pytest.mark.parametrize("file, writer", [("writer3/ads.jsonl", "writer3"), ("writer2/minor_age.jsonl", "writer2")])
def test_writer_of(file, writer):
    assert detection.writer_of({"eval": {"file": file}}) == writer


def test_leave_one_writer_out_refuses_a_corpus_that_cannot_train_before_scoring(tmp_path, capsys):
    from streams.cli import main

    unlabelled = tmp_path / "raw.jsonl"
    unlabelled.write_text(json.dumps({"ad_id": "a", "title": "t", "body": "b"}) + "\n")
    assert main(["bench", "detection", "--leave-one-writer-out", str(unlabelled)]) == 2
    captured = capsys.readouterr()
    assert "needs ground_truth labels of both kinds" in captured.err
    assert "half:" not in captured.out  # refused before anything was scored
    assert main(["bench", "detection", "--leave-one-writer-out", str(tmp_path / "none.jsonl")]) == 2
    assert "cannot read corpus" in capsys.readouterr().err


def test_the_demo_model_trains_without_the_dev_halves_where_they_are_not_shipped(tmp_path, monkeypatch, capsys):
    from streams.evaluation import independent
    from streams.model.command import train_default_model

    monkeypatch.setattr(independent, "FILES", {name: tmp_path / "absent.jsonl" for name in independent.FILES})
    meta = train_default_model(tmp_path / "m.skops", ads=1500)
    assert "independent_halves" not in meta and "independent_ads" not in meta
    assert "training on generated ads only: independent data not found" in capsys.readouterr().err
    monkeypatch.undo()
    meta = train_default_model(tmp_path / "m2.skops", ads=1500)
    assert meta["independent_halves"] == list(DEV_HALVES_TRAINED_ON)
