"""The worker: ads.raw → validate → de-duplicate → enrich → link → score → ads.scored, alerts and
ads.dlq, in batches, on a plain confluent-kafka consumer and idempotent producer.

One turn of the loop (`BatchWorker.run_once`):

1. take up to VIGIL_BATCH_MAX records, or what arrived within VIGIL_BATCH_WAIT_MS;
2. validate each (a bad record becomes a dead letter with its reason);
3. de-duplicate the batch in one pipelined Redis round trip (`SET seen:<ad id> partition:offset
   NX GET EX <VIGIL_DEDUPE_DAYS>`: a second ad with a known id is a duplicate, unless it is the
   same partition:offset delivered again);
4. read the batch's stored results in one round trip (MGET): a redelivered ad re-emits what it
   emitted the first time, unchanged;
5. score the others in record order (per-partition order kept): enrich each, then send every
   ad's template step in one pipelined round trip and every ad's link steps (observe, union)
   in a second, in record order: Redis runs a connection's commands in order, so each ad's
   atomic Lua step sees the ads before it exactly as one call per ad would; then model, score
   and the alert decision per ad; each result is queued and stored in one round trip before
   the batch is produced (a worker that dies between the link steps and that round trip leaves
   the whole batch in the link state with no stored results: the redelivered ads are scored
   again, idempotently, against state that already holds every ad of their batch, so a count
   can include an ad that came after it; nothing had been produced, so nothing emitted changes);
6. produce every result, dead letter and alert of the batch, and wait for every ack (idempotent
   producer, acks=all; a failed send is produced again until the broker has it);
7. only then commit the batch's offsets, synchronously.

Rebalances run inside `consume`, between batches, so no batch is ever in flight when partitions
move; a commit that fails (broker away, group changed) is retried with the next one and, for a
partition that is taken away, once more in the revocation callback. Redis being away is waited
out with back-off (never a dead letter); an exception on one ad dead-letters that ad (stage
score, internal_error) and the batch goes on.

This replaced a faust-streaming agent (README, "Why not Faust"): in CI the Faust worker dropped
a taken-over partition's records (faust-streaming #629) and it cost ~2 ms and ~15x the broker
CPU per ad.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import redis
from confluent_kafka import KafkaError, KafkaException, Message, TopicPartition

from detectors.alerts.policy import SUPPRESSION_WINDOW_S
from detectors.deadletter import dead_letter
from detectors.validation import Invalid, parse_raw_ad
from streams import metrics
from streams.broker.topics import apply_retention
from streams.clients import confluent_consumer, confluent_producer, redis_client
from streams.config import Settings, app_id_for, load_settings
from streams.logs import hashed
from streams.scoring.linkstore import PendingWrites
from streams.scoring.runtime import (
    RESULT_TTL_S,
    RedisResults,
    RedisSuppression,
    alert_for,
    dedupe_key,
    redis_prefix,
    stream_pipeline,
)

log = logging.getLogger(__name__)

# Redis being down, restarting or loading its AOF: wait it out, never dead-letter the ad for it
# (a ResponseError, e.g. a script bug, is not an outage and is dead-lettered like any bug)
REDIS_OUTAGE = (redis.ConnectionError, redis.TimeoutError, redis.ReadOnlyError)
RETRY_MAX_S = 5.0
MAX_RECORD_BYTES = 12 * 1024 * 1024

Send = tuple[str, bytes | None, bytes]


def backoff(attempt: int) -> float:
    """Seconds to wait before retry `attempt` (1-based): 0.1 s doubling up to RETRY_MAX_S."""
    return min(RETRY_MAX_S, 0.1 * 2 ** min(attempt - 1, 10))


class PoisonForTests(RuntimeError):
    """Raised for the ad id in VIGIL_TEST_POISON_AD_ID: a detector failing on one valid ad
    (the fault suite's poison ad; never set in production)."""


def _dumps(record: dict) -> bytes:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str).encode()


