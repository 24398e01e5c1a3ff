"""The store on real databases (a SQLite file; the test PostgreSQL server) with real scored ads
from the detectors, and `vigil store` consuming the real broker."""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from detectors.images.hashing import decode_image, query_variants
from detectors.text.phones import extract_phones
from streams.bench.store import scored_records
from streams.broker.kafkaio import produce, read_topic
from streams.broker.topics import ensure_topics
from streams.config import load_settings
from streams.processes import running_vigil
from streams.store import queries, schema
from streams.store.db import open_store_engine
from streams.store.rows import alert_row, scored_ad_rows
from streams.store.writer import StoreWriter

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def records() -> tuple[list[dict], list[dict]]:
    return scored_records(240, seed=17, images=True)


def write_all(writer: StoreWriter, scored: list[dict], alerts: list[dict], batch: int = 64):
    totals: Counter = Counter()
    for i in range(0, max(len(scored), len(alerts)), batch):
        counts = writer.write([scored_ad_rows(r, stored_at=time.time()) for r in scored[i:i + batch]],
                              [alert_row(a) for a in alerts[i:i + batch]])
        totals.update(counts.rows)
    return totals


def count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(table))


def test_writes_are_idempotent_and_an_alerts_status_survives_a_redelivery(store_url, records):
    scored, alerts = records
    engine = open_store_engine(store_url)
    writer = StoreWriter(engine)
    first = write_all(writer, scored, alerts)
    assert first["ads"] == len(scored) and first["alerts"] == len(alerts) >= 2
    with engine.begin() as conn:
        conn.execute(update(schema.alerts).where(schema.alerts.c.alert_id == alerts[0]["alert_id"])
                     .values(status="escalated", status_by="ana"))
    again = write_all(writer, scored, alerts, batch=50)  # redelivered, in other batches
    assert again.get("ads", 0) == 0 and again.get("alerts", 0) == 0 and again.get("identifiers", 0) == 0
    assert count(engine, schema.ads) == len(scored) and count(engine, schema.alerts) == len(alerts)
    with engine.connect() as conn:
        assert queries.alert(conn, alerts[0]["alert_id"])["status"] == "escalated"


def _open_after(url: str, start_at: float) -> str | None:
    """In a child process: wait for the shared start time, open the store; the error, if any."""
    from streams.store.db import current_revision

    time.sleep(max(0.0, start_at - time.time()))
    try:
        return current_revision(open_store_engine(url))
    except Exception as exc:  # reported to the parent, which asserts on it
        return f"{type(exc).__name__}: {exc}"


def test_processes_that_open_a_new_store_at_once_all_get_the_migrated_schema(store_url):
    """`vigil store`, `vigil console` and `vigil console user add` start together in a deployment
    (and in the Prometheus test): their migrations must not race to create the same tables."""
    import multiprocessing

    from streams.store.db import head_revision

    with multiprocessing.get_context("spawn").Pool(4) as pool:
        start_at = time.time() + 3  # past the children's imports
        results = pool.starmap(_open_after, [(store_url, start_at)] * 4)
    assert results == [head_revision()] * 4


def test_a_hubs_regroup_moves_the_ads_of_its_old_cluster_in_the_store(store_url, records):
    """A desk number chained three advertisers into cluster A before it was found to be a hub;
    the ad that made it a hub carries the regroup (link.regrouped). In one batch with the ads
    before and after it, and again when the batch is redelivered, the store ends with A, B and C
    apart, each with its own ads and size, as the link state has them."""
    base = records[0][:11]

    def scored(i: int, cluster_id: str, size: int, sample: list[str], **link) -> dict:
        r = base[i]
        return {**r, "cluster": {**r["cluster"], "cluster_id": cluster_id, "size": size, "ad_ids": sample},
                "link": {**r["link"], **link}}

    ids = [r["ad_id"] for r in base]
    # the chain's root moved on the way (X, then A), as union-find roots do
    batch = [scored(i, "X" if i < 3 else "A", i + 1, ids[:i + 1]) for i in range(9)]
    groups = {"A": ids[0:3], "B": ids[3:6], "C": ids[6:9]}
    batch.append(scored(9, "D", 1, [ids[9]], regrouped=[
        {"from": "A", "cluster_id": c, "size": 3, "ad_ids": ads, "phones": [f"+1702555000{k}"],
         "cities": ["Reno"], "first_seen": "2026-11-01T00:00:00Z", "last_seen": "2026-11-02T00:00:00Z"}
        for k, (c, ads) in enumerate(groups.items())]))
    batch.append(scored(10, "B", 4, groups["B"] + [ids[10]]))
    engine = open_store_engine(store_url)
    writer = StoreWriter(engine)
    for attempt in (1, 2):  # the second time: a redelivered batch
        counts = write_all(writer, batch, [], batch=len(batch))
        assert counts["ads_regrouped"] == (9 if attempt == 1 else 0)  # X's three go back to A
        with engine.connect() as conn:
            for cluster_id, expected in {**groups, "B": groups["B"] + [ids[10]], "D": [ids[9]]}.items():
                view = queries.cluster(conn, cluster_id)
                assert {a["ad_id"] for a in view.ads} == set(expected), (attempt, cluster_id)
                assert view.summary["size"] == len(expected), (attempt, cluster_id)
            assert view.absorbed == [] and queries.cluster(conn, "A").absorbed == []
            assert queries.cluster(conn, "X").ads == []  # its ads are A's again, not X's
            c = queries.cluster(conn, "C").summary
            assert c["phones"] == ["+17025550002"] and c["cities"] == ["Reno"]
            assert c["last_ts"] - c["first_ts"] == 86400


