"""VIGIL_RETENTION_DAYS caps how long ads and identifiers are kept: the topics' retention.ms
(set at creation and on existing topics), and the TTLs of the Redis link state
(VIGIL_LINK_RETENTION_DAYS) and of the duplicate check (VIGIL_DEDUPE_DAYS)."""

from __future__ import annotations

import time

import redis
from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic

from streams.broker.topics import RETAINED, apply_retention, ensure_topics
from streams.config import load_settings, redis_prefix
from streams.scoring.runtime import stream_pipeline


def topic_configs(bootstrap: str, topics: list[str], *, until=lambda configs: True) -> dict[str, dict[str, str]]:
    """The topics' configs; an alteration reaches the broker's view through the metadata log a
    moment after the controller answered, so `until` is polled for up to 15 s."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        deadline = time.monotonic() + 15
        while True:
            result = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, t) for t in topics])
            configs = {name: {key: entry["value"] for key, entry in entries.items()}
                       for name, entries in result["topic"].items()}
            if until(configs) or time.monotonic() > deadline:
                return configs
            time.sleep(0.3)
    finally:
        admin.close()


def test_topics_get_the_cap_at_creation_and_existing_ones_are_altered(stack, topic_prefix, monkeypatch):
    settings = load_settings()
    admin = KafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap)
    try:  # an existing topic made without a cap
        admin.create_topics([NewTopic(settings.topics.raw, 1, 1)])
    finally:
        admin.close()
    monkeypatch.setenv("VIGIL_RETENTION_DAYS", "3")
    settings = load_settings()
    ensure_topics(settings)
    names = [getattr(settings.topics, role) for role in RETAINED]
    capped = str(3 * 86400 * 1000)
    configs = topic_configs(stack.kafka_bootstrap, [*names, settings.topics.feedback],
                            until=lambda c: all(c[t].get("retention.ms") == capped for t in names))
    for name in names:
        assert configs[name]["retention.ms"] == str(3 * 86400 * 1000), name
    assert configs[settings.topics.feedback].get("retention.ms") != capped
    monkeypatch.setenv("VIGIL_RETENTION_DAYS", "1.5")
    assert set(apply_retention(load_settings())) == set(names)
    wanted = str(int(1.5 * 86400) * 1000)
    raw = settings.topics.raw
    assert topic_configs(stack.kafka_bootstrap, [raw], until=lambda c: c[raw].get("retention.ms") == wanted)[raw][
        "retention.ms"] == wanted


def test_link_state_ttls_never_exceed_the_cap(stack, topic_prefix, monkeypatch):
    monkeypatch.setenv("VIGIL_RETENTION_DAYS", "2")
    settings = load_settings()
    client = redis.Redis.from_url(stack.redis_url)
    pipeline = stream_pipeline(settings, client)
    pipeline.process({"ad_id": "r1", "source": "t", "posted_at": "2026-11-01T10:00:00Z", "title": "Sofa",
                      "body": "call 702 555 0123, rose.mail@example.com", "location": {"city": "Reno"}},
                     ingested_at=None)
    keys = list(client.scan_iter(match=f"{redis_prefix(settings)}id:*"))
    assert keys
    for key in keys:
        assert 0 < client.ttl(key) <= 2 * 86400, key


def test_link_and_dedupe_retention_come_from_config_capped_by_the_overall_cap(stack, topic_prefix, monkeypatch):
    monkeypatch.setenv("VIGIL_RETENTION_DAYS", "365")
    monkeypatch.setenv("VIGIL_LINK_RETENTION_DAYS", "5")
    monkeypatch.setenv("VIGIL_DEDUPE_DAYS", "400")
    settings = load_settings()
    assert settings.link_ttl_s == 5 * 86400
    assert settings.dedupe_ttl_s == 365 * 86400, "the overall cap wins over a longer dedupe setting"
    client = redis.Redis.from_url(stack.redis_url)
    pipeline = stream_pipeline(settings, client)
    pipeline.process({"ad_id": "r2", "source": "t", "posted_at": "2026-11-01T10:00:00Z", "title": "Sofa",
                      "body": "call 702 555 0124, lily.mail@example.com", "location": {"city": "Reno"}},
                     ingested_at=None)
    keys = list(client.scan_iter(match=f"{redis_prefix(settings)}id:*"))
    keys += list(client.scan_iter(match=f"{redis_prefix(settings)}tpl:band:*"))
    assert keys
    for key in keys:
        assert 4 * 86400 < client.ttl(key) <= 5 * 86400, key
