"""`vigil ingest --http` against the real broker: 202 puts ads on ads.raw, 400 puts nothing."""

import json
import threading

import httpx
import pytest

from streams.broker.kafkaio import read_topic
from streams.broker.topics import ensure_topics
from streams.config import load_settings
from streams.ingest.http import make_http_server
from streams.ingest.producer import make_producer

AD = {"ad_id": "http-1", "source": "t", "posted_at": "2026-11-01T00:00:00Z", "title": "Bike",
      "body": "Red bike, barely used.", "location": {"city": "Reno", "region": "NV", "country": "US"}}


@pytest.fixture
def server(stack, topic_prefix):
    settings = load_settings()
    ensure_topics(settings)
    producer = make_producer(settings)
    srv = make_http_server(settings, producer, 0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield settings, f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()
    producer.close()


def test_post_ads_accepts_valid_and_rejects_invalid_batches(server, stack):
    settings, base = server
    ok = httpx.post(f"{base}/ads", content="\n".join(json.dumps({**AD, "ad_id": f"http-{i}"})
                                                     for i in range(3)),
                    headers={"Content-Type": "application/x-ndjson"})
    assert ok.status_code == 202
    assert ok.json() == {"accepted": ["http-0", "http-1", "http-2"]}
    bad = httpx.post(f"{base}/ads", json=[{**AD, "ad_id": "http-bad", "posted_at": 5}])
    assert bad.status_code == 400
    assert bad.json()["rejected"][0]["ad_id"] == "http-bad"
    assert httpx.post(f"{base}/nope", json=AD).status_code == 404
    records = read_topic(stack.kafka_bootstrap, settings.topics.raw, timeout_s=30,
                         until=lambda r: len(r) >= 3)
    assert sorted(r["ad_id"] for r in records) == ["http-0", "http-1", "http-2"]
