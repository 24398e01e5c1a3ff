"""`vigil bench store`: does the store keep up with the worker, and is search fast at 1M ads?

1. Insert rate against the worker, same run: a real `vigil worker` scores N generated text ads
   from `ads.raw` (timed from the first scored record to the last); then the store consumes
   the same scored records and alerts from the broker with a fresh consumer group (timed
   likewise, database writes and offset commits included). The ratio is store / worker.
2. Search at scale: the store is filled to `--rows` ads (default 1M) whose shape is that of
   real scored ads (the records of step 1 as templates: their text from the generator's
   phrase pools, with new ids, new phone numbers and posting times spread over 90 days),
   then phone search (a number written another way, normalised as the console does) and
   text search (words drawn from the stored texts) are timed, p50/p95/p99 over `--queries`.
Both on SQLite and on PostgreSQL (`--postgres-url`, or a throwaway server started from
Debian's package on VIGIL_TEST_PG_PORT).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

from streams.errors import CliError

REPO = Path(__file__).resolve().parents[2]


def scored_records(n: int, *, seed: int = 11, images: bool = False) -> tuple[list[dict], list[dict]]:
    """(scored ads, alerts) of `n` generated ads through the batch path (real detectors, in
    process), alerts decided as the worker decides them."""
    from streams.evaluation.generate import generate_ads
    from streams.scoring.runtime import MemorySuppression, alert_for, batch_pipeline

    pipeline = batch_pipeline()
    suppression = MemorySuppression({})
    scored, alerts = [], []
    for ad in generate_ads(n, seed=seed, difficulty="hard", images=images):
        ad = {k: v for k, v in ad.items() if k != "ground_truth"}
        record = pipeline.process(ad, ingested_at=time.time())
        scored.append(record)
        alert = alert_for(record, suppression)
        if alert is not None:
            alerts.append(alert)
    return scored, alerts


def _percentiles(seconds: list[float]) -> dict[str, float]:
    arr = np.array(seconds) * 1000.0
    return {f"p{q}": float(np.percentile(arr, q)) for q in (50, 95, 99)} | {"max": float(arr.max())}


# ---------------------------------------------------------------- part 1: insert rate vs worker


def _worker_rate(settings, n_ads: int, workdir: Path) -> tuple[float, list[dict], list[dict]]:
    """Run a real worker over n generated text ads; (ads/s, scored records, alerts)."""
    from streams.broker.kafkaio import produce, read_topic, running_worker, worker_death
    from streams.broker.topics import ensure_topics
    from streams.evaluation.generate import generate_ads

    ensure_topics(settings)
    ads = [{k: v for k, v in ad.items() if k != "ground_truth"}
           for ad in generate_ads(n_ads, seed=29, difficulty="hard", images=False)]
    produce(settings.kafka_bootstrap, settings.topics.raw,
            [(ad["ad_id"].encode(), json.dumps(ad).encode()) for ad in ads])
    env = {"VIGIL_TOPIC_PREFIX": settings.topic_prefix}
    log_path = workdir / "worker.log"
    with running_worker(env, log_path) as proc:
        records = read_topic(settings.kafka_bootstrap, settings.topics.scored, timeout_s=900, progress=True,
                             abort_if=worker_death(proc, log_path), until=lambda recs: len(recs) >= n_ads)
    if len(records) < n_ads:
        raise CliError(f"the worker scored {len(records)} of {n_ads} ads in time; see {log_path}")
    stamps = sorted(r["scored_at"] for r in records)
    worker_s = max(stamps[-1] - stamps[0], 1e-6)
    alerts = read_topic(settings.kafka_bootstrap, settings.topics.alerts, timeout_s=30,
                        until=lambda recs: False)
    return (len(records) - 1) / worker_s, records, alerts


def _fresh_database(url: str, name: str) -> str:
    """A new, empty database on the server of `url` (same credentials)."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        engine.dispose()
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def _store_rate(settings, url: str, expected: int) -> float:
    """The store's consumer over the topics from the start, fresh group; records/s."""
    from streams.store.consumer import StoreConsumer
    from streams.store.db import open_store_engine
    from streams.store.writer import StoreWriter

    engine = open_store_engine(url)
    consumer = StoreConsumer(settings, StoreWriter(engine), batch_size=500,
                             group=f"bench-store-{uuid.uuid4().hex[:8]}")
    # join the group first (a fixed start-up cost, not throughput), then read from the start
    consumer._connect()
    kafka = consumer.consumer
    deadline = time.monotonic() + 60
    while not kafka.assignment() and time.monotonic() < deadline:
        kafka.poll(timeout_ms=200, max_records=1)
    kafka.seek_to_beginning(*kafka.assignment())
    done = 0
    started = time.perf_counter()
    deadline = time.monotonic() + 600
    while done < expected and time.monotonic() < deadline:
        done += consumer.poll_once(timeout_ms=1000)
    elapsed = time.perf_counter() - started
    kafka.close()
    engine.dispose()
    if done < expected:
        raise CliError(f"the store consumed {done} of {expected} records in time")
    return done / max(elapsed, 1e-6)