def test_phone_text_cluster_and_photo_searches_find_the_right_ads(store_url, records):
    scored, alerts = records
    engine = open_store_engine(store_url)
    write_all(StoreWriter(engine), scored, alerts)
    by_phone: dict[str, set[str]] = {}
    for r in scored:
        for p in r["entities"]["phones"]:
            by_phone.setdefault(p, set()).add(r["ad_id"])
    phone, holders = max(by_phone.items(), key=lambda kv: len(kv[1]))
    assert len(holders) >= 3
    national = phone[2:]
    written = f"({national[:3]}) {national[3:6]}-{national[6:]}"  # another way of writing it
    (found_phone, _, _), = extract_phones(written, "US")
    with engine.connect() as conn:
        assert {r["ad_id"] for r in queries.search_identifier(conn, "phone", found_phone)} == holders
        assert queries.search_identifier(conn, "phone", "+19999999999") == []

        # text: every word must be in the title or body
        target = next(r for r in scored if len(r["body"].split()) > 8)
        words = [w for w in queries.text_words(target["body"]) if len(w) > 4][:2]
        hits = queries.search_text(conn, " ".join(words), limit=1000)
        assert target["ad_id"] in {h["ad_id"] for h in hits}
        for hit in hits:
            text = (hit["title"] + " " + next(r["body"] for r in scored if r["ad_id"] == hit["ad_id"])).lower()
            assert all(w.lower() in text for w in words), (words, hit["ad_id"])
        queries.search_text(conn, '"); DROP TABLE ads; -- NEAR(x y) * ^')  # query syntax is just words
        assert count(engine, schema.ads) == len(scored)

        # the largest cluster holds every ad scored into it
        sizes = Counter(r["cluster"]["cluster_id"] for r in scored)
        cluster_id = max(sizes, key=sizes.get)
        view = queries.cluster(conn, cluster_id)
        scored_into = {r["ad_id"] for r in scored if r["cluster"]["cluster_id"] == cluster_id}
        assert scored_into <= {a["ad_id"] for a in view.ads}
        assert view.identifiers["phone"] and view.timeline and view.first_ts <= view.last_ts

        # a stored photo is found again by its hashes, at distance 0
        with_image = next(r for r in scored if r["images"])
        image = with_image["images"][0]
        hashes = {k: image[k] for k in ("pdq", "pdq_quality", "phash", "dhash")}
        matches = queries.similar_photos(conn, [hashes])
        assert any(m["ad_id"] == with_image["ad_id"] and m["distance"] == 0 for m in matches)


