"""The pipeline benchmark's pure parts: percentiles, the targets table, the generated ads."""

from __future__ import annotations

import json

from streams.bench.pipeline import bench_ads, percentiles, soak_summary, targets_table, verdict


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


def test_soak_summary_compares_the_end_with_the_first_sample_after_warm_up():
    samples = [{"t_s": t, "sent": sent, "worker_rss_total_mib": rss, "redis_used_mib": redis_mib, "lag": lag}
               for t, sent, rss, redis_mib, lag in [
                   (0, 0, 80.0, 5.0, 900), (60, 10, 100.0, 10.0, 3), (120, 20, 102.0, 10.5, 0),
                   (180, 30, 104.0, 11.0, 5), (240, 40, 105.0, 11.5, 2)]]
    soak = soak_summary(samples + [{**samples[-1], "t_s": 250}], warmup_s=60, window_s=1)
    # the sample after the last ad was sent (t 250) is the drain, not the end of the soak
    assert soak["from_t_s"] == 60 and soak["to_t_s"] == 180
    assert round(soak["worker_rss_drift"], 3) == 0.04 and round(soak["redis_memory_drift"], 3) == 0.1
    assert (soak["lag_max_first_half"], soak["lag_max_second_half"]) == (3, 5)  # warm-up's 900 left out
    assert soak_summary(samples[:1], warmup_s=60) == {}


def test_soak_levels_are_window_means_so_one_burst_of_expiries_does_not_decide_the_drift():
    mib = [200.0, 220.0, 200.0, 220.0, 200.0, 220.0, 200.0, 220.0, 180.0]  # the last sample: a dip
    samples = [{"t_s": 100 + 10 * i, "sent": i, "worker_rss_total_mib": 50.0, "redis_used_mib": m,
                "lag": 0} for i, m in enumerate(mib)] + [{"t_s": 200, "sent": len(mib),
                                                            "worker_rss_total_mib": 50.0,
                                                            "redis_used_mib": 120.0, "lag": 0}]
    soak = soak_summary(samples, warmup_s=100, window_s=40)
    assert soak["redis_memory_mib"] == [210.0, 205.0]  # 4 samples each; the drained 120 left out
    assert round(soak["redis_memory_drift"], 4) == round(205 / 210 - 1, 4)
    assert soak["worker_rss_drift"] == 0.0


def test_the_issue_16_targets_read_cpu_broker_latency_and_soak():
    one = {"workers": 1, "throughput_ads_per_s": 250.0, "ingest_to_webhook_s": {},
           "ingest_to_scored_s": {"p99": 0.4},
           "cpu_s_per_1000_ads_by_stage": {"worker": 3.0, "kafka broker": 0.2},
           "soak": {"worker_rss_drift": 0.02, "redis_memory_drift": 0.08}}
    result = _result("text", 120.0, [one])
    result["stream_over_batch"]["worker_cpu_over_batch"] = 1.5
    rows = {r["target"]: r for r in targets_table(result)}
    assert rows["worker CPU per ad / batch path's"]["verdict"] == "NOT met"
    assert rows["broker CPU s per 1,000 ads"]["verdict"] == "met"
    assert rows["p99 ingest->scored, paced (text)"]["verdict"] == "met"
    assert rows["soak: worker RSS end / after warm-up"]["verdict"] == "met"
    assert rows["soak: Redis memory end / after warm-up"]["verdict"] == "NOT met"


def test_a_soak_stream_is_corpora_one_after_another_with_time_moving_on():
    lines = [json.loads(x) for x in bench_ads(250, seed=3, mix="text", chunk=100)]
    assert len(lines) == 250 and len({ad["ad_id"] for ad in lines}) == 250
    assert [ad["ad_id"].split("-")[0] for ad in lines[::50]] == ["s3", "s3", "c1", "c1", "c2"]
    posted = [ad["posted_at"] for ad in lines]
    assert posted == sorted(posted), "time only moves forward across the corpora"
    assert posted[100] >= "2026-10-31"  # the second corpus's 30 days follow the first's
    # the first corpus is the plain one (a soak's batch baseline scores it)
    assert lines[:100] == [json.loads(x) for x in bench_ads(100, seed=3, mix="text")]