# ---------------------------------------------------------------- part 2: search at 1M


PHONE_STYLES = ("({a}) {b}-{c}", "{a}.{b}.{c}", "{a} {b} {c}", "1-{a}-{b}-{c}", "+1 {a} {b} {c}")


def _phone(rng: random.Random) -> str:
    """A valid-looking NANP number (area codes 201-989, exchange 200-999; not 555 so varied)."""
    from detectors.text.phones import extract_phones

    while True:
        digits = f"{rng.randint(201, 989)}{rng.randint(200, 999)}{rng.randint(0, 9999):04d}"
        if extract_phones(digits):
            return "+1" + digits


def _synthetic_rows(templates: list[dict], total: int, batch: int, rng: random.Random, first: int = 0):
    """Batches of AdRows shaped like the template records: new ids (numbered from `first`),
    phones and times."""
    from streams.store.rows import scored_ad_rows

    phones = [_phone(rng) for _ in range(max(1000, total // 4))]
    start = time.time() - 90 * 86400
    made = first
    total += first
    while made < total:
        out = []
        for _ in range(min(batch, total - made)):
            record = dict(rng.choice(templates))
            ad_id = f"bench-{made:08d}"
            own = rng.sample(phones, k=rng.choice((0, 1, 1, 1, 2)))
            record.update(ad_id=ad_id, posted_at=time.strftime(
                "%Y-%m-%dT%H:%M:%SZ", time.gmtime(start + rng.random() * 90 * 86400)))
            record["entities"] = {**record["entities"], "phones": own}
            cluster = dict(record.get("cluster") or {})
            if cluster:
                cluster.update(cluster_id=f"bench-c{made // 20:07d}", ad_ids=[ad_id], phones=own)
                record["cluster"] = cluster
            out.append(scored_ad_rows(record, stored_at=time.time()))
            made += 1
        yield out


def _fill(url: str, templates: list[dict], rows: int, rng: random.Random) -> tuple[float, list[str]]:
    """Fill the store to `rows` ads; (seconds, some phones stored)."""
    from sqlalchemy import func, select

    from streams.store import schema
    from streams.store.db import open_store_engine
    from streams.store.writer import StoreWriter

    engine = open_store_engine(url)
    writer = StoreWriter(engine)
    with engine.connect() as conn:
        have = conn.scalar(select(func.count()).select_from(schema.ads))
    started = time.perf_counter()
    postgres = engine.dialect.name == "postgresql"
    if have < rows:
        if postgres:  # a bulk load: the text index is built once at the end (as after a restore)
            with engine.begin() as conn:
                conn.exec_driver_sql("DROP INDEX IF EXISTS ix_ads_search")
        for n, chunk in enumerate(_synthetic_rows(templates, rows - have, 5000, rng, first=have)):
            writer.write(chunk, [])
            if n % 20 == 0:
                print(f"  filled {have + (n + 1) * 5000:,} of {rows:,} ads", file=sys.stderr, flush=True)
    if postgres:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS ix_ads_search ON ads USING gin (search)")
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    else:
        with engine.begin() as conn:
            conn.exec_driver_sql("PRAGMA optimize")
    with engine.connect() as conn:
        phones = list(conn.scalars(select(schema.identifiers.c.value).where(schema.identifiers.c.kind == "phone")
                                   .limit(20000)))
    engine.dispose()
    return time.perf_counter() - started, phones


def _search_latency(url: str, phones: list[str], texts: list[list[str]], queries: int, rng: random.Random) -> dict:
    from detectors.text.phones import extract_phones
    from streams.store import queries as q
    from streams.store.db import make_engine

    engine = make_engine(url)
    phone_s, text_s, phone_hits, text_hits = [], [], 0, 0
    with engine.connect() as conn:
        for i in range(queries + 20):
            e164 = rng.choice(phones)
            national = e164[2:]
            written = rng.choice(PHONE_STYLES).format(a=national[:3], b=national[3:6], c=national[6:])
            t0 = time.perf_counter()
            found = extract_phones(written, "US")  # as the console normalises it
            rows = q.search_identifier(conn, "phone", found[0][0], limit=100) if found else []
            elapsed = time.perf_counter() - t0
            if i >= 20:  # the first ones warm the caches
                phone_s.append(elapsed)
                phone_hits += bool(rows)
            words = rng.choice(texts)  # words of one stored text, so they occur together
            query = " ".join(rng.sample(words, k=min(len(words), rng.choice((1, 2, 2, 3)))))
            t0 = time.perf_counter()
            rows = q.search_text(conn, query, limit=50)
            elapsed = time.perf_counter() - t0
            if i >= 20:
                text_s.append(elapsed)
                text_hits += bool(rows)
    engine.dispose()
    return {"phone": _percentiles(phone_s), "text": _percentiles(text_s), "phone_found": phone_hits / queries,
            "text_found": text_hits / queries}


def _texts(templates: list[dict]) -> list[list[str]]:
    """The searchable words (4+ letters, not numbers) of each template's title and body."""
    from streams.store.queries import text_words

    out = []
    for record in templates:
        words = sorted({w.lower() for w in text_words(f"{record.get('title') or ''} {record.get('body') or ''}")
                        if len(w) > 3 and not w.isdigit()})
        if words:
            out.append(words)
    return out


def run_bench(args) -> int:
    from streams.config import load_settings
    from streams.stack.launcher import ensure_stack

    rng = random.Random(args.seed)
    prefix = f"bench{uuid.uuid4().hex[:8]}."
    os.environ["VIGIL_TOPIC_PREFIX"] = prefix
    settings = load_settings()
    ensure_stack(settings)
    workdir = Path(tempfile.mkdtemp(prefix="vigil-bench-store-"))
    server = None
    pg_url = args.postgres_url
    try:
        if not pg_url and not args.no_postgres:
            from streams.store.throwaway_pg import PostgresServer, configured_port

            server = PostgresServer(configured_port())
            server.start()
            pg_url = server.url()
        backends = {"sqlite": f"sqlite:///{workdir / 'insert.db'}"}
        if pg_url:
            backends["postgresql"] = pg_url
        print(f"bench store: worker over {args.ads:,} generated text ads …", file=sys.stderr, flush=True)
        worker_rate, records, alerts = _worker_rate(settings, args.ads, workdir)
        print(f"worker: {worker_rate:,.0f} ads/s ({len(records):,} scored, {len(alerts):,} alerts)", flush=True)
        results: dict = {"worker_ads_per_s": worker_rate, "ads": len(records), "alerts": len(alerts), "backends": {}}
        for name, url in backends.items():
            if name == "postgresql":  # the insert rate is measured on an empty database
                url = _fresh_database(url, f"bench_insert_{uuid.uuid4().hex[:6]}")
            rate = _store_rate(settings, url, len(records) + len(alerts))
            print(f"store ({name}): {rate:,.0f} records/s = {rate / worker_rate:.1f}x the worker", flush=True)
            results["backends"][name] = {"insert_records_per_s": rate, "ratio": rate / worker_rate}
        texts = _texts(records)
        for name, url in backends.items():
            if name == "sqlite":
                url = f"sqlite:///{args.sqlite_path or workdir / 'search.db'}"
            elif server is not None:
                url = server.create_database(f"bench_search_{uuid.uuid4().hex[:6]}")
            print(f"filling {name} to {args.rows:,} ads …", file=sys.stderr, flush=True)
            fill_s, phones = _fill(url, records, args.rows, rng)
            latency = _search_latency(url, phones, texts, args.queries, rng)
            results["backends"][name].update(rows=args.rows, fill_s=fill_s, **latency)
            ph, tx = latency["phone"], latency["text"]
            print(f"{name} at {args.rows:,} ads (filled in {fill_s:,.0f} s): phone search p50 {ph['p50']:.1f} / "
                  f"p95 {ph['p95']:.1f} / p99 {ph['p99']:.1f} ms (target 50; found {latency['phone_found']:.0%}); "
                  f"text search p50 {tx['p50']:.1f} / p95 {tx['p95']:.1f} / p99 {tx['p99']:.1f} ms (target 300; "
                  f"found {latency['text_found']:.0%})", flush=True)
        print(json.dumps(results, indent=1))
        return 0
    finally:
        from streams.broker.topics import delete_prefixed_topics

        with contextlib.suppress(Exception):  # cleanup is best effort
            delete_prefixed_topics(settings.kafka_bootstrap, prefix)
        if server is not None:
            server.stop()
        if not args.keep:
            import shutil

            shutil.rmtree(workdir, ignore_errors=True)


def register_bench(subparsers) -> None:
    p = subparsers.add_parser("store", help="store insert rate against the worker; search p99 at 1M stored ads")
    p.add_argument("--ads", type=int, default=3000, help="ads the worker scores and the store inserts (default 3000)")
    p.add_argument("--rows", type=int, default=1_000_000, help="stored ads for the search latency (default 1M)")
    p.add_argument("--queries", type=int, default=500, help="searches of each kind timed (default 500)")
    p.add_argument("--postgres-url", default=None,
                   help="a PostgreSQL database to use (default: a throwaway server on VIGIL_TEST_PG_PORT)")
    p.add_argument("--no-postgres", action="store_true", help="SQLite only")
    p.add_argument("--sqlite-path", default=None, help="keep the 1M-ad SQLite file here (reused when filled)")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    p.add_argument("--seed", type=int, default=3)
    p.set_defaults(func=run_bench)