def next_offsets(positions: list[tuple[str, int, int]]) -> dict[tuple[str, int], int]:
    """(topic, partition) → the offset to commit after the records at `positions` (topic,
    partition, offset): one past the highest offset taken from each partition."""
    out: dict[tuple[str, int], int] = {}
    for topic, partition, offset in positions:
        out[(topic, partition)] = max(out.get((topic, partition), 0), offset + 1)
    return out


@dataclass
class Outcome:
    """What one record leads to: the records to produce, and what to count once they are acked."""

    sends: list[Send] = field(default_factory=list)
    after_ack: Callable[[], None] | None = None


@dataclass
class Pending:
    """A validated ad of the batch on its way to being scored."""

    message: Message
    ad: dict
    where: dict
    validate_s: float


class BatchWorker:
    """The worker's consume → score → produce → commit loop (see the module's docstring)."""

    def __init__(self, settings: Settings | None = None, *, model_path: str | None = None) -> None:
        self.settings = settings = settings or load_settings()
        self.topics = settings.topics
        self.prefix = redis_prefix(settings)
        self.model_path = model_path
        self.poison_ad_id = os.environ.get("VIGIL_TEST_POISON_AD_ID")
        # the fault suite's slowed worker, so a fault lands mid-stream (never set in production)
        self.score_delay_s = float(os.environ.get("VIGIL_TEST_SCORE_DELAY_MS") or 0) / 1000
        self.stopping = threading.Event()
        self.uncommitted: dict[tuple[str, int], int] = {}
        self.redis = redis_client(settings)
        # each ad's stored result rides with the next ad's first link write (same round trip,
        # in order); the rest goes out before the batch is produced
        self.pending = PendingWrites()
        self.pipeline = stream_pipeline(settings, self.redis, model_path=model_path,
                                        pending=self.pending)
        metrics.set_model_info(self.pipeline.model)
        self.suppression = RedisSuppression(self.redis, self.prefix,
                                            window_s=settings.capped(SUPPRESSION_WINDOW_S))
        self.results = RedisResults(self.redis, self.prefix, ttl_s=settings.capped(RESULT_TTL_S),
                                    pending=self.pending)
        self.banks = None
        self.consumer = confluent_consumer(
            settings,
            **{"group.id": app_id_for(settings),
               "enable.auto.commit": False,
               "enable.auto.offset.store": False,
               "auto.offset.reset": "earliest",
               "session.timeout.ms": 10000,
               "heartbeat.interval.ms": 2000,
               # a batch waiting out a long Redis or Kafka outage keeps its partitions this long
               "max.poll.interval.ms": 600000,
               "partition.assignment.strategy": "roundrobin",
               "fetch.max.bytes": MAX_RECORD_BYTES * 4,
               "max.partition.fetch.bytes": MAX_RECORD_BYTES,
               # records fetched ahead of the loop: librdkafka's default (64 MiB) lets a backlog
               # fill the worker's memory; 16 MiB still holds many batches
               "queued.max.messages.kbytes": 16384,
               "enable.partition.eof": False})
        self.producer = self._new_producer()

    def _new_producer(self):
        return confluent_producer(
            self.settings,
            **{"enable.idempotence": True, "acks": "all", "linger.ms": 5,
               "message.max.bytes": MAX_RECORD_BYTES + 65536,
               # a send not acked within this is reported failed and produced again by `publish`
               "delivery.timeout.ms": 60000})

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Join the group (ads.raw and feedback), start the hash banks and topic retention."""
        self.banks = _start_live_banks(self.settings, self.redis)
        self.consumer.subscribe([self.topics.raw, self.topics.feedback],
                                on_assign=self._on_assign, on_revoke=self._on_revoke)
        threading.Thread(target=self._apply_topic_retention, name="vigil-retention",
                         daemon=True).start()
        log.info("worker started: group %s, batches of up to %d records within %d ms",
                 app_id_for(self.settings), self.settings.batch_max, self.settings.batch_wait_ms)

    def run(self) -> None:
        """Batches until `stop()`; then the last batch's offsets are committed and the group left."""
        self.start()
        try:
            while not self.stopping.is_set():
                self.run_once()
        finally:
            self.close()

    def stop(self) -> None:
        self.stopping.set()

    def close(self) -> None:
        self._commit()
        try:
            self.consumer.close()  # leaves the group: its partitions move at once
        except KafkaException as exc:
            log.warning("could not leave the consumer group cleanly (%s)", exc)
        self.producer.flush(10)
        if self.banks is not None:
            self.banks.stop()

    def _on_assign(self, consumer, partitions: list[TopicPartition]) -> None:
        log.info("assigned %s", _describe(partitions),
                 extra={"partitions": [(p.topic, p.partition) for p in partitions]})

    def _on_revoke(self, consumer, partitions: list[TopicPartition]) -> None:
        """No batch is in flight here (callbacks run inside `consume`): commit what a failed
        commit left for these partitions, then forget them."""
        self._commit()
        for p in partitions:
            self.uncommitted.pop((p.topic, p.partition), None)
        log.info("revoked %s", _describe(partitions),
                 extra={"partitions": [(p.topic, p.partition) for p in partitions]})

    def _apply_topic_retention(self) -> None:
        """VIGIL_RETENTION_DAYS on the topics; a failure is logged, never fatal."""
        if self.settings.retention_s is None:
            return
        try:
            changed = apply_retention(self.settings)
            log.info("retention of %d days set on %d topic(s)", self.settings.retention_s // 86400,
                     len(changed))
        except Exception as exc:  # noqa: BLE001 - retention is re-applied at the next start
            log.warning("could not set topic retention (%s)", type(exc).__name__)

    # ------------------------------------------------------------ one batch

    def run_once(self) -> int:
        """Take, score, produce and commit one batch; returns the number of records taken."""
        messages = self.consumer.consume(num_messages=self.settings.batch_max,
                                         timeout=self.settings.batch_wait_ms / 1000)
        records = []
        for message in messages:
            error = message.error()
            if error is None:
                records.append(message)
            elif error.code() != KafkaError._PARTITION_EOF:
                log.warning("consumer error: %s", error)
        if not records:
            if self.uncommitted:
                self._commit()
            return 0
        if self.banks is not None:
            self.pipeline.banks = self.banks.current
        outcomes = self.process(records)
        # every stored result in Redis before any record of the batch is produced
        self._with_redis(lambda: self.pending.flush(self.redis), "the batch's stored results")
        self.publish([send for o in outcomes for send in o.sends])
        for outcome in outcomes:
            if outcome.after_ack is not None:
                outcome.after_ack()
        for (topic, partition), offset in next_offsets(
                [(m.topic(), m.partition(), m.offset()) for m in records]).items():
            self.uncommitted[(topic, partition)] = offset
        self._commit()
        return len(records)

    def process(self, records: list[Message]) -> list[Outcome]:
        """Every record of the batch to its outcome, in record order."""
        outcomes: dict[int, Outcome] = {}
        pending: list[tuple[int, Pending]] = []
        for i, message in enumerate(records):
            if message.topic() == self.topics.feedback:
                _count_feedback(message.value())
                outcomes[i] = Outcome()
                continue
            metrics.ADS_CONSUMED.inc()
            where = _where(message)
            raw = message.value() or b""
            try:
                started = time.perf_counter()
                parsed = parse_raw_ad(raw, max_bytes=self.settings.max_record_bytes)
                validate_s = time.perf_counter() - started
            except Exception as exc:  # noqa: BLE001 - a validator bug must not stop the batch
                outcomes[i] = self._internal_error(message, None, exc)
                continue
            if isinstance(parsed, Invalid):
                log.info("dead-letter %s at %s", parsed.code, where,
                         extra={"ad_id": parsed.ad_id, "error_code": parsed.code, **where})
                outcomes[i] = self._dead_letter(
                    message, dead_letter(stage="validate", error_code=parsed.code,
                                         reason=parsed.reason, original=raw,
                                         ad_id=parsed.ad_id, **where))
                continue
            pending.append((i, Pending(message, parsed, where, validate_s)))
        firsts = self._with_redis(lambda: self._first_positions([p for _, p in pending]),
                                  f"a batch of {len(pending)} ads")
        fresh: list[tuple[int, Pending]] = []
        for (i, item), first in zip(pending, firsts, strict=True):
            if first is not None and first != _position(item.message):
                ad_id = item.ad["ad_id"]
                outcomes[i] = self._dead_letter(
                    item.message, dead_letter(
                        stage="validate", error_code="duplicate_ad_id",
                        reason=f"ad_id {ad_id!r} was already scored (first seen at "
                               f"partition:offset {first})",
                        original=item.message.value() or b"", ad_id=ad_id, **item.where))
                continue
            metrics.ADS_VALIDATED.inc()
            fresh.append((i, item))
        stored = self._with_redis(lambda: self.results.get_many([p.ad["ad_id"] for _, p in fresh]),
                                  f"a batch of {len(fresh)} ads")
        to_score: list[tuple[int, Pending]] = []
        for i, item in fresh:
            ad_id = item.ad["ad_id"]
            if ad_id in stored:
                scored, alert = stored[ad_id]
                outcomes[i] = self._scored(item, scored, alert, {}, redelivered=True)
            elif self.poison_ad_id and ad_id == self.poison_ad_id:
                outcomes[i] = self._internal_error(item.message, ad_id, PoisonForTests(
                    f"detector failure planted for ad {self.poison_ad_id} (test hook)"))
            else:
                to_score.append((i, item))
        # every Redis effect of scoring is idempotent per ad id, so a half-done try is safe
        results = self._with_redis(lambda: self._score_batch([item for _, item in to_score]),
                                   f"a batch of {len(to_score)} ads")
        for (i, item), result in zip(to_score, results, strict=True):
            try:
                if isinstance(result, Exception):
                    raise result
                outcomes[i] = self._scored(item, *result, redelivered=False)
            except Exception as exc:  # noqa: BLE001 - one ad's failure never stops the batch
                outcomes[i] = self._internal_error(item.message, item.ad["ad_id"], exc)
        return [outcomes[i] for i in range(len(records))]

    def _first_positions(self, items: list[Pending]) -> list[str | None]:
        """The duplicate check of the batch, one pipelined round trip: for each ad, the
        partition:offset its id was first seen at (None: first seen now, and noted)."""
        if not items:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for item in items:
            pipe.set(dedupe_key(self.prefix, item.ad["ad_id"]), _position(item.message),
                     nx=True, get=True, ex=self.settings.dedupe_ttl_s)
        return [v.decode() if isinstance(v, bytes) else v for v in pipe.execute()]

    def _score_batch(self, items: list[Pending]) -> list[tuple[dict, dict | None, dict] | Exception]:
        """(scored, alert, stage timings) for each ad, or the exception that stopped it; the
        ads' template and link steps go to Redis in one round trip each, in record order, and
        each result is queued to be stored before anything is produced."""
        if not items:
            return []
        if self.score_delay_s:
            time.sleep(self.score_delay_s * len(items))
        started = time.perf_counter()
        timings: list[dict[str, float]] = [{} for _ in items]
        ingested = []
        for item in items:
            ts = item.message.timestamp()
            ingested.append(ts[1] / 1000 if ts[0] != 0 and ts[1] > 0 else None)
        scored_all = self.pipeline.process_many([item.ad for item in items], ingested_at=ingested,
                                                timings=timings)
        per_ad_s = (time.perf_counter() - started) / len(items)
        out: list[tuple[dict, dict | None, dict] | Exception] = []
        for item, scored, stage_s in zip(items, scored_all, timings, strict=True):
            if isinstance(scored, Exception):
                out.append(scored)
                continue
            metrics.SCORING_SECONDS.observe(per_ad_s)
            try:
                alert = alert_for(scored, self.suppression)
            except REDIS_OUTAGE:
                raise
            except Exception as exc:  # noqa: BLE001 - one ad's failure never stops the batch
                out.append(exc)
                continue
            if scored.get("alert") and alert is None:
                metrics.ALERTS_SUPPRESSED.inc()
            self.results.put(item.ad["ad_id"], scored, alert)
            out.append((scored, alert, {"validate": item.validate_s, **stage_s}))
        return out

    def _with_redis(self, step, what: str):
        """A batch-wide Redis step, retried with back-off while Redis is unreachable."""
        attempt = 0
        while True:
            try:
                return step()
            except REDIS_OUTAGE as exc:
                attempt += 1
                metrics.OUTAGE_RETRIES.labels("redis").inc()
                log.warning("Redis unavailable while scoring %s (%s); retry %d in %.1f s",
                            what, type(exc).__name__, attempt, backoff(attempt))
                time.sleep(backoff(attempt))

    # ------------------------------------------------------------ outcomes

    def _scored(self, item: Pending, scored: dict, alert: dict | None, timings: dict,
                *, redelivered: bool) -> Outcome:
        ad_id = item.ad["ad_id"]
        raw = item.message.value() or b""
        key = ad_id.encode()
        sends: list[Send] = [(self.topics.scored, key, _dumps(scored))]
        image_dead_letters = []
        for err in scored["image_errors"]:
            # the ad is scored all the same; the bad image is also dead-lettered so an operator
            # sees it (the original is the raw ad record)
            image_dead_letters.append(
                dead_letter(stage="enrich", error_code=f"image_{err['error']}",
                            reason=f"image {err['index']} ({err['ref']}): {err['detail']}",
                            original=raw, ad_id=ad_id, **item.where))
            sends.append((self.topics.dlq, key, _dumps(image_dead_letters[-1])))
        if alert is not None:
            alert_key = ((alert.get("cluster") or {}).get("cluster_id") or ad_id).encode()
            sends.append((self.topics.alerts, alert_key, _dumps(alert)))

        def after_ack() -> None:
            if redelivered:
                # counted the first time; a redelivery only re-emits the stored result
                metrics.ADS_REDELIVERED.inc()
                log.info("ad %s redelivered: its stored result re-emitted", ad_id,
                         extra={"ad_id": ad_id, **item.where})
                return
            metrics.observe_scored(scored, timings)
            if scored.get("ingested_at"):
                metrics.INGEST_TO_SCORED_SECONDS.observe(time.time() - scored["ingested_at"])
            for record in image_dead_letters:
                metrics.IMAGE_ERRORS.labels(record["error_code"].removeprefix("image_")).inc()
                metrics.ADS_DEAD_LETTERED.labels(record["stage"], record["error_code"]).inc()
            if alert is not None:
                metrics.ALERTS.labels(alert["severity"], metrics.top_family(alert)).inc()
                log.info("alert %s severity=%s", alert["alert_id"], alert["severity"],
                         extra={"ad_id": ad_id, "alert_id": alert["alert_id"],
                                # a cluster id can be a phone number: hashed like one
                                "cluster": hashed(str((scored.get("cluster") or {}).get("cluster_id"))),
                                "phones": [hashed(p) for p in scored["entities"]["phones"]]})

        return Outcome(sends, after_ack)

    def _dead_letter(self, message: Message, record: dict) -> Outcome:
        def after_ack() -> None:
            metrics.ADS_DEAD_LETTERED.labels(record["stage"], record["error_code"]).inc()
        return Outcome([(self.topics.dlq, message.key(), _dumps(record))], after_ack)

    def _internal_error(self, message: Message, ad_id: str | None, exc: Exception) -> Outcome:
        where = _where(message)
        log.error("failed on record at %s", where, exc_info=exc, extra={"ad_id": ad_id, **where})
        return self._dead_letter(message, dead_letter(
            stage="score", error_code="internal_error", reason=f"{type(exc).__name__}: {exc}"[:500],
            original=message.value() or b"", ad_id=ad_id, **where))

    # ------------------------------------------------------------ Kafka out

    def publish(self, sends: list[Send]) -> None:
        """Produce every record and wait until the broker has each one; failed sends (broker
        down, time-out) are produced again, with back-off, until they succeed. Only then are
        the batch's offsets committed, so an offset never passes an unsent result."""
        attempt = 0
        while sends:
            failed, error = self._produce_all(sends)
            if not failed:
                return
            attempt += 1
            metrics.OUTAGE_RETRIES.labels("kafka").inc()
            log.warning("could not produce %d of %d record(s) (%s); retry %d in %.1f s",
                        len(failed), len(sends), error, attempt, backoff(attempt))
            time.sleep(backoff(attempt))
            sends = failed

    def _produce_all(self, sends: list[Send]) -> tuple[list[Send], str | None]:
        """(the sends that failed, the first error) after every delivery report is in."""
        errors: dict[int, KafkaError | Exception] = {}

        def reported(index: int):
            def on_delivery(err, _msg) -> None:
                if err is not None:
                    errors[index] = err
            return on_delivery

        for index, (topic, key, value) in enumerate(sends):
            while True:
                try:
                    self.producer.produce(topic, value=value, key=key, on_delivery=reported(index))
                    break
                except BufferError:  # the local queue is full: let deliveries drain it
                    self.producer.poll(0.1)
                except KafkaException as exc:
                    errors[index] = exc
                    break
        while self.producer.flush(1.0) > 0:
            pass
        if not errors:
            return [], None
        first = next(iter(errors.values()))
        if isinstance(first, KafkaError) and first.fatal():
            # an idempotent producer that lost its sequence cannot go on: start a new one
            log.warning("producer failed fatally (%s): starting a new one", first)
            self.producer = self._new_producer()
        return [sends[i] for i in sorted(errors)], str(first)

    def _commit(self) -> None:
        """Commit the offsets of every acked batch not committed yet; a failure keeps them for
        the next try (their records are redelivered and re-emitted identically if it never
        comes)."""
        if not self.uncommitted:
            return
        offsets = [TopicPartition(t, p, o) for (t, p), o in sorted(self.uncommitted.items())]
        try:
            self.consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            log.warning("could not commit offsets of %s (%s); retried with the next batch",
                        _describe(offsets), exc.args[0] if exc.args else exc)
            return
        for (t, p), o in list(self.uncommitted.items()):
            if self.uncommitted.get((t, p)) == o:
                del self.uncommitted[(t, p)]


def _position(message: Message) -> str:
    return f"{message.partition()}:{message.offset()}"


def _where(message: Message) -> dict:
    return {"topic": message.topic(), "partition": message.partition(), "offset": message.offset()}


def _describe(partitions: list[TopicPartition]) -> str:
    return ", ".join(f"{p.topic}[{p.partition}]" for p in partitions) or "nothing"


def _count_feedback(value: bytes | None) -> None:
    """Analyst verdicts are counted on the metrics (training reads the topic itself)."""
    try:
        record = json.loads(value or b"")
        metrics.FEEDBACK.labels("true" if record.get("label") else "false").inc()
    except (ValueError, AttributeError):
        metrics.FEEDBACK.labels("invalid").inc()


def _start_live_banks(settings: Settings, client: redis.Redis):
    """Hash banks kept current from Redis by a background refresher."""
    from streams.banks.store import LiveBanks

    banks = LiveBanks(client, prefix=redis_prefix(settings))
    banks.start()
    return banks
