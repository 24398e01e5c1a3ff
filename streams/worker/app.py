"""The Faust app: ads.raw → validate → enrich → link → score → ads.scored and alerts.

One agent per ad stream at concurrency 1 (faust-streaming #606: higher concurrency can commit
past an in-flight message); scale with partitions and workers. Every failure inside the agent
is caught and dead-lettered, so the agent never dies and a partition never stalls
(an exception escaping a Faust agent commits past the message: STACK-NOTES).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor

import faust
import redis
from faust.transport.drivers import aiokafka as faust_aiokafka

from detectors.alerts.policy import SUPPRESSION_WINDOW_S
from detectors.deadletter import dead_letter
from detectors.validation import Invalid, parse_raw_ad
from streams import metrics
from streams.broker.topics import apply_retention
from streams.clients import faust_broker_credentials, redis_client
from streams.config import Settings, Topics, app_id_for, load_settings
from streams.logs import hashed
from streams.scoring.runtime import (
    RESULT_TTL_S,
    RedisResults,
    RedisSuppression,
    alert_for,
    redis_prefix,
    stream_pipeline,
)
from streams.worker.stall import DEFAULT_CHECK_S as STALL_CHECK_S
from streams.worker.stall import StallWatchdog

log = logging.getLogger(__name__)

# Redis being down, restarting or loading its AOF: wait it out, never dead-letter the ad for it
# (a ResponseError, e.g. a script bug, is not an outage and is dead-lettered like any bug)
REDIS_OUTAGE = (redis.ConnectionError, redis.TimeoutError, redis.ReadOnlyError)
RETRY_MAX_S = 5.0


def backoff(attempt: int) -> float:
    """Seconds to wait before retry `attempt` (1-based): 0.1 s doubling up to RETRY_MAX_S."""
    return min(RETRY_MAX_S, 0.1 * 2 ** min(attempt - 1, 10))


class PoisonForTests(RuntimeError):
    """Raised for the ad id in VIGIL_TEST_POISON_AD_ID: a detector failing on one valid ad
    (the fault suite's poison ad; never set in production)."""


def _idempotent_producer_settings(self) -> dict:
    """Faust enables the idempotent producer only inside transactions; we want it always."""
    return {"acks": "all", "enable_idempotence": True}


faust_aiokafka.Producer._settings_extra = _idempotent_producer_settings


def _dumps(record: dict) -> bytes:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str).encode()


