"""`vigil store`: consume `ads.scored` and `alerts` into the store's database.

A batch of records (up to `--batch`) is decoded, written in one transaction, and only then are
the Kafka offsets committed: a crash replays the batch, and the upserts make that harmless. A
record that cannot be stored goes to `ads.dlq` (stage `store`) with its reason and original
bytes; while the database is unreachable the batch is retried with back-off and nothing is
committed. Ads older than VIGIL_RETENTION_DAYS are purged at start and then hourly.
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import threading
import time
from dataclasses import dataclass, field

from sqlalchemy.exc import DBAPIError, OperationalError

from detectors.deadletter import dead_letter
from streams.config import Settings, Topics, app_id_for, load_settings
from streams.store import metrics
from streams.store.db import open_store_engine
from streams.store.rows import AdRows, BadRecord, alert_row, scored_ad_rows
from streams.store.writer import StoreWriter

log = logging.getLogger(__name__)

RETRY_MAX_S = 10.0
RETENTION_CHECK_S = 3600.0


def store_group(settings: Settings) -> str:
    """The store's consumer group (its lag is reported under this name)."""
    return f"{app_id_for(settings)}-store"


@dataclass
class DecodedBatch:
    ads: list[AdRows] = field(default_factory=list)
    alerts: list[dict] = field(default_factory=list)
    dead_letters: list[dict] = field(default_factory=list)
    timestamps: list[float] = field(default_factory=list)  # Kafka timestamps (s) of the good records
    by_topic: dict[str, int] = field(default_factory=dict)


def decode(messages, topics: Topics, *, now: float) -> DecodedBatch:
    """Rows from Kafka messages of ads.scored and alerts; a bad record becomes a dead letter."""
    batch = DecodedBatch()
    for message in messages:
        where = {"topic": message.topic, "partition": message.partition, "offset": message.offset}
        raw = message.value or b""
        record_id = None
        try:
            record = json.loads(raw)
            if isinstance(record, dict):
                record_id = record.get("ad_id") if isinstance(record.get("ad_id"), str) else None
            if message.topic == topics.scored:
                batch.ads.append(scored_ad_rows(record, stored_at=now))
            else:
                batch.alerts.append(alert_row(record))
        except (ValueError, BadRecord) as exc:  # JSONDecodeError and BadRecord are ValueErrors
            code = "bad_scored_record" if message.topic == topics.scored else "bad_alert_record"
            batch.dead_letters.append(dead_letter(stage="store", error_code=code,
                                                  reason=f"{type(exc).__name__}: {exc}"[:500],
                                                  original=raw, ad_id=record_id, **where))
            continue
        batch.timestamps.append(message.timestamp / 1000.0 if message.timestamp else now)
        batch.by_topic[message.topic] = batch.by_topic.get(message.topic, 0) + 1
    return batch