def test_a_photo_upload_is_matched_against_past_ads(store_url):
    """An ad's inline photo, re-encoded smaller, still finds the ad."""
    import base64
    import io

    from PIL import Image

    scored, _ = scored_records(30, seed=5, images=True)
    engine = open_store_engine(store_url)
    write_all(StoreWriter(engine), scored, [])
    from streams.evaluation.generate import generate_ads

    ad = next(a for a in generate_ads(30, seed=5, difficulty="hard", images=True) if a.get("images"))
    photo = Image.open(io.BytesIO(base64.b64decode(ad["images"][0]["data_b64"]))).convert("RGB")
    buffer = io.BytesIO()
    photo.resize((photo.width // 2, photo.height // 2)).save(buffer, "JPEG", quality=70)
    with engine.connect() as conn:
        matches = queries.similar_photos(conn, query_variants(decode_image(buffer.getvalue())))
    assert ad["ad_id"] in {m["ad_id"] for m in matches}


def test_forget_a_phone_and_an_ad_and_purge_by_age(store_url, records):
    scored, alerts = records
    engine = open_store_engine(store_url)
    writer = StoreWriter(engine)
    write_all(writer, scored, alerts)
    phone = next(p for r in scored for p in r["entities"]["phones"])
    holders = {r["ad_id"] for r in scored if phone in r["entities"]["phones"]}
    counts = writer.forget_phone(phone)
    assert counts["ads"] == len(holders)
    with engine.connect() as conn:
        assert queries.search_identifier(conn, "phone", phone) == []
        leftovers = conn.scalar(select(func.count()).select_from(schema.ads)
                                .where(schema.ads.c.record.like(f"%{phone}%")))
        assert leftovers == 0
        assert conn.scalar(select(func.count()).select_from(schema.clusters)
                           .where(schema.clusters.c.phones.like(f"%{phone}%"))) == 0
    remaining = [r for r in scored if r["ad_id"] not in holders]
    assert writer.forget_ad(remaining[0]["ad_id"])["ads"] == 1
    assert writer.forget_ad("no-such-ad") == {}
    # retention: the generator's ads are posted in October 2026; purge at 20 days past the 15th
    posted = sorted(r["posted_at"] for r in remaining[1:])
    middle = queries_ts(posted[len(posted) // 2])
    deleted = writer.purge_older_than(20, now=middle + 20 * 86400)
    older = [p for p in posted if queries_ts(p) < middle]
    assert deleted["ads"] == len(older)
    assert count(engine, schema.ads) == len(remaining) - 1 - len(older)
    assert writer.purge_older_than(0) == {}


def queries_ts(iso: str) -> float:
    from streams.store.rows import timestamp

    return timestamp(iso)


def test_vigil_store_consumes_the_broker_dead_letters_bad_records_and_survives_a_restart(
        stack, topic_prefix, postgres, tmp_path, records):
    scored, alerts = records
    url = postgres.create_database(f"consumer_{topic_prefix.strip('.')}")
    settings = load_settings()
    ensure_topics(settings)
    items = [(r["ad_id"].encode(), json.dumps(r).encode()) for r in scored]
    produce(stack.kafka_bootstrap, settings.topics.scored, items + items[:20]  # 20 redelivered
            + [(b"bad", b"{not json"), (b"bad2", json.dumps({**scored[0], "ad_id": "bad2", "risk": 7}).encode())])
    produce(stack.kafka_bootstrap, settings.topics.alerts,
            [(a["alert_id"].encode(), json.dumps(a).encode()) for a in alerts])
    env = {**os.environ, "VIGIL_STORE_URL": url, "PYTHONUNBUFFERED": "1", "VIGIL_RETENTION_DAYS": "0"}
    engine = open_store_engine(url)

    def wait_for_counts(deadline_s: float = 120) -> None:
        deadline = time.monotonic() + deadline_s
        while (count(engine, schema.ads), count(engine, schema.alerts)) != (len(scored), len(alerts)):
            assert proc.poll() is None, (tmp_path / "store.log").read_text()[-2000:]
            assert time.monotonic() < deadline, (count(engine, schema.ads), len(scored))
            time.sleep(0.5)

    with running_vigil(["store", "--metrics-port", "0", "--batch", "100"], env, tmp_path / "store.log",
                       cwd=REPO) as proc:
        wait_for_counts()
    dead = read_topic(stack.kafka_bootstrap, settings.topics.dlq, timeout_s=60,
                      until=lambda recs: len([r for r in recs if r.get("stage") == "store"]) >= 2)
    store_dead = {r["ad_id"]: r for r in dead if r.get("stage") == "store"}
    assert store_dead["bad2"]["error_code"] == "bad_scored_record" and "risk 7" in store_dead["bad2"]["reason"]
    assert any(r["error_code"] == "bad_scored_record" and ("JSON" in r["reason"] or "Expecting" in r["reason"])
               for r in store_dead.values())
    # a restart reads nothing twice into the tables (offsets were committed; upserts anyway)
    produce(stack.kafka_bootstrap, settings.topics.scored, items[:5])
    with running_vigil(["store", "--metrics-port", "0"], env, tmp_path / "store2.log", cwd=REPO) as proc:
        time.sleep(8)
        wait_for_counts(30)
    assert count(engine, schema.ads) == len(scored)
