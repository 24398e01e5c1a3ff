"""Issue 5's linking case through the real stream: 40 ads in 5 cities that each look harmless
alone are alerted as one cluster, with reasons naming the shared phones, template and circuit."""

from __future__ import annotations

import json

import redis

from streams.broker.kafkaio import produce, read_topic, running_worker, worker_death
from streams.broker.topics import ensure_topics
from streams.config import load_settings, redis_prefix
from streams.evaluation.evaluate import score_batch
from streams.evaluation.generate import generate_ads, make_harmless_looking_org
from streams.scoring.linkstore import RedisLinkStore

PHONE_CODES = {"link:cluster_phones", "link:contact_volume", "link:template_phones"}
TEMPLATE_CODES = {"link:template_phones", "link:template_cities"}


def test_harmless_looking_organisation_is_alerted_as_one_cluster(stack, topic_prefix, tmp_path,
                                                                  monkeypatch):
    # no text model, in this process and the worker: the org must be found by linking alone
    no_model = str(tmp_path / "no-model.skops")
    monkeypatch.setenv("VIGIL_MODEL", no_model)
    org = make_harmless_looking_org(40, 5, seed=3, images=False)
    org_ids = {ad["ad_id"] for ad in org}
    assert len({ad["location"]["city"] for ad in org}) == 5
    background = [ad for ad in generate_ads(400, seed=21, difficulty="hard", images=False)
                  if ad["ground_truth"]["label"] in ("benign", "adult")][:160]
    ads = sorted(org + background, key=lambda ad: ad["posted_at"])

    # alone, each org ad is harmless: scored with empty state, none alerts
    for ad in org:
        (alone,) = score_batch([ad])
        assert not alone["alert"], (ad["ad_id"], alone["severity"], alone["reasons"])

    settings = load_settings()
    ensure_topics(settings)
    produce(stack.kafka_bootstrap, settings.topics.raw,
            [(ad["ad_id"].encode(), json.dumps(ad).encode()) for ad in ads])
    log_path = tmp_path / "worker.log"
    wanted = {ad["ad_id"] for ad in ads}
    with running_worker({"VIGIL_TOPIC_PREFIX": topic_prefix, "VIGIL_MODEL": no_model}, log_path) as worker:
        scored = read_topic(stack.kafka_bootstrap, settings.topics.scored, timeout_s=240,
                            abort_if=worker_death(worker, log_path),
                            until=lambda recs: {r["ad_id"] for r in recs} >= wanted)
        alerts = read_topic(stack.kafka_bootstrap, settings.topics.alerts, timeout_s=30,
                            until=lambda recs: any(a["ad_id"] in org_ids for a in recs))

    store = RedisLinkStore(redis.Redis.from_url(stack.redis_url), redis_prefix(settings))
    clusters = {store.cluster_of(ad_id) for ad_id in org_ids}
    assert len(clusters) == 1, f"the organisation split into {len(clusters)} clusters"
    assert not {store.cluster_of(ad["ad_id"]) for ad in background} & clusters, \
        "background ads were pulled into the organisation's cluster"

    org_alerts = [a for a in alerts if a["ad_id"] in org_ids]
    assert org_alerts, "the organisation raised no alert"
    assert not [a for a in alerts if a["ad_id"] not in org_ids and a["ad_id"] in wanted
                and a["severity"] in ("high", "critical")], "a background ad raised a high alert"
    codes = {r["code"] for a in org_alerts for r in a["reasons"]}
    assert "link:circuit" in codes, codes
    assert codes & PHONE_CODES, codes
    assert codes & TEMPLATE_CODES, codes
    org_phones = {p for r in scored if r["ad_id"] in org_ids for p in r["entities"]["phones"]}
    named = {p for a in org_alerts for r in a["reasons"] for ev in r["evidence"] for p in ev.get("phones", [])}
    assert named & org_phones, "no alert reason names the shared phones"
    circuit = [ev for a in org_alerts for r in a["reasons"] if r["code"] == "link:circuit"
               for ev in r["evidence"]]
    assert any(len(ev.get("cities", [])) >= 3 for ev in circuit), circuit
    final = [r for r in scored if r["ad_id"] in org_ids]
    assert max(r["cluster"]["size"] for r in final) >= 30
