"""The pipeline benchmark's pure parts: percentiles, the targets table, the generated ads."""

from __future__ import annotations

import json

from streams.bench.pipeline import bench_ads, percentiles, targets_table, verdict


def test_percentiles_are_ordered_and_counted():
    summary = percentiles([0.5, 0.1, 0.3, 2.0, 0.2] * 40)
    assert summary["n"] == 200
    assert summary["p50"] <= summary["p95"] <= summary["p99"] <= summary["max"] == 2.0
    assert percentiles([]) == {"n": 0}


def test_verdict_reads_the_direction_of_a_target():
    assert verdict(2100, 2000) == "met"
    assert verdict(1999, 2000) == "NOT met"
    assert verdict(1.5, 2.0, at_most=True) == "met"
    assert verdict(None, 2.0) == "n/a"


def _result(mix: str, rate, runs, ratio=0.5, scaling=None) -> dict:
    return {"mix": mix, "rate": rate, "runs": runs, "stream_over_batch": {"throughput": ratio},
            "scaling": scaling or {}}


def test_targets_table_fills_only_what_the_run_measured():
    one = {"workers": 1, "throughput_ads_per_s": 250.0, "ingest_to_webhook_s": {"p99": 1.2}}
    rows = {r["target"]: r for r in targets_table(
        _result("text", None, [one], scaling={"throughput_ratio": 1.8}))}
    assert rows["one worker, text-only ads/s"]["verdict"] == "NOT met"
    assert rows["two workers / one, text-only"]["verdict"] == "met"
    assert rows["streaming / batch throughput"]["verdict"] == "NOT met"
    assert rows["p99 ingest->webhook at 200 ads/s with images"]["verdict"] == "n/a"

    paced = {r["target"]: r for r in targets_table(_result("images", 200.0, [one]))}
    assert paced["p99 ingest->webhook at 200 ads/s with images"]["verdict"] == "met"
    # a paced run says nothing about throughput
    assert paced["one worker, ads/s with 1-4 images"]["verdict"] == "n/a"
    assert paced["streaming / batch throughput"]["verdict"] == "n/a"


def test_bench_ads_are_seeded_and_the_image_mix_carries_one_to_four_photos():
    text = [json.loads(line) for line in bench_ads(30, 3, "text")]
    assert [ad["ad_id"] for ad in text] == [json.loads(x)["ad_id"] for x in bench_ads(30, 3, "text")]
    assert not any("images" in ad for ad in text)
    images = [json.loads(line) for line in bench_ads(30, 3, "images", id_prefix="warm-")]
    assert all(1 <= len(ad["images"]) <= 4 for ad in images)
    assert all(ad["ad_id"].startswith("warm-") for ad in images)
    # the same ads apart from their photos
    assert [ad["body"] for ad in images] == [ad["body"] for ad in text]
