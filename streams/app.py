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
import time
from concurrent.futures import ThreadPoolExecutor

import faust
import redis
from faust.transport.drivers import aiokafka as faust_aiokafka

from detectors.deadletter import dead_letter
from detectors.validation import Invalid, parse_raw_ad
from streams import metrics
from streams.config import Settings, load_settings
from streams.logs import hashed
from streams.runtime import RedisSuppression, alert_for, redis_prefix, stream_pipeline

log = logging.getLogger(__name__)


def _idempotent_producer_settings(self) -> dict:
    """Faust enables the idempotent producer only inside transactions; we want it always."""
    return {"acks": "all", "enable_idempotence": True}


faust_aiokafka.Producer._settings_extra = _idempotent_producer_settings


def _dumps(record: dict) -> bytes:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str).encode()


def app_id_for(settings: Settings) -> str:
    return settings.app_id + (f"-{settings.topic_prefix.strip('.')}" if settings.topic_prefix else "")


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

    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vigil-score")
    state: dict = {}

    def components():
        if not state:
            # built completely before it is kept: a failure (e.g. a foreign model file) is
            # raised again on the next record, with its own message, instead of half a state
            client = redis.Redis.from_url(settings.redis_url)
            pipeline = stream_pipeline(settings, client, model_path=model_path)
            banks = _start_live_banks(settings, client)
            metrics.set_model_info(pipeline.model)
            state.update(banks=banks, pipeline=pipeline,
                         suppression=RedisSuppression(client, redis_prefix(settings)))
        if state.get("banks") is not None:
            state["pipeline"].banks = state["banks"].current
        return state["pipeline"], state["suppression"]

    async def send_dead_letter(record: dict, key: bytes | None) -> None:
        metrics.ADS_DEAD_LETTERED.labels(record["stage"], record["error_code"]).inc()
        await ads_dlq.send(key=key, value=_dumps(record))

    def score_one(ad: dict, ingested_at: float | None) -> tuple[dict, dict | None, dict]:
        pipeline, suppression = components()
        started = time.perf_counter()
        timings: dict[str, float] = {}
        scored = pipeline.process(ad, ingested_at=ingested_at, timings=timings)
        metrics.SCORING_SECONDS.observe(time.perf_counter() - started)
        alert = alert_for(scored, suppression)
        if scored.get("alert") and alert is None:
            metrics.ALERTS_SUPPRESSED.inc()
        return scored, alert, timings

    @app.agent(ads_raw, concurrency=1)
    async def score_ads(stream):
        loop = asyncio.get_running_loop()
        async for event in stream.events():
            message = event.message
            raw = event.value if isinstance(event.value, bytes | bytearray) else b""
            where = {"topic": message.topic, "partition": message.partition,
                     "offset": message.offset}
            metrics.ADS_CONSUMED.inc()
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
                scored, alert, timings = await loop.run_in_executor(
                    executor, score_one, parsed, message.timestamp
                )
                key = ad_id.encode()
                await ads_scored.send(key=key, value=_dumps(scored))
                metrics.observe_scored(scored, {"validate": validate_s, **timings})
                if scored.get("ingested_at"):
                    metrics.INGEST_TO_SCORED_SECONDS.observe(time.time() - scored["ingested_at"])
                for err in scored["image_errors"]:
                    metrics.IMAGE_ERRORS.labels(err["error"]).inc()
                    # the ad is scored all the same; the bad image is also dead-lettered so an
                    # operator sees it (the original is the raw ad record)
                    await send_dead_letter(
                        dead_letter(stage="enrich", error_code=f"image_{err['error']}",
                                    reason=f"image {err['index']} ({err['ref']}): {err['detail']}",
                                    original=bytes(raw), ad_id=ad_id, **where),
                        key,
                    )
                if alert is not None:
                    alert_key = ((alert.get("cluster") or {}).get("cluster_id") or ad_id).encode()
                    await alerts.send(key=alert_key, value=_dumps(alert))
                    metrics.ALERTS.labels(alert["severity"], metrics.top_family(alert)).inc()
                    log.info("alert %s severity=%s", alert["alert_id"], alert["severity"],
                             extra={"ad_id": ad_id, "alert_id": alert["alert_id"],
                                    # a cluster id can be a phone number: hashed like one
                                    "cluster": hashed(str((scored.get("cluster") or {}).get("cluster_id"))),
                                    "phones": [hashed(p) for p in scored["entities"]["phones"]]})
            except Exception as exc:  # noqa: BLE001 - never let the agent die on one record
                log.exception("failed on record at %s", where, extra=where)
                try:
                    await send_dead_letter(
                        dead_letter(stage="score", error_code="internal_error",
                                    reason=f"{type(exc).__name__}: {exc}"[:500],
                                    original=bytes(raw), **where),
                        event.key,
                    )
                except Exception:  # noqa: BLE001
                    log.exception("could not dead-letter record at %s", where)

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

    app.vigil_topics = {"raw": ads_raw, "dlq": ads_dlq, "scored": ads_scored, "alerts": alerts}
    app.vigil_agent = score_ads
    return app


def _start_live_banks(settings: Settings, client: redis.Redis):
    """Hash banks kept current from Redis by a background refresher."""
    from streams.banks import LiveBanks

    banks = LiveBanks(client, prefix=redis_prefix(settings))
    banks.start()
    return banks