def create_app(settings: Settings | None = None, *, model_path: str | None = None) -> faust.App:
    """The worker's Faust app, with its topics, table and agent."""
    settings = settings or load_settings()
    topics = settings.topics
    partitions = settings.partitions
    app_id = app_id_for(settings)
    datadir = settings.faust_dir(app_id)
    datadir.parent.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        app_id,
        broker=f"kafka://{settings.kafka_bootstrap}",
        # SASL over TLS on a secured broker (tables' changelogs and topic creation included)
        broker_credentials=faust_broker_credentials(settings),
        store="rocksdb://",
        datadir=str(datadir),
        topic_partitions=partitions,
        topic_replication_factor=1,
        topic_allow_declare=True,
        producer_acks=-1,
        producer_max_request_size=12 * 1024 * 1024,
        consumer_max_fetch_size=12 * 1024 * 1024,
        broker_session_timeout=10,
        broker_heartbeat_interval=2,
        consumer_auto_offset_reset="earliest",
        web_enabled=False,
        web_bind="127.0.0.1",
        web_port=settings.web_port,
        table_standby_replicas=0,
    )

    def raw_topic(name: str) -> faust.TopicT:
        return app.topic(name, key_type=bytes, value_type=bytes, key_serializer="raw",
                         value_serializer="raw", partitions=partitions)

    ads_raw = raw_topic(topics.raw)
    ads_dlq = raw_topic(topics.dlq)
    ads_scored = raw_topic(topics.scored)
    alerts = raw_topic(topics.alerts)
    # ads.raw is keyed by ad_id, so this table is co-partitioned with it: a duplicate ad_id
    # always meets the first one's entry. Value: "partition:offset" of the first record.
    seen_ads = app.Table("seen-ads", default=None, partitions=partitions, key_type=str,
                         value_type=str)

    # faust-streaming #629: records of a partition taken over in a rebalance can be dropped
    # before the agent sees them; the watchdog notices and fetches them again (streams/stall.py)
    watchdog = StallWatchdog(app, topics.raw, label=Topics().raw)
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vigil-score")
    state: dict = {}

    def components():
        if not state:
            # built completely before it is kept: a failure (e.g. a foreign model file) is
            # raised again on the next record, with its own message, instead of half a state
            client = redis_client(settings)
            pipeline = stream_pipeline(settings, client, model_path=model_path)
            banks = _start_live_banks(settings, client)
            metrics.set_model_info(pipeline.model)
            state.update(banks=banks, pipeline=pipeline,
                         suppression=RedisSuppression(client, redis_prefix(settings),
                                                      window_s=settings.capped(SUPPRESSION_WINDOW_S)),
                         results=RedisResults(client, redis_prefix(settings),
                                              ttl_s=settings.capped(RESULT_TTL_S)))
        if state.get("banks") is not None:
            state["pipeline"].banks = state["banks"].current
        return state["pipeline"], state["suppression"], state["results"]

    async def publish(sends: list[tuple[faust.TopicT, bytes | None, bytes]], where: dict) -> None:
        """Produce every record and wait until the broker has each one; a failed send (broker
        down, time-out) is retried, with back-off, until it succeeds. Only then does the agent
        take the next record, so its offset is never committed past an unsent result."""
        attempt = 0
        while sends:
            failed = []
            try:
                futures = [await topic.send(key=key, value=value) for topic, key, value in sends]
            except Exception as exc:  # noqa: BLE001 - could not even queue: retry them all
                failed, errors = sends, [exc]
            else:
                outcomes = await asyncio.gather(*futures, return_exceptions=True)
                errors = [o for o in outcomes if isinstance(o, BaseException)]
                failed = [s for s, o in zip(sends, outcomes, strict=True)
                          if isinstance(o, BaseException)]
            if not failed:
                return
            attempt += 1
            metrics.OUTAGE_RETRIES.labels("kafka").inc()
            log.warning("could not produce %d record(s) for %s (%s); retry %d in %.1f s",
                        len(failed), where, type(errors[0]).__name__, attempt, backoff(attempt),
                        extra=where)
            await asyncio.sleep(backoff(attempt))
            sends = failed

    async def send_dead_letter(record: dict, key: bytes | None) -> None:
        metrics.ADS_DEAD_LETTERED.labels(record["stage"], record["error_code"]).inc()
        where = {k: record.get(k) for k in ("topic", "partition", "offset")}
        await publish([(ads_dlq, key, _dumps(record))], where)

    poison_ad_id = os.environ.get("VIGIL_TEST_POISON_AD_ID")

    def score_one(ad: dict, ingested_at: float | None) -> tuple[dict, dict | None, dict, bool]:
        """(scored, alert, stage timings, redelivered): an ad whose result is stored already
        (a redelivery) gets that result back, unchanged."""
        pipeline, suppression, results = components()
        stored = results.get(ad["ad_id"])
        if stored is not None:
            return (*stored, {}, True)
        if poison_ad_id and ad["ad_id"] == poison_ad_id:
            raise PoisonForTests(f"detector failure planted for ad {poison_ad_id} (test hook)")
        started = time.perf_counter()
        timings: dict[str, float] = {}
        scored = pipeline.process(ad, ingested_at=ingested_at, timings=timings)
        metrics.SCORING_SECONDS.observe(time.perf_counter() - started)
        alert = alert_for(scored, suppression)
        if scored.get("alert") and alert is None:
            metrics.ALERTS_SUPPRESSED.inc()
        results.put(ad["ad_id"], scored, alert)
        return scored, alert, timings, False

    async def score_waiting_out_redis(ad: dict, ingested_at: float | None, where: dict):
        """`score_one` in the scoring thread; while Redis is unreachable, retry with back-off
        (every Redis effect of scoring is idempotent per ad id, so a half-done try is safe)."""
        loop = asyncio.get_running_loop()
        attempt = 0
        while True:
            try:
                return await loop.run_in_executor(executor, score_one, ad, ingested_at)
            except REDIS_OUTAGE as exc:
                attempt += 1
                metrics.OUTAGE_RETRIES.labels("redis").inc()
                log.warning("Redis unavailable while scoring ad %s (%s); retry %d in %.1f s",
                            ad["ad_id"], type(exc).__name__, attempt, backoff(attempt),
                            extra={"ad_id": ad["ad_id"], **where})
                await asyncio.sleep(backoff(attempt))

    @app.agent(ads_raw, concurrency=1)
    async def score_ads(stream):
        async for event in watchdog.track(stream.events()):
            message = event.message
            raw = event.value if isinstance(event.value, bytes | bytearray) else b""
            where = {"topic": message.topic, "partition": message.partition,
                     "offset": message.offset}
            metrics.ADS_CONSUMED.inc()
            ad_id = None
            try:
                started = time.perf_counter()
                parsed = parse_raw_ad(bytes(raw), max_bytes=settings.max_record_bytes)
                validate_s = time.perf_counter() - started
                if isinstance(parsed, Invalid):
                    log.info("dead-letter %s at %s", parsed.code, where,
                             extra={"ad_id": parsed.ad_id, "error_code": parsed.code, **where})
                    await send_dead_letter(
                        dead_letter(stage="validate", error_code=parsed.code,
                                    reason=parsed.reason, original=bytes(raw),
                                    ad_id=parsed.ad_id, **where),
                        event.key,
                    )
                    continue
                ad_id = parsed["ad_id"]
                position = f"{message.partition}:{message.offset}"
                first = seen_ads.get(ad_id)
                if first is not None and first != position:
                    await send_dead_letter(
                        dead_letter(stage="validate", error_code="duplicate_ad_id",
                                    reason=f"ad_id {ad_id!r} was already scored "
                                           f"(first seen at partition:offset {first})",
                                    original=bytes(raw), ad_id=ad_id, **where),
                        event.key,
                    )
                    continue
                seen_ads[ad_id] = position
                metrics.ADS_VALIDATED.inc()
                scored, alert, timings, redelivered = await score_waiting_out_redis(
                    parsed, message.timestamp, where)
                key = ad_id.encode()
                sends = [(ads_scored, key, _dumps(scored))]
                image_dead_letters = []
                for err in scored["image_errors"]:
                    # the ad is scored all the same; the bad image is also dead-lettered so an
                    # operator sees it (the original is the raw ad record)
                    image_dead_letters.append(
                        dead_letter(stage="enrich", error_code=f"image_{err['error']}",
                                    reason=f"image {err['index']} ({err['ref']}): {err['detail']}",
                                    original=bytes(raw), ad_id=ad_id, **where))
                    sends.append((ads_dlq, key, _dumps(image_dead_letters[-1])))
                if alert is not None:
                    alert_key = ((alert.get("cluster") or {}).get("cluster_id") or ad_id).encode()
                    sends.append((alerts, alert_key, _dumps(alert)))
                await publish(sends, where)
                if redelivered:
                    # counted the first time; a redelivery only re-emits the stored result
                    metrics.ADS_REDELIVERED.inc()
                    log.info("ad %s redelivered: its stored result re-emitted", ad_id,
                             extra={"ad_id": ad_id, **where})
                    continue
                metrics.observe_scored(scored, {"validate": validate_s, **timings})
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
            except Exception as exc:  # noqa: BLE001 - never let the agent die on one record
                log.exception("failed on record at %s", where, extra={"ad_id": ad_id, **where})
                # the dead letter is produced like any result: retried until the broker has it
                await send_dead_letter(
                    dead_letter(stage="score", error_code="internal_error",
                                reason=f"{type(exc).__name__}: {exc}"[:500],
                                original=bytes(raw), ad_id=ad_id, **where),
                    event.key,
                )

    feedback = raw_topic(topics.feedback)

    @app.agent(feedback, concurrency=1)
    async def count_feedback(stream):
        """Analyst verdicts are counted on the metrics (training reads the topic itself)."""
        async for value in stream:
            try:
                record = json.loads(value)
                metrics.FEEDBACK.labels("true" if record.get("label") else "false").inc()
            except (ValueError, AttributeError):
                metrics.FEEDBACK.labels("invalid").inc()

    @app.task
    async def apply_topic_retention() -> None:
        """VIGIL_RETENTION_DAYS on the topics, the seen-ads changelog included (Faust has
        declared it by now); a failure is logged, never fatal."""
        if settings.retention_s is None:
            return
        try:
            changed = await asyncio.get_running_loop().run_in_executor(None, apply_retention, settings)
            log.info("retention of %d days set on %d topic(s)", settings.retention_s // 86400, len(changed))
        except Exception as exc:  # noqa: BLE001 - retention is re-applied at the next start
            log.warning("could not set topic retention (%s)", type(exc).__name__)

    @app.timer(interval=float(os.environ.get("VIGIL_STALL_CHECK_S") or STALL_CHECK_S))
    async def watch_for_stalled_partitions() -> None:
        """A partition whose records never reach the agent is fetched again (streams/stall.py)."""
        try:
            await watchdog.check()
        except Exception as exc:  # noqa: BLE001 - the watchdog must never take the worker down
            log.warning("stall watchdog check failed (%s)", type(exc).__name__)
            log.debug("stall watchdog check failed", exc_info=True)

    app.vigil_topics = {"raw": ads_raw, "dlq": ads_dlq, "scored": ads_scored, "alerts": alerts}
    app.vigil_agent = score_ads
    app.vigil_watchdog = watchdog
    return app


def _start_live_banks(settings: Settings, client: redis.Redis):
    """Hash banks kept current from Redis by a background refresher."""
    from streams.banks.store import LiveBanks

    banks = LiveBanks(client, prefix=redis_prefix(settings))
    banks.start()
    return banks
