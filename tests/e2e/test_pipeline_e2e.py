"""End to end through the real broker, Redis and a `vigil worker` subprocess.

1,000 synthetic ads plus one of each kind of bad input go onto ads.raw; every ad_id must come
out on ads.scored exactly once or on ads.dlq with its reason, and the planted organisations
must raise alerts.
"""

from __future__ import annotations

import base64
import json
from collections import Counter

import pytest

from streams.broker.kafkaio import produce, read_topic, running_worker, worker_death
from streams.broker.topics import ensure_topics
from streams.config import load_settings
from streams.evaluation.generate import generate_ads

N_ADS = 1000


def bad_records(valid: dict) -> list[tuple[str, bytes | None, bytes]]:
    """(expected error code, key, value) for each kind of bad input the issue lists."""
    def ad(**changes) -> dict:
        out = {k: v for k, v in valid.items() if k not in ("images", "ground_truth")}
        out.update(changes)
        return out

    missing_id = ad()
    del missing_id["ad_id"]
    return [
        ("not_json", None, b"this is not json {"),
        ("not_object", None, b'["an", "array"]'),
        ("missing_field", None, json.dumps(missing_id).encode()),
        ("wrong_type", b"bad-types", json.dumps(ad(ad_id="bad-types", title=["x"])).encode()),
        ("too_large", b"bad-huge", json.dumps(ad(ad_id="bad-huge", body="z" * 10_000_000)).encode()),
        ("invalid_utf8", b"bad-utf8", b'{"ad_id": "bad-utf8", "title": "\xff\xfe"}'),
        ("unknown_schema_version", b"bad-version",
         json.dumps(ad(ad_id="bad-version", schema_version=99)).encode()),
        ("duplicate_ad_id", valid["ad_id"].encode(), json.dumps(valid).encode()),
    ]


@pytest.fixture
def corpus() -> list[dict]:
    return list(generate_ads(N_ADS, seed=11, difficulty="easy", images=True))


def test_every_ad_is_scored_once_or_dead_lettered_and_planted_alerts_arrive(
    stack, topic_prefix, corpus, tmp_path
):
    settings = load_settings()
    ensure_topics(settings)
    not_an_image = {**{k: v for k, v in corpus[1].items() if k != "ground_truth"},
                    "ad_id": "bad-image",
                    "images": [{"data_b64": base64.b64encode(b"<html>not an image</html>").decode()}]}
    bad = bad_records(corpus[0])
    records = [(ad["ad_id"].encode(), json.dumps(ad).encode()) for ad in corpus]
    records.insert(5, (b"bad-image", json.dumps(not_an_image).encode()))
    records += [(key, value) for _, key, value in bad]
    produce(stack.kafka_bootstrap, settings.topics.raw, records)

    expected_ids = {ad["ad_id"] for ad in corpus} | {"bad-image"}
    log_path = tmp_path / "worker.log"
    with running_worker({"VIGIL_TOPIC_PREFIX": topic_prefix}, log_path) as worker:
        scored = read_topic(stack.kafka_bootstrap, settings.topics.scored, timeout_s=300,
                            abort_if=worker_death(worker, log_path),
                            until=lambda recs: {r["ad_id"] for r in recs} >= expected_ids)
        dlq = read_topic(stack.kafka_bootstrap, settings.topics.dlq, timeout_s=60,
                         until=lambda recs: len(recs) >= len(bad) + 1)
        alerts = read_topic(stack.kafka_bootstrap, settings.topics.alerts, timeout_s=30,
                            until=lambda recs: len(recs) > 0)

    counts = Counter(r["ad_id"] for r in scored)
    assert set(counts) == expected_ids, (tmp_path / "worker.log").read_text()[-3000:]
    assert max(counts.values()) == 1, [k for k, v in counts.items() if v > 1][:5]

    codes = Counter(r["error_code"] for r in dlq)
    for code, _, _ in bad:
        assert codes[code] >= 1, (code, codes)
    assert any(c.startswith("image_") for c in codes), codes
    for record in dlq:
        assert record["reason"] and record["stage"]
        assert base64.b64decode(record["original_b64"]) or record["original_size"] == 0
    image_ad = next(r for r in scored if r["ad_id"] == "bad-image")
    assert image_ad["image_errors"], "a non-image is a per-image error on a scored ad"

    # planted organisations raise alerts; the clusters alerted are organisations' clusters
    truth = {ad["ad_id"]: ad["ground_truth"] for ad in corpus}
    orgs = {t["org_id"] for t in truth.values() if t.get("org_id")}
    assert orgs, "the generator planted no organisation"
    alerted_orgs = {truth[a["ad_id"]].get("org_id") for a in alerts if a["ad_id"] in truth}
    assert alerted_orgs & orgs, "no planted organisation raised an alert"
    for alert in alerts:
        assert alert["reasons"], alert["alert_id"]
        assert alert["alert_id"].startswith("al_")


def test_bank_photo_mirrored_and_reencoded_in_a_benign_ad_raises_a_critical_alert(
    stack, topic_prefix, tmp_path
):
    import io

    import redis
    from PIL import Image, ImageOps
    from skimage import data

    from streams.banks.store import BankStore, entry_for_image
    from streams.config import redis_prefix

    settings = load_settings()
    ensure_topics(settings)
    photo = Image.fromarray(data.rocket()).convert("RGB")
    BankStore(redis.Redis.from_url(stack.redis_url), redis_prefix(settings)).add_entries(
        [entry_for_image("missing_children", "mc-42", photo, case_id="SYN-CASE-42")])
    buf = io.BytesIO()
    ImageOps.mirror(photo).resize((300, 200)).save(buf, "JPEG", quality=60)
    ad = {"ad_id": "benign-with-bank-photo", "source": "test", "posted_at": "2026-11-01T12:00:00Z",
          "title": "Bicycle for sale", "body": "Blue city bike, good tyres, pick up downtown.",
          "location": {"city": "Reno", "region": "NV", "country": "US"},
          "images": [{"data_b64": base64.b64encode(buf.getvalue()).decode()}]}
    produce(stack.kafka_bootstrap, settings.topics.raw, [(ad["ad_id"].encode(), json.dumps(ad).encode())])
    log_path = tmp_path / "worker.log"
    with running_worker({"VIGIL_TOPIC_PREFIX": topic_prefix}, log_path) as worker:
        alerts = read_topic(stack.kafka_bootstrap, settings.topics.alerts, timeout_s=120,
                            abort_if=worker_death(worker, log_path),
                            until=lambda recs: any(r["ad_id"] == ad["ad_id"] for r in recs))
    alert = next(a for a in alerts if a["ad_id"] == ad["ad_id"])
    assert alert["severity"] == "critical"
    match = alert["image_matches"][0]
    assert match["case_id"] == "SYN-CASE-42"
    assert match["hash_type"] in ("pdq", "dhash", "phash") and match["distance"] >= 0
    assert match["image_ref"].startswith("inline:")