class StoreConsumer:
    """The consume → write → commit loop."""

    def __init__(self, settings: Settings, writer: StoreWriter, *, batch_size: int = 500,
                 group: str | None = None) -> None:
        self.settings, self.writer, self.batch_size = settings, writer, batch_size
        self.topics = settings.topics
        self.group = group or store_group(settings)
        self.base = {self.topics.scored: Topics().scored, self.topics.alerts: Topics().alerts}
        self.consumer = None
        self.producer = None
        self.stored = 0

    def _connect(self) -> None:
        from streams.clients import kafka_consumer

        self.consumer = kafka_consumer(
            self.topics.scored, self.topics.alerts, settings=self.settings, group_id=self.group,
            enable_auto_commit=False, auto_offset_reset="earliest", max_poll_records=self.batch_size,
            max_partition_fetch_bytes=12 * 1024 * 1024,
            fetch_max_bytes=64 * 1024 * 1024, session_timeout_ms=10000, heartbeat_interval_ms=2000)

    def _send_dead_letters(self, records: list[dict]) -> None:
        from streams.clients import kafka_producer

        if self.producer is None:
            self.producer = kafka_producer(self.settings, acks="all", max_request_size=12 * 1024 * 1024)
        for record in records:
            key = record["ad_id"].encode() if record.get("ad_id") else None
            self.producer.send(self.topics.dlq, key=key, value=json.dumps(record).encode())
            log.warning("dead-letter %s at %s:%s:%s", record["error_code"], self.base.get(record["topic"]),
                        record["partition"], record["offset"],
                        extra={"ad_id": record.get("ad_id"), "error_code": record["error_code"]})
        self.producer.flush(timeout=60)

    def _write(self, batch: DecodedBatch) -> None:
        """Write the batch, waiting out an unreachable database; a batch the database refuses for
        its content is written record by record, and the records it refuses are dead-lettered."""
        attempt = 0
        while True:
            try:
                started = time.perf_counter()
                counts = self.writer.write(batch.ads, batch.alerts)
                metrics.BATCH_SECONDS.observe(time.perf_counter() - started)
                for table, n in counts.rows.items():
                    metrics.ROWS_WRITTEN.labels(table).inc(n)
                return
            except OperationalError as exc:
                attempt += 1
                metrics.DB_RETRIES.inc()
                wait = min(RETRY_MAX_S, 0.2 * 2 ** min(attempt - 1, 8))
                log.warning("store database unavailable (%s); retry %d in %.1f s", type(exc.orig).__name__,
                            attempt, wait)
                time.sleep(wait)
            except DBAPIError:
                if len(batch.ads) + len(batch.alerts) <= 1:
                    raise
                self._write_one_by_one(batch)
                return

    def _write_one_by_one(self, batch: DecodedBatch) -> None:
        refused = []
        for rows in batch.ads:
            try:
                self.writer.write([rows], [])
            except DBAPIError as exc:
                refused.append(("ads.scored", rows.ad["ad_id"], rows.ad, exc))
        for row in batch.alerts:
            try:
                self.writer.write([], [row])
            except DBAPIError as exc:
                refused.append(("alerts", row["ad_id"], row, exc))
        for topic, ad_id, row, exc in refused:
            batch.dead_letters.append(dead_letter(
                stage="store", error_code="database_refused",
                reason=f"{type(exc.orig).__name__}: {str(exc.orig)[:300]}",
                original=json.dumps(row, default=str).encode(), ad_id=ad_id, topic=topic))

    def poll_once(self, timeout_ms: int = 500) -> int:
        """Consume, write and commit one batch; returns how many records it held."""
        if self.consumer is None:
            self._connect()
        polled = self.consumer.poll(timeout_ms=timeout_ms, max_records=self.batch_size)
        messages = [m for batch in polled.values() for m in batch]
        if not messages:
            metrics.BEHIND_SECONDS.set(0)
            return 0
        now = time.time()
        batch = decode(messages, self.topics, now=now)
        self._write(batch)
        if batch.dead_letters:
            self._send_dead_letters(batch.dead_letters)
        self.consumer.commit()
        committed = time.time()
        for ts in batch.timestamps:
            metrics.RECORD_DELAY_SECONDS.observe(max(0.0, committed - ts))
        metrics.BEHIND_SECONDS.set(max(0.0, committed - min(batch.timestamps)) if batch.timestamps else 0)
        for topic, n in batch.by_topic.items():
            metrics.RECORDS.labels(self.base.get(topic, topic), "stored").inc(n)
        for record in batch.dead_letters:
            metrics.RECORDS.labels(self.base.get(record.get("topic"), "ads.scored"), "dead_lettered").inc()
        self.stored += len(batch.ads) + len(batch.alerts)
        return len(messages)

    def purge(self) -> dict[str, int]:
        deleted = self.writer.purge_older_than(self.settings.retention_days)
        for table, n in deleted.items():
            metrics.ROWS_DELETED.labels(table).inc(n)
        if deleted:
            log.info("retention: purged rows older than %g days: %s", self.settings.retention_days, deleted)
        return deleted

    def run(self, stop: threading.Event, retention_check_s: float = RETENTION_CHECK_S) -> None:
        next_purge = 0.0
        try:
            while not stop.is_set():
                if time.monotonic() >= next_purge:
                    self.purge()
                    next_purge = time.monotonic() + retention_check_s
                self.poll_once()
        finally:
            if self.consumer is not None:
                self.consumer.close()
            if self.producer is not None:
                self.producer.close()


def run_store(args) -> int:
    from streams.broker.lag import LagProbe
    from streams.broker.topics import ensure_topics
    from streams.metrics import bind_address, serve_metrics
    from streams.preflight import preflight
    from streams.stack.launcher import ensure_stack

    settings = load_settings()
    engine = open_store_engine(args.url or settings.store_url)
    if args.action == "migrate":
        print(f"store migrated to the newest schema ({engine.url.render_as_string(hide_password=True)})")
        return 0
    writer = StoreWriter(engine)
    if args.action == "purge":
        deleted = writer.purge_older_than(settings.retention_days)
        print(f"purged ads older than {settings.retention_days:g} days: {deleted or 'nothing'}")
        return 0
    ensure_stack(settings)
    # one clear line per unusable service or setting, before anything connects
    preflight(settings, redis=False)
    ensure_topics(settings)
    consumer = StoreConsumer(settings, writer, batch_size=args.batch)
    if args.metrics_port:
        metrics.initialise_store_series()
        serve_metrics(args.metrics_port)
        log.info("metrics on http://%s:%d/metrics", bind_address(), args.metrics_port)
        LagProbe(settings, consumer.group, [settings.topics.scored, settings.topics.alerts], []).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    log.info("store consuming %s and %s into %s", settings.topics.scored, settings.topics.alerts,
             engine.url.render_as_string(hide_password=True))
    with contextlib.suppress(KeyboardInterrupt):
        consumer.run(stop)
    log.info("store stopped after %d records", consumer.stored)
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("store", help="consume ads.scored and alerts into the investigators' database")
    p.add_argument("action", nargs="?", choices=("run", "migrate", "purge"), default="run",
                   help="run (default): consume; migrate: bring the schema up to date; purge: apply retention once")
    p.add_argument("--url", default=None, help="database URL (default VIGIL_STORE_URL, else SQLite in .stack/store)")
    p.add_argument("--batch", type=int, default=500, help="records per transaction (default 500)")
    p.add_argument("--metrics-port", type=int, default=load_settings().store_metrics_port,
                   help="Prometheus /metrics port (0: off); on 127.0.0.1 unless VIGIL_BIND")
    p.set_defaults(func=run_store)
