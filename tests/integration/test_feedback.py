"""Feedback goes onto the real topic and reaches the next model training."""

import pytest

from detectors.model import training_rows
from streams.config import load_settings
from streams.errors import CliError
from streams.feedback import _parse_label, feedback_record, read_feedback, send_feedback
from streams.topics import ensure_topics


def test_feedback_round_trip_and_use_in_training(stack, topic_prefix):
    settings = load_settings()
    ensure_topics(settings)
    send_feedback(settings, feedback_record("al_1", False, note="a bakery", ad_id="ad-1"))
    send_feedback(settings, feedback_record("al_2", True, ad_id="ad-2"))
    send_feedback(settings, feedback_record("al_1", True, ad_id="ad-1"))  # analyst changed mind
    got = {r["alert_id"]: r for r in read_feedback(settings)}
    assert set(got) == {"al_1", "al_2"}
    assert got["al_1"]["label"] is True
    ads = [{"ad_id": "ad-1", "title": "t", "body": "b", "ground_truth": {"label": "benign"}},
           {"ad_id": "ad-3", "title": "t", "body": "b", "ground_truth": {"label": "adult"}}]
    texts, labels, counts = training_rows(ads, list(got.values()))
    assert labels == [1, 0]  # feedback overrides the corpus label of ad-1
    assert counts == {"feedback_total": 2, "feedback_used": 1}


def test_bad_labels_are_refused():
    with pytest.raises(CliError):
        _parse_label("maybe")
