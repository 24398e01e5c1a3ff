"""Feedback through the real broker: the CLI produces it, the reader collects it (alert ids
resolved to ads through the alerts topic), and the next training uses it."""

from __future__ import annotations

import json

from detectors.scoring.model import load_model
from streams.broker.kafkaio import produce
from streams.broker.topics import ensure_topics
from streams.cli import main
from streams.config import load_settings
from streams.evaluation.synthetic import synthetic_ads
from streams.model.feedback import (
    alert_ads,
    feedback_record,
    read_feedback,
    read_topic_to_end,
    send_feedback,
    with_ad_ids,
)


def test_cli_feedback_lands_on_the_topic_with_its_key(stack, topic_prefix, capsys):
    settings = load_settings()
    assert main(["feedback", "al-7", "false", "a bakery, not a case", "--ad-id", "ad-7",
                 "--analyst", "analyst-1"]) == 0
    assert capsys.readouterr().out.strip() == "al-7"
    records = read_feedback(settings)
    assert len(records) == 1
    record = records[0]
    assert record["alert_id"] == "al-7" and record["ad_id"] == "ad-7"
    assert record["label"] is False and record["note"] == "a bakery, not a case"
    assert record["analyst"] == "analyst-1" and record["schema_version"] == 1


def test_reader_skips_invalid_records_and_resolves_ads_through_alerts(stack, topic_prefix):
    settings = load_settings()
    ensure_topics(settings)
    send_feedback(settings, feedback_record("al-1", True, ad_id="ad-1", at=1.0))
    send_feedback(settings, feedback_record("al-2", False, at=2.0))  # no ad id
    produce(settings.kafka_bootstrap, settings.topics.feedback,
            [(b"junk", b"not json"), (b"al-x", json.dumps({"alert_id": "al-x"}).encode())])
    produce(settings.kafka_bootstrap, settings.topics.alerts,
            [(b"c1", json.dumps({"alert_id": "al-2", "ad_id": "ad-2"}).encode())])
    records = read_feedback(settings)
    assert [r["alert_id"] for r in records] == ["al-1", "al-2"]
    resolved = with_ad_ids(records, alert_ads(settings))
    assert [r["ad_id"] for r in resolved] == ["ad-1", "ad-2"]


def test_reading_a_missing_topic_yields_nothing(stack, topic_prefix):
    settings = load_settings()
    assert list(read_topic_to_end(settings.kafka_bootstrap, f"{topic_prefix}absent",
                                  timeout_s=5)) == []


def test_next_training_uses_feedback_from_the_topic(stack, topic_prefix, tmp_path, capsys):
    settings = load_settings()
    ensure_topics(settings)
    ads = [item.ad for item in synthetic_ads(1200, seed=31, difficulty="easy")]
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(ad) + "\n" for ad in ads))
    benign = [ad for ad in ads if ad["ground_truth"]["label"] == "benign"][:2]
    send_feedback(settings, feedback_record("al-a", True, ad_id=benign[0]["ad_id"]))
    # an alert the analyst judged, whose ad id only the alerts topic knows
    produce(settings.kafka_bootstrap, settings.topics.alerts,
            [(b"k", json.dumps({"alert_id": "al-b", "ad_id": benign[1]["ad_id"]}).encode())])
    send_feedback(settings, feedback_record("al-b", True))
    send_feedback(settings, feedback_record("al-c", False, ad_id="ad-not-in-corpus"))
    out = tmp_path / "m.skops"
    assert main(["model", "train", "--corpus", str(corpus), "--feedback-topic",
                 "--out", str(out)]) == 0
    assert "2 verdicts used, 1 unused" in capsys.readouterr().out
    metadata = load_model(out).metadata
    assert metadata["feedback_used"] == 2 and metadata["feedback_records"] == 3
