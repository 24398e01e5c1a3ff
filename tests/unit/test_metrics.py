"""What a scored ad adds to the metrics, and the lag arithmetic (no services)."""

from __future__ import annotations

from kafka import TopicPartition
from prometheus_client import REGISTRY

from streams import metrics
from streams.broker.lag import lag_by_partition


def value(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_lag_counts_from_the_commit_or_from_the_log_start():
    a, b, c = (TopicPartition("ads.raw", p) for p in range(3))
    ends = {a: 100, b: 50, c: 7}
    assert lag_by_partition(ends, {a: 90, b: 50}, {a: 0, b: 0, c: 3}) == {a: 10, b: 0, c: 4}
    assert lag_by_partition({a: 5}, {a: 9}, {}) == {a: 0}  # never negative


def test_observe_scored_counts_detection_signals():
    scored = {"severity": "high", "indicators": [{"category": "age"}, {"category": "age"}, {}],
              "image_matches": [{"bank": "missing_children"}], "cluster": {"size": 4}}
    before = {
        "scored": value("vigil_ads_scored_total", severity="high"),
        "age": value("vigil_indicator_hits_total", category="age"),
        "unknown": value("vigil_indicator_hits_total", category="unknown"),
        "bank": value("vigil_bank_matches_total", bank="missing_children"),
        "joins": value("vigil_cluster_joins_total"),
        "text": value("vigil_stage_seconds_count", stage="text"),
    }
    metrics.observe_scored(scored, {"text": 0.002, "link": 0.001})
    assert value("vigil_ads_scored_total", severity="high") == before["scored"] + 1
    assert value("vigil_indicator_hits_total", category="age") == before["age"] + 2
    assert value("vigil_indicator_hits_total", category="unknown") == before["unknown"] + 1
    assert value("vigil_bank_matches_total", bank="missing_children") == before["bank"] + 1
    assert value("vigil_cluster_joins_total") == before["joins"] + 1
    assert value("vigil_stage_seconds_count", stage="text") == before["text"] + 1
    metrics.observe_scored({"severity": "none", "cluster": {"size": 1}}, {})
    assert value("vigil_cluster_joins_total") == before["joins"] + 1  # a lone ad grows nothing


def test_top_family_and_model_info_and_bank_sizes():
    assert metrics.top_family({"reasons": [{"code": "bank:missing_children", "family": "bank"}]}) == "bank"
    assert metrics.top_family({"reasons": []}) == "none"
    metrics.set_model_info(None)
    assert value("vigil_model_info", version="none", format_version="") == 1
    metrics.set_bank_sizes({"missing_children": 3, "previously_flagged": 2})
    metrics.set_bank_sizes({"missing_children": 4})
    assert value("vigil_bank_entries", bank="missing_children") == 4
    assert REGISTRY.get_sample_value("vigil_bank_entries", {"bank": "previously_flagged"}) is None


def test_known_label_sets_exist_at_zero_before_any_observation():
    def count(dest: str, severity: str) -> float | None:
        return REGISTRY.get_sample_value("vigil_ingest_to_alert_delivered_seconds_count",
                                         {"destination": dest, "severity": severity})

    assert count("unit-initialised", "critical") is None
    metrics.initialise_delivery_series(["unit-initialised"])
    assert [count("unit-initialised", s) for s in ("low", "medium", "high", "critical")] == [0.0] * 4
    assert count("unit-initialised", "none") is None  # no alert is ever "none"
    metrics.initialise_worker_series()
    for stage in metrics.STAGES:
        assert REGISTRY.get_sample_value("vigil_stage_seconds_count", {"stage": stage}) is not None
    for severity in ("none", "low", "medium", "high", "critical"):
        assert REGISTRY.get_sample_value("vigil_ads_scored_total", {"severity": severity}) is not None
