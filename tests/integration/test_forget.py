"""`vigil forget` against the real Redis and broker, after a real worker scored the ads: every
store it covers loses the ad or the phone number, clusters are regrouped, and the output says
per store what was removed and what cannot be."""

from __future__ import annotations

import json
import time

import redis

from streams.broker.kafkaio import produce, read_topic, running_worker, worker_death
from streams.broker.topics import ensure_topics
from streams.cli import main
from streams.config import load_settings, redis_prefix
from streams.scoring.linkstore import RedisLinkStore
from tests.integration.test_linkstore import assert_member_sets_match

PHONE = "+17025550123"


def ad(ad_id: str, body: str, minute: int) -> dict:
    return {"ad_id": ad_id, "source": "forget-test", "posted_at": f"2026-11-01T10:{minute:02d}:00Z",
            "title": "Sofa", "body": body, "location": {"city": "Reno", "region": "NV", "country": "US"}}


def test_forget_an_ad_and_a_phone_across_every_store(stack, topic_prefix, tmp_path, capsys):
    settings = load_settings()
    ensure_topics(settings)
    ads = [ad("f1", "Call 702 555 0123 or write to rose.mail@example.com", 1),
           ad("f2", "Sweet girl, call 702-555-0123 now", 2),
           ad("f3", "Write to rose.mail@example.com for details", 3),
           ad("f4", "Nice sofa, phone 775 555 0188", 4)]
    produce(stack.kafka_bootstrap, settings.topics.raw, [(a["ad_id"].encode(), json.dumps(a).encode()) for a in ads])
    log_path = tmp_path / "worker.log"
    with running_worker({"VIGIL_TOPIC_PREFIX": topic_prefix}, log_path) as worker:
        read_topic(stack.kafka_bootstrap, settings.topics.scored, timeout_s=120,
                   abort_if=worker_death(worker, log_path),
                   until=lambda recs: {r["ad_id"] for r in recs} >= {"f1", "f2", "f3", "f4"})
    client = redis.Redis.from_url(stack.redis_url, decode_responses=True)
    P = redis_prefix(settings)
    links = RedisLinkStore(client, P)
    assert len({links.cluster_of(a) for a in ("f1", "f2", "f3")}) == 1, "the three ads start linked"
    assert client.exists(f"{P}result:f3") and client.zscore(f"{P}id:email:rose.mail@example.com:ads", "f3")

    assert client.get(f"{P}seen:f3") and client.get(f"{P}seen:f1"), "the worker noted every ad id"
    assert 0 < client.ttl(f"{P}seen:f3") <= 7 * 86400, "the duplicate check expires (VIGIL_DEDUPE_DAYS)"

    # --- an ad
    assert main(["forget", "--ad-id", "f3"]) == 0
    out = capsys.readouterr().out
    for store in ("redis link state", "stored results", "alert suppression", "dedupe check seen-ads",
                  "kafka topics"):
        assert f"  {store}: " in out, out
    assert "NOT removed: records in" in out and "cannot be deleted one by one" in out
    assert not client.exists(f"{P}result:f3")
    assert client.zscore(f"{P}id:email:rose.mail@example.com:ads", "f3") is None
    assert not client.hexists(f"{P}uf:parent", "ad:f3") and not client.hexists(f"{P}tpl:of", "f3")
    assert links.cluster_of("f1") == links.cluster_of("f2")
    root = links.cluster_of("f1")
    assert client.hget(f"{P}uf:c:{root}", "size") == "2" and "f3" not in client.lrange(f"{P}uf:c:{root}:ads", 0, -1)
    assert_member_sets_match(client, P)  # what a later hub's regroup would read
    assert "  dedupe check seen-ads: 1 duplicate-check key(s) deleted" in out, out
    assert not client.exists(f"{P}seen:f3") and client.exists(f"{P}seen:f1"), "only f3's key goes"

    # --- a phone, as an analyst would type it
    forgot_at = time.time()
    assert main(["forget", "--phone", "(702) 555-0123"]) == 0
    out = capsys.readouterr().out
    assert PHONE not in out and "702" not in out  # the number is never printed
    assert "2 stored result(s) deleted" in out
    assert not client.exists(f"{P}result:f1") and not client.exists(f"{P}result:f2")
    assert links.cluster_of("f1") != links.cluster_of("f2"), "the phone was their only link"
    assert_member_sets_match(client, P)
    for ad_id in ("f1", "f2"):  # each new root counts as used now, so pruning keeps it last
        assert client.zscore(f"{P}uf:touched", links.cluster_of(ad_id)) >= forgot_at
    leftovers = []
    for key in client.scan_iter(match=f"{P}*"):
        kind = client.type(key)
        values = (client.hgetall(key).items() if kind == "hash" else client.smembers(key) if kind == "set" else
                  client.zrange(key, 0, -1) if kind == "zset" else client.lrange(key, 0, -1) if kind == "list" else [])
        if PHONE in key or any(PHONE in str(v) for v in values):
            leftovers.append(key)
    assert leftovers == [], leftovers
    assert client.zscore(f"{P}id:phone:+17755550188:ads", "f4") is not None, "other numbers are untouched"


def test_forget_reaches_the_investigator_store(stack, topic_prefix, tmp_path, monkeypatch, capsys):
    from sqlalchemy import func, select

    from streams.bench.store import scored_records
    from streams.store import schema
    from streams.store.db import open_store_engine
    from streams.store.rows import alert_row, scored_ad_rows
    from streams.store.writer import StoreWriter

    url = f"sqlite:///{tmp_path / 'store.db'}"
    monkeypatch.setenv("VIGIL_STORE_URL", url)
    scored, alerts = scored_records(40, seed=3, images=False)
    engine = open_store_engine(url)
    StoreWriter(engine).write([scored_ad_rows(r, stored_at=1.0) for r in scored], [alert_row(a) for a in alerts])
    phone = next(p for r in scored for p in r["entities"]["phones"])
    holders = {r["ad_id"] for r in scored if phone in r["entities"]["phones"]}
    other = next(r["ad_id"] for r in scored if r["ad_id"] not in holders)

    def ads_left(*ids: str) -> int:
        with engine.connect() as conn:
            return conn.scalar(select(func.count()).select_from(schema.ads).where(schema.ads.c.ad_id.in_(ids)))

    assert main(["forget", "--ad-id", other]) == 0
    assert "  investigator store: rows deleted or blanked: " in capsys.readouterr().out
    assert ads_left(other) == 0
    assert main(["forget", "--phone", phone]) == 0
    out = capsys.readouterr().out
    assert f"{len(holders)} ads" in out and phone not in out
    assert ads_left(*holders) == 0
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(schema.ads).where(
            schema.ads.c.record.like(f"%{phone}%"))) == 0


def test_forget_before_any_worker_ran_creates_no_topic_and_removes_nothing(stack, topic_prefix, capsys):
    from streams.clients import kafka_admin

    settings = load_settings()
    ensure_topics(settings)
    admin = kafka_admin(settings)
    try:
        before = set(admin.list_topics())
        assert main(["forget", "--ad-id", "never-seen"]) == 0
        out = capsys.readouterr().out
        assert "0 duplicate-check key(s) deleted" in out
        assert "not in any cluster" in out and "0 stored result(s)" in out
        assert set(admin.list_topics()) == before, "forget created a topic"
    finally:
        admin.close()
