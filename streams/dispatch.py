"""`vigil dispatch`: deliver alerts to analysts' webhooks, signed, at least once, nothing lost.

A plain aiokafka consumer reads `alerts` with auto-commit off. Each alert is routed to its
destinations; each destination has its own queue, workers, rate limit and circuit breaker, so
a dead receiver never holds back a healthy one. A partition's offset is committed only up to
the first alert not yet delivered or dead-lettered to `alerts.dlq` everywhere it was routed.
Delivery state in Redis (`SET NX` per destination and alert id) stops an alert already
delivered from being delivered again after a restart; `webhook-id` is stable per alert and
destination, so a receiver can recognise a redelivery.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import redis.asyncio as aioredis
import yaml
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from prometheus_client import Counter, Histogram

from detectors.alert_routing import (
    RETRYABLE_STATUS,
    CircuitBreaker,
    Destination,
    TokenBucket,
    backoff_s,
    format_payload,
    notification,
    retry_after_s,
    route,
    webhook_id,
)
from detectors.deadletter import dead_letter
from streams.config import Settings, load_settings
from streams.errors import CliError
from streams.webhooks import load_secret, sign

log = logging.getLogger(__name__)

DELIVERED = Counter("vigil_webhook_deliveries_total", "Webhook deliveries by outcome",
                    ["destination", "outcome"])
DELIVERY_SECONDS = Histogram("vigil_alert_to_webhook_seconds",
                             "From alert produced to webhook accepted",
                             buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60))
DELIVERED_TTL_S = 14 * 24 * 3600


@dataclass
class DispatchConfig:
    destinations: list[Destination]
    group_interval_s: float = 30.0
    investigator_base_url: str = "http://127.0.0.1:18000/investigate"


def load_config(path: str | Path) -> DispatchConfig:
    try:
        doc = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError as exc:
        raise CliError(f"dispatch config not found: {path}") from exc
    if not isinstance(doc, dict) or not doc.get("destinations"):
        raise CliError(f"{path}: needs a 'destinations' list")
    dests = []
    for i, d in enumerate(doc["destinations"]):
        if "url" not in d or "name" not in d:
            raise CliError(f"{path}: destination {i} needs 'name' and 'url'")
        secret = load_secret(env=d.get("secret_env"), file=d.get("secret_file"))
        known = set(Destination.__dataclass_fields__) - {"secret"}
        extra = {k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items() if k in known}
        dests.append(Destination(secret=secret, **extra))
    return DispatchConfig(
        destinations=dests,
        group_interval_s=float(doc.get("group_interval_s", 30.0)),
        investigator_base_url=doc.get("investigator_base_url",
                                      DispatchConfig.investigator_base_url),
    )


@dataclass
class Pending:
    """One alert record in flight: how many destinations still owe it an outcome."""

    tp: TopicPartition
    offset: int
    remaining: int


@dataclass
class Group:
    """Alerts of one cluster for one destination, folded into the next notification."""

    alerts: list[tuple[dict, Pending]] = field(default_factory=list)
    last_sent: float = 0.0
    flush_task: asyncio.Task | None = None


class Dispatcher:
    """The delivery engine; `run()` until `stop()`."""

    def __init__(self, settings: Settings, config: DispatchConfig, *, group_id: str = "vigil-dispatch",
                 source_topic: str | None = None) -> None:
        self.settings, self.config = settings, config
        self.group_id = group_id
        self.source_topic = source_topic or settings.topics.alerts
        self.prefix = f"vigil:{settings.topic_prefix}dispatch:"
        self.queues = {d.name: asyncio.Queue() for d in config.destinations}
        self.breakers = {d.name: CircuitBreaker() for d in config.destinations}
        self.buckets = {d.name: TokenBucket(d.rate_per_s) for d in config.destinations}
        self.gone: set[str] = set()
        self.groups: dict[tuple[str, str], Group] = {}
        self.inflight: dict[TopicPartition, dict[int, Pending]] = defaultdict(dict)
        self.committed: dict[TopicPartition, int] = {}
        self._stop = asyncio.Event()
        self.ready = asyncio.Event()  # set once partitions are assigned
        self.rng = random.Random()

    # ------------------------------------------------------------ lifecycle

    async def run(self) -> None:
        self.redis = aioredis.Redis.from_url(self.settings.redis_url)
        self.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200))
        self.producer = AIOKafkaProducer(bootstrap_servers=self.settings.kafka_bootstrap,
                                         acks="all", enable_idempotence=True)
        self.consumer = AIOKafkaConsumer(
            self.source_topic, bootstrap_servers=self.settings.kafka_bootstrap,
            group_id=self.group_id, enable_auto_commit=False, auto_offset_reset="earliest",
            session_timeout_ms=10000, heartbeat_interval_ms=2000,
        )
        await self.producer.start()
        await self.consumer.start()
        workers = [asyncio.create_task(self._worker(d))
                   for d in self.config.destinations for _ in range(d.concurrency)]
        committer = asyncio.create_task(self._commit_loop())
        try:
            while not self._stop.is_set():
                batches = await self.consumer.getmany(timeout_ms=100, max_records=500)
                if not self.ready.is_set() and self.consumer.assignment():
                    self.ready.set()
                for tp, messages in batches.items():
                    for message in messages:
                        await self._accept(tp, message)
        finally:
            for task in [*workers, committer]:
                task.cancel()
            with contextlib.suppress(Exception):
                await self._commit()
            await self.consumer.stop()
            await self.producer.stop()
            await self.http.close()
            await self.redis.aclose()

    def stop(self) -> None:
        self._stop.set()

    # ------------------------------------------------------------ intake

    async def _accept(self, tp: TopicPartition, message) -> None:
        pending = Pending(tp, message.offset, 0)
        self.inflight[tp][message.offset] = pending
        try:
            alert = json.loads(message.value)
            if not isinstance(alert, dict) or "alert_id" not in alert:
                raise ValueError("not an alert record (no alert_id)")
        except (ValueError, UnicodeDecodeError) as exc:
            pending.remaining = 1
            await self._dead_letter(None, message.value, "bad_alert", str(exc), pending, None)
            return
        alert["_produced_at"] = message.timestamp / 1000.0
        destinations = route(alert, self.config.destinations)
        pending.remaining = len(destinations)
        for dest in destinations:
            await self._enqueue(dest, alert, pending)

    async def _enqueue(self, dest: Destination, alert: dict, pending: Pending) -> None:
        cluster_id = (alert.get("cluster") or {}).get("cluster_id")
        if not cluster_id or alert.get("severity") == "critical":
            await self.queues[dest.name].put(([alert], [pending]))
            return
        key = (dest.name, cluster_id)
        group = self.groups.setdefault(key, Group())
        now = time.monotonic()
        if not group.alerts and now - group.last_sent >= self.config.group_interval_s:
            group.last_sent = now
            await self.queues[dest.name].put(([alert], [pending]))
            return
        group.alerts.append((alert, pending))
        if group.flush_task is None:
            delay = max(0.0, group.last_sent + self.config.group_interval_s - now)
            group.flush_task = asyncio.create_task(self._flush_group(dest, key, delay))

    async def _flush_group(self, dest: Destination, key: tuple[str, str], delay: float) -> None:
        await asyncio.sleep(delay)
        group = self.groups[key]
        items, group.alerts, group.flush_task = group.alerts, [], None
        group.last_sent = time.monotonic()
        if items:
            await self.queues[dest.name].put(([a for a, _ in items], [p for _, p in items]))

    # ------------------------------------------------------------ delivery

    async def _worker(self, dest: Destination) -> None:
        queue = self.queues[dest.name]
        while True:
            alerts, pendings = await queue.get()
            try:
                await self._deliver(dest, alerts, pendings)
            except Exception:  # noqa: BLE001 - a bug must not lose the alert: dead-letter it
                log.exception("delivery to %s failed unexpectedly", dest.name)
                for alert, pending in zip(alerts, pendings, strict=True):
                    await self._dead_letter(alert, None, "dispatch_error", "internal error",
                                            pending, dest)

    def _delivered_key(self, dest: Destination, alert_id: str) -> str:
        return f"{self.prefix}delivered:{dest.name}:{alert_id}"

    async def _deliver(self, dest: Destination, alerts: list[dict], pendings: list[Pending]) -> None:
        keys = [self._delivered_key(dest, a["alert_id"]) for a in alerts]
        already = await self.redis.mget(keys)
        todo = [(a, p) for a, p, done in zip(alerts, pendings, already, strict=True) if not done]
        for (_a, p), done in zip(zip(alerts, pendings, strict=True), already, strict=True):
            if done:
                DELIVERED.labels(dest.name, "duplicate_skipped").inc()
                self._settle(p)
        if not todo:
            return
        alerts, pendings = [a for a, _ in todo], [p for _, p in todo]
        payload = format_payload(
            notification([{k: v for k, v in a.items() if k != "_produced_at"} for a in alerts],
                         investigator_base_url=self.config.investigator_base_url), dest.format)
        body = json.dumps(payload, separators=(",", ":"), default=str)
        msg_id = webhook_id(alerts[-1]["alert_id"], dest.name)
        first_try = time.monotonic()
        attempt, last_error = 0, ""
        while True:
            if dest.name in self.gone:
                last_error = "receiver answered 410 Gone: destination disabled"
                break
            attempt += 1
            await asyncio.sleep(self.breakers[dest.name].wait_s(time.monotonic()))
            await asyncio.sleep(self.buckets[dest.name].wait_s(time.monotonic()))
            retry_in = None
            try:
                async with self.http.post(dest.url, data=body.encode(),
                                          headers=sign(dest.secret, msg_id, body),
                                          timeout=aiohttp.ClientTimeout(total=dest.timeout_s)) as resp:
                    status = resp.status
                    retry_header = resp.headers.get("retry-after")
                    await resp.read()
                if 200 <= status < 300:
                    self.breakers[dest.name].record(True, time.monotonic())
                    await self._mark_delivered(dest, alerts, pendings)
                    return
                last_error = f"HTTP {status}"
                if status == 410:
                    self.gone.add(dest.name)
                    log.warning("destination %s answered 410 Gone: disabled", dest.name)
                    continue
                if status not in RETRYABLE_STATUS:
                    last_error += " (not retryable)"
                    break
                if status in (429, 503):
                    retry_in = retry_after_s(retry_header)
            except TimeoutError:
                last_error = f"time-out after {dest.timeout_s} s"
            except aiohttp.ClientError as exc:
                last_error = f"{type(exc).__name__}: {exc}"[:300]
            self.breakers[dest.name].record(False, time.monotonic())
            DELIVERED.labels(dest.name, "retry").inc()
            age = time.monotonic() - first_try
            if attempt >= dest.max_attempts or age >= dest.max_age_s:
                break
            delay = retry_in if retry_in is not None else backoff_s(attempt, rng=self.rng)
            log.info("delivery %s to %s failed (%s); retry %d in %.2f s", msg_id, dest.name,
                     last_error, attempt, delay)
            await asyncio.sleep(delay)
        for alert, pending in zip(alerts, pendings, strict=True):
            await self._dead_letter(alert, None, "undeliverable",
                                    f"after {attempt} attempt(s): {last_error}", pending, dest)

    async def _mark_delivered(self, dest: Destination, alerts: list[dict], pendings: list[Pending]) -> None:
        now = time.time()
        async with self.redis.pipeline(transaction=False) as pipe:
            for alert in alerts:
                pipe.set(self._delivered_key(dest, alert["alert_id"]), int(now), nx=True,
                         ex=DELIVERED_TTL_S)
            await pipe.execute()
        for alert, pending in zip(alerts, pendings, strict=True):
            DELIVERED.labels(dest.name, "delivered").inc()
            DELIVERY_SECONDS.observe(max(0.0, now - alert.get("_produced_at", now)))
            self._settle(pending)

    async def _dead_letter(self, alert: dict | None, raw: bytes | None, code: str, reason: str,
                           pending: Pending, dest: Destination | None) -> None:
        original = raw if raw is not None else json.dumps(
            {k: v for k, v in (alert or {}).items() if k != "_produced_at"}).encode()
        record = dead_letter(stage="dispatch", error_code=code, reason=reason, original=original,
                             ad_id=(alert or {}).get("ad_id"), topic=pending.tp.topic,
                             partition=pending.tp.partition, offset=pending.offset,
                             destination=dest.name if dest else None,
                             alert_id=(alert or {}).get("alert_id"))
        await self.producer.send_and_wait(self.settings.topics.alerts_dlq,
                                          json.dumps(record).encode(),
                                          key=((alert or {}).get("alert_id") or "").encode() or None)
        DELIVERED.labels(dest.name if dest else "-", "dead_lettered").inc()
        log.warning("alert %s dead-lettered for %s: %s", (alert or {}).get("alert_id"),
                    dest.name if dest else "-", reason)
        self._settle(pending)

    def _settle(self, pending: Pending) -> None:
        pending.remaining -= 1

    # ------------------------------------------------------------ commits

    def _commit_points(self) -> dict[TopicPartition, int]:
        """Per partition, the offset after the last alert of the fully settled prefix."""
        points = {}
        for tp, pendings in self.inflight.items():
            frontier = None
            for offset in sorted(pendings):
                if pendings[offset].remaining > 0:
                    break
                frontier = offset
                del pendings[offset]
            if frontier is not None:
                points[tp] = frontier + 1
        return points

    async def _commit(self) -> None:
        points = self._commit_points()
        if points:
            await self.consumer.commit(points)
            self.committed.update(points)

    async def _commit_loop(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            try:
                await self._commit()
            except Exception:  # noqa: BLE001 - a failed commit is retried next round
                log.exception("offset commit failed; will retry")


async def replay_dlq(settings: Settings) -> int:
    """Put every dead-lettered alert back on `alerts` (their ids make re-delivery idempotent)."""
    consumer = AIOKafkaConsumer(settings.topics.alerts_dlq, bootstrap_servers=settings.kafka_bootstrap,
                                group_id="vigil-dispatch-replay", enable_auto_commit=False,
                                auto_offset_reset="earliest")
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await consumer.start()
    await producer.start()
    replayed = 0
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=2000)
            if not batches:
                break
            for messages in batches.values():
                for message in messages:
                    import base64

                    record = json.loads(message.value)
                    original = base64.b64decode(record["original_b64"])
                    await producer.send_and_wait(settings.topics.alerts, original, key=message.key)
                    replayed += 1
            await consumer.commit()
    finally:
        await consumer.stop()
        await producer.stop()
    return replayed


def _cmd_dispatch(args) -> int:
    import signal

    from streams.topics import ensure_topics

    settings = load_settings()
    if args.replay_dlq:
        count = asyncio.run(replay_dlq(settings))
        print(f"dispatch: {count} dead-lettered alerts put back on {settings.topics.alerts}")
        return 0
    if not args.config:
        raise CliError("give --config FILE (see deploy/dispatch.example.yaml)")
    config = load_config(args.config)
    ensure_topics(settings)
    dispatcher = Dispatcher(settings, config)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, dispatcher.stop)
        await dispatcher.run()

    if args.metrics_port:
        from streams.metrics import serve_metrics

        serve_metrics(args.metrics_port)
    asyncio.run(main())
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("dispatch", help="deliver alerts to webhooks (signed, at least once)")
    p.add_argument("--config", help="routing config YAML (deploy/dispatch.example.yaml)")
    p.add_argument("--replay-dlq", action="store_true", help="re-send dead-lettered alerts")
    p.add_argument("--metrics-port", type=int, default=0, help="Prometheus port on 127.0.0.1")
    p.set_defaults(func=_cmd_dispatch)
