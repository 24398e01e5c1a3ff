"""`vigil dispatch`: deliver alerts to analysts' webhooks, signed, at least once, nothing lost.

How it works (the pure decisions live in detectors/alert_routing.py):

- A plain aiokafka consumer reads `alerts` with auto-commit off. Each alert is routed to its
  destinations; alerts of one cluster are folded per destination (group_wait/group_interval;
  critical alerts are never held back).
- Each destination is a *lane*: its own in-memory queue and workers, rate limit and circuit
  breaker, so a slow or dead receiver never holds back a healthy one.
- A delivery is tried a few times in memory (`fast_attempts` within `fast_budget_s`). If it
  still fails, or the lane's breaker is open (fail fast: no request is made), or the lane's
  queue is full, the delivery is *parked* in Redis (a sorted set per destination, due time as
  score) and a per-lane retry loop takes it from there with exponential back-off and jitter,
  honouring Retry-After, until it is delivered or, after `max_attempts` or `max_age_s`, written
  to `alerts.dlq` with the last error. 410 Gone disables the destination (persisted in Redis;
  `--reenable NAME` lifts it): its alerts go to `alerts.dlq`.
- A partition's offset is committed only up to the first alert not yet settled for every
  destination it was routed to; settled = delivered (2xx), dead-lettered, or parked in Redis
  (AOF). So a dead receiver holds commits for at most the in-memory budget, not for hours.
- Idempotency: after a 2xx, `SET NX` of (destination, alert id) in Redis; an alert already
  marked is not sent again. `webhook-id` is a hash of (destination, newest alert id), so a
  redelivery after a crash carries the same id.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import math
import random
import time
from collections import Counter as Tally
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import redis.asyncio as aioredis
import yaml
from aiokafka import ConsumerRebalanceListener, TopicPartition
from prometheus_client import Counter, Gauge, Histogram

from detectors.alerts.routing import (
    FORMATS,
    CircuitBreaker,
    ClusterGrouper,
    Decision,
    Destination,
    TokenBucket,
    classify,
    decide,
    format_payload,
    group_key,
    notification,
    retry_after_s,
    route,
    wait_in_memory,
    webhook_id,
)
from detectors.deadletter import dead_letter
from detectors.scoring.scorer import SEVERITIES
from streams.clients import aio_consumer, aio_producer, async_redis_client
from streams.config import Settings, load_settings
from streams.dispatch.webhooks import load_secret, sign
from streams.errors import CliError
from streams.metrics import INGEST_TO_ALERT_DELIVERED_SECONDS

log = logging.getLogger(__name__)

DELIVERY_OUTCOMES = ("delivered", "retry", "parked", "dead_lettered", "duplicate_skipped")
DELIVERIES = Counter("vigil_webhook_deliveries_total",
                     "Alert deliveries by destination and outcome (delivered, retry, parked, "
                     "dead_lettered, duplicate_skipped)", ["destination", "outcome"])
DELIVERY_SECONDS = Histogram("vigil_alert_to_webhook_seconds",
                             "From alert produced to webhook accepted (2xx)",
                             buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60, 600))
PARKED = Gauge("vigil_webhook_parked_deliveries",
               "Deliveries parked in Redis awaiting a retry", ["destination"])
BREAKER_OPEN = Gauge("vigil_webhook_breaker_open",
                     "1 while a destination's circuit breaker is open", ["destination"])
DISABLED = Gauge("vigil_webhook_destination_disabled",
                 "1 once a destination answered 410 Gone", ["destination"])

# how long a delivered mark keeps a redelivered alert from going out twice (capped by
# VIGIL_RETENTION_DAYS, which caps the alerts topic too: no alert is redelivered after it)
DELIVERED_TTL_S = 14 * 24 * 3600
FETCH_MAX_WAIT_MS = 25  # bounds the wait of a partition left out of an in-flight fetch
GONE_REASON = "destination disabled: it answered 410 Gone"
DESTINATION_KEYS = set(Destination.__dataclass_fields__) - {"secret", "extra_secrets"}
SECRET_KEYS = {"secret_env", "secret_file", "extra_secret_envs"}
TOP_LEVEL_KEYS = {"destinations", "group_wait_s", "group_interval_s", "investigator_base_url",
                  "max_inflight", "drain_s", "retry_poll_s"}


# ---------------------------------------------------------------- configuration


@dataclass
class DispatchConfig:
    destinations: list[Destination]
    group_wait_s: float = 0.0
    group_interval_s: float = 10.0
    investigator_base_url: str = "http://127.0.0.1:18000/investigate"
    max_inflight: int = 5000  # unsettled alert records before consumption pauses
    drain_s: float = 10.0  # on shutdown, how long in-memory deliveries may finish
    retry_poll_s: float = 0.25  # how often each lane looks for parked deliveries that are due


def _destination(path: str | Path, i: int, d: object) -> Destination:
    if not isinstance(d, dict) or "url" not in d or "name" not in d:
        raise CliError(f"{path}: destination {i} needs 'name' and 'url'")
    where = f"{path}: destination {d['name']!r}"
    unknown = set(d) - DESTINATION_KEYS - SECRET_KEYS
    if unknown:
        raise CliError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    if urlsplit(str(d["url"])).scheme not in ("http", "https"):
        raise CliError(f"{where}: url must be http(s)")
    if d.get("format", "json") not in FORMATS:
        raise CliError(f"{where}: format must be one of {', '.join(FORMATS)}")
    if d.get("min_severity", "medium") not in SEVERITIES:
        raise CliError(f"{where}: min_severity must be one of {', '.join(SEVERITIES)}")
    secret = load_secret(env=d.get("secret_env"), file=d.get("secret_file"))
    extra = tuple(load_secret(env=e) for e in d.get("extra_secret_envs") or [])
    fields = {}
    for key, value in d.items():
        if key not in DESTINATION_KEYS:
            continue
        default = Destination.__dataclass_fields__[key].default
        try:
            if isinstance(default, tuple):
                fields[key] = tuple(value or ())
            elif isinstance(default, int | float) and value is not None:
                fields[key] = type(default)(value)
            else:
                fields[key] = value
        except (TypeError, ValueError) as exc:
            raise CliError(f"{where}: {key} must be a {type(default).__name__}") from exc
    return Destination(secret=secret, extra_secrets=extra, **fields)


def load_config(path: str | Path) -> DispatchConfig:
    """The routing config (see deploy/dispatch.example.yaml); secrets from env or files."""
    try:
        doc = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError as exc:
        raise CliError(f"dispatch config not found: {path}") from exc
    except yaml.YAMLError as exc:
        raise CliError(f"{path}: not valid YAML ({exc.__class__.__name__})") from exc
    if not isinstance(doc, dict) or not doc.get("destinations"):
        raise CliError(f"{path}: needs a 'destinations' list")
    unknown = set(doc) - TOP_LEVEL_KEYS
    if unknown:
        raise CliError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}")
    dests = [_destination(path, i, d) for i, d in enumerate(doc["destinations"])]
    names = [d.name for d in dests]
    if len(set(names)) != len(names):
        raise CliError(f"{path}: destination names must be unique")
    defaults = DispatchConfig([])
    return DispatchConfig(
        destinations=dests,
        **{k: type(getattr(defaults, k))(doc[k]) for k in TOP_LEVEL_KEYS - {"destinations"}
           if k in doc},
    )


# ---------------------------------------------------------------- deliveries


@dataclass
class Pending:
    """One record of the source topic: how many destinations still owe it an outcome."""

    tp: TopicPartition
    offset: int
    remaining: int
    dropped: bool = False  # its partition was revoked: the new owner re-reads it


@dataclass
class Item:
    """One alert inside a delivery, with where it came from (for dead letters and commits)."""

    alert: dict
    topic: str | None
    partition: int | None
    offset: int | None
    produced_at: float
    pending: Pending | None = field(default=None, repr=False, compare=False)


@dataclass
class Delivery:
    """One notification to one destination: one alert, or several of a cluster folded."""

    destination: str
    items: list[Item]
    attempts: int = 0
    first_at: float | None = None  # Unix seconds of the first attempt (or first parking)
    last_error: str = ""
    was_parked: bool = False  # a copy may sit in Redis: remove it once settled

    @property
    def msg_id(self) -> str:
        return webhook_id(self.items[-1].alert["alert_id"], self.destination)

    def to_json(self) -> str:
        doc = asdict(self)
        for item in doc["items"]:
            item.pop("pending", None)
        return json.dumps(doc)

    @classmethod
    def from_json(cls, raw: str | bytes) -> Delivery:
        doc = json.loads(raw)
        doc["items"] = [Item(**i) for i in doc["items"]]
        return cls(**doc)


CLAIM_SCRIPT = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, id in ipairs(ids) do
  local v = redis.call('HGET', KEYS[2], id)
  if v then
    redis.call('ZADD', KEYS[1], ARGV[2], id)
    table.insert(out, v)
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return out
"""


class DeliveryState:
    """What the dispatcher keeps in Redis: delivered marks, parked deliveries, disabled
    destinations. Keys start with `vigil:<topic prefix>dispatch:`."""

    def __init__(self, redis: aioredis.Redis, prefix: str,
                 delivered_ttl_s: int = DELIVERED_TTL_S) -> None:
        self.redis, self.prefix, self.delivered_ttl_s = redis, prefix, delivered_ttl_s
        self._claim = redis.register_script(CLAIM_SCRIPT)

    def delivered_key(self, destination: str, alert_id: str) -> str:
        return f"{self.prefix}delivered:{destination}:{alert_id}"

    def _parked(self, destination: str) -> tuple[str, str]:
        return f"{self.prefix}parked:{destination}", f"{self.prefix}parked-items:{destination}"

    def gone_key(self, destination: str) -> str:
        return f"{self.prefix}gone:{destination}"

    async def already_delivered(self, destination: str, alert_ids: list[str]) -> list[bool]:
        values = await self.redis.mget([self.delivered_key(destination, a) for a in alert_ids])
        return [v is not None for v in values]

    async def mark_delivered(self, deliveries: list[Delivery], now: float) -> None:
        """`SET NX` each alert's delivered mark (one pipeline for all); unpark parked ones."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for delivery in deliveries:
                for item in delivery.items:
                    pipe.set(self.delivered_key(delivery.destination, item.alert["alert_id"]),
                             int(now), nx=True, ex=self.delivered_ttl_s)
                if delivery.was_parked:
                    zset, items = self._parked(delivery.destination)
                    pipe.zrem(zset, delivery.msg_id)
                    pipe.hdel(items, delivery.msg_id)
            await pipe.execute()

    async def park(self, delivery: Delivery, due_at: float) -> None:
        """Store a delivery to retry at `due_at` (merging with a copy parked before a crash)."""
        zset, items = self._parked(delivery.destination)
        earlier = await self.redis.hget(items, delivery.msg_id)
        if earlier:
            old = Delivery.from_json(earlier)
            delivery.attempts = max(delivery.attempts, old.attempts)
            delivery.first_at = min(filter(None, [delivery.first_at, old.first_at]),
                                    default=None)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(items, delivery.msg_id, delivery.to_json())
            pipe.zadd(zset, {delivery.msg_id: due_at})
            await pipe.execute()

    async def claim(self, destination: str, *, now: float, lease_s: float,
                    limit: int) -> list[Delivery]:
        """Parked deliveries due by `now`, leased for `lease_s` (they come back if we crash)."""
        zset, items = self._parked(destination)
        raws = await self._claim(keys=[zset, items], args=[now, now + lease_s, limit])
        return [Delivery.from_json(r) for r in raws]

    async def unpark(self, delivery: Delivery) -> None:
        await self.unpark_id(delivery.destination, delivery.msg_id)

    async def unpark_id(self, destination: str, msg_id: str) -> None:
        zset, items = self._parked(destination)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zrem(zset, msg_id)
            pipe.hdel(items, msg_id)
            await pipe.execute()

    async def parked_count(self, destination: str) -> int:
        return await self.redis.zcard(self._parked(destination)[0])

    async def parked_alert_ids(self, destination: str) -> set[str]:
        raws = await self.redis.hvals(self._parked(destination)[1])
        return {i.alert["alert_id"] for r in raws for i in Delivery.from_json(r).items}

    async def disabled_url(self, destination: str) -> str | None:
        value = await self.redis.get(self.gone_key(destination))
        return value.decode() if value else None

    async def disable(self, destination: str, url: str) -> None:
        await self.redis.set(self.gone_key(destination), url)

    async def enable(self, destination: str) -> bool:
        return bool(await self.redis.delete(self.gone_key(destination)))


class Lane:
    """One destination's queue, workers' shared limits and health."""

    def __init__(self, dest: Destination) -> None:
        self.dest = dest
        self.queue: asyncio.Queue[Delivery] = asyncio.Queue()
        self.breaker = CircuitBreaker(dest.breaker_threshold, dest.breaker_cooldown_s,
                                      dest.breaker_max_cooldown_s)
        self.bucket = TokenBucket(dest.rate_per_s)
        self.gone = False
        self.retrying = 0
        self.parked_gauge_at = 0.0
        self.active: dict[str, list[Item]] = {}  # alert id in memory here -> duplicates waiting
        for gauge in (PARKED, BREAKER_OPEN, DISABLED):  # healthy is 0, not absent
            gauge.labels(dest.name).set(0)


def redact(text: str, url: str) -> str:
    """An error message without the destination URL's path or query (Slack-style webhook
    URLs carry their token there)."""
    parts = urlsplit(url)
    return text.replace(url, f"{parts.scheme}://{parts.netloc}/…")


# ---------------------------------------------------------------- the engine


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher

    async def on_partitions_revoked(self, revoked) -> None:
        await self.dispatcher._on_revoked(set(revoked))

    async def on_partitions_assigned(self, assigned) -> None:
        await self.dispatcher._on_assigned(set(assigned))


class Dispatcher:
    """The delivery engine: `await run()` until `stop()`. With `replay=True` it reads
    `alerts.dlq` instead, re-sends each dead-lettered delivery to its destination, and returns
    once it has caught up with the end of the topic as it was at start."""

    def __init__(self, settings: Settings, config: DispatchConfig, *,
                 group_id: str | None = None, source_topic: str | None = None,
                 replay: bool = False, only_destination: str | None = None) -> None:
        self.settings, self.config, self.replay = settings, config, replay
        prefix = settings.topic_prefix
        self.group_id = group_id or (f"{prefix}vigil-dispatch-replay" if replay
                                     else f"{prefix}vigil-dispatch")
        self.source_topic = source_topic or (settings.topics.alerts_dlq if replay
                                             else settings.topics.alerts)
        self.only_destination = only_destination
        self.lanes = {d.name: Lane(d) for d in config.destinations}
        for name in self.lanes:  # every series exists at 0 from the start, so that rate() sees
            for outcome in DELIVERY_OUTCOMES:  # the first dead letter as an increase
                DELIVERIES.labels(name, outcome)
        self.grouper = ClusterGrouper(config.group_wait_s, config.group_interval_s)
        self.inflight: dict[TopicPartition, dict[int, Pending]] = defaultdict(dict)
        self.assigned: set[TopicPartition] = set()
        self.committed: dict[TopicPartition, int] = {}
        self.replay_end: dict[TopicPartition, int] = {}
        self.unsettled = 0
        self.paused = False
        self.stats: Tally[str] = Tally()
        self._stop = asyncio.Event()
        self.ready = asyncio.Event()  # set once partitions are assigned
        self.rng = random.Random()
        self._background: set[asyncio.Task] = set()
        self._closing = False
        self._marks: list[tuple[Delivery, asyncio.Future]] = []
        self._marks_waiting = asyncio.Event()

    # ------------------------------------------------------------ lifecycle

    async def run(self) -> None:
        self.redis = async_redis_client(self.settings)
        self.state = DeliveryState(self.redis, f"vigil:{self.settings.topic_prefix}dispatch:",
                                   delivered_ttl_s=self.settings.capped(DELIVERED_TTL_S))
        self.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256))
        self.producer = aio_producer(self.settings, acks="all", enable_idempotence=True)
        self.consumer = aio_consumer(
            settings=self.settings, group_id=self.group_id,
            enable_auto_commit=False, auto_offset_reset="earliest",
            session_timeout_ms=10000, heartbeat_interval_ms=2000,
            fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
        )
        self.consumer.subscribe([self.source_topic], listener=_Rebalance(self))
        tasks: list[asyncio.Task] = []
        try:
            await self._load_disabled()
            await self.producer.start()
            await self.consumer.start()
            for lane in self.lanes.values():
                tasks += [asyncio.create_task(self._worker(lane))
                          for _ in range(lane.dest.concurrency)]
                if not self.replay:
                    tasks.append(asyncio.create_task(self._retry_loop(lane)))
            tasks += [asyncio.create_task(self._commit_loop()),
                      asyncio.create_task(self._group_loop()),
                      asyncio.create_task(self._mark_loop())]
            while not self._stop.is_set():
                self._apply_backpressure()
                batches = await self.consumer.getmany(timeout_ms=100, max_records=500)
                await self._accept_batch(batches)
                await self._flush_groups()
                if self.replay and await self._replay_caught_up():
                    break
            await self._drain()
        finally:
            self._closing = True
            everything = [*tasks, *self._background]
            for task in everything:
                task.cancel()
            if everything:  # bounded: a cancellation lost inside a library cannot hang us
                await asyncio.wait(everything, timeout=5)
            with contextlib.suppress(Exception):
                await self._commit()
            with contextlib.suppress(Exception):
                await self.consumer.stop()
            with contextlib.suppress(Exception):
                await self.producer.stop()
            await self.http.close()
            await self.redis.aclose()

    def stop(self) -> None:
        self._stop.set()

    async def _drain(self) -> None:
        """Send what grouping holds and let in-memory deliveries settle (up to `drain_s`)."""
        for (name, _), items in self.grouper.due(time.monotonic(), everything=True):
            await self._submit(self.lanes[name], items)
        deadline = time.monotonic() + self.config.drain_s
        while self.unsettled > 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await self._commit()

    async def _load_disabled(self) -> None:
        for lane in self.lanes.values():
            url = await self.state.disabled_url(lane.dest.name)
            if url == lane.dest.url:
                lane.gone = True
                DISABLED.labels(lane.dest.name).set(1)
                log.warning("destination %s is disabled (it answered 410 Gone); its alerts go "
                            "to alerts.dlq; re-enable: vigil dispatch --reenable %s",
                            lane.dest.name, lane.dest.name)
            elif url is not None:  # the URL changed since: a new receiver, enabled again
                await self.state.enable(lane.dest.name)

    # ------------------------------------------------------------ intake

    async def _accept_batch(self, batches: dict) -> None:
        """Route a fetched batch, drop what each destination already got (one Redis MGET per
        destination), and queue or fold the rest."""
        routed: dict[str, list[Item]] = defaultdict(list)
        for tp, messages in batches.items():
            for message in messages:
                for lane, item in await self._accept(tp, message):
                    routed[lane.dest.name].append(item)
        now = time.monotonic()
        for name, items in routed.items():
            lane = self.lanes[name]
            done = await self.state.already_delivered(name, [i.alert["alert_id"] for i in items])
            for item, already in zip(items, done, strict=True):
                if already:
                    DELIVERIES.labels(name, "duplicate_skipped").inc()
                    self.stats["already_delivered"] += 1
                    self._settle(item)
                    continue
                key = None if self.replay else group_key(item.alert)
                if key is None:
                    await self._submit(lane, [item])
                else:
                    self.grouper.offer((name, key), item, now)

    async def _accept(self, tp: TopicPartition, message) -> list[tuple[Lane, Item]]:
        """Track one record for the commit frontier; its (destination, item) pairs."""
        pending = Pending(tp, message.offset, 0)
        self.inflight[tp][message.offset] = pending
        produced_at = message.timestamp / 1000.0
        if self.replay:
            parsed = self._parse_dead_letter(message.value)
            if parsed is None:
                return []
            alert, lanes, source = parsed
        else:
            try:
                alert = _parse_alert(message.value)
            except ValueError as exc:
                pending.remaining, self.unsettled = 1, self.unsettled + 1
                item = Item({"alert_id": None}, tp.topic, tp.partition, message.offset,
                            produced_at, pending)
                await self._write_dead_letters(None, [item], "bad_alert", str(exc)[:300],
                                               original=message.value)
                return []
            lanes = [self.lanes[d.name] for d in route(alert, self.config.destinations)]
            source = (tp.topic, tp.partition, message.offset)
        if not lanes:
            self.stats["unrouted"] += 1
            return []
        pending.remaining = len(lanes)
        self.unsettled += 1
        return [(lane, Item(alert, *source, produced_at, pending)) for lane in lanes]

    def _parse_dead_letter(self, raw: bytes) -> tuple[dict, list[Lane], tuple] | None:
        """A dead-lettered delivery to replay, or None (counted) when there is nothing to do."""
        try:
            record = json.loads(raw)
            alert = _parse_alert(base64.b64decode(record["original_b64"]))
        except (ValueError, KeyError, TypeError):
            self.stats["replay_skipped_not_an_alert"] += 1
            return None
        name = record.get("destination")
        if record.get("stage") != "dispatch" or name is None:
            self.stats["replay_skipped_not_a_delivery"] += 1
            return None
        if self.only_destination and name != self.only_destination:
            self.stats["replay_skipped_other_destination"] += 1
            return None
        if name not in self.lanes:
            log.warning("dead letter for destination %s, which is not in the config: skipped",
                        name)
            self.stats["replay_skipped_unknown_destination"] += 1
            return None
        self.stats["replayed"] += 1
        source = (record.get("topic"), record.get("partition"), record.get("offset"))
        return alert, [self.lanes[name]], source

    async def _flush_groups(self) -> None:
        for (name, _), items in self.grouper.due(time.monotonic()):
            await self._submit(self.lanes[name], items)

    async def _group_loop(self) -> None:
        while not self._closing:
            due = self.grouper.next_due()
            wait = 0.1 if due is None else min(0.1, max(0.0, due - time.monotonic()))
            await asyncio.sleep(wait)
            await self._flush_groups()

    async def _submit(self, lane: Lane, items: list[Item]) -> None:
        fresh = []
        for item in items:  # the same alert twice in flight: the copy waits for the first
            waiting = lane.active.get(item.alert["alert_id"])
            if waiting is None:
                lane.active[item.alert["alert_id"]] = []
                fresh.append(item)
            else:
                waiting.append(item)
                self.stats["duplicate_in_flight"] += 1
        if not fresh:
            return
        delivery = Delivery(lane.dest.name, fresh)
        if lane.gone:
            await self._dead_letter(lane, delivery, "destination_gone", GONE_REASON)
        elif lane.queue.qsize() >= lane.dest.max_queue:
            await self._park(lane, delivery, time.time(), "queue full")
        else:
            lane.queue.put_nowait(delivery)

    # ------------------------------------------------------------ delivery

    async def _worker(self, lane: Lane) -> None:
        while not self._closing:
            delivery = await lane.queue.get()
            try:
                await self._deliver_from_memory(lane, delivery)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a bug must not lose the alert: park it
                _reraise_if_cancelled()
                log.exception("delivery %s to %s failed unexpectedly", delivery.msg_id,
                              lane.dest.name)
                with contextlib.suppress(Exception):
                    await self._park(lane, delivery, time.time() + 5, "internal error")

    async def _deliver_from_memory(self, lane: Lane, delivery: Delivery) -> None:
        held_since, first = time.monotonic(), True
        while not self._closing:
            # fresh deliveries were checked against the delivered marks at intake
            decision = await self._attempt(lane, delivery, check_delivered=not first)
            first = False
            if decision.action == "retry" and wait_in_memory(
                    decision, attempts=delivery.attempts,
                    held_s=time.monotonic() - held_since, dest=lane.dest):
                DELIVERIES.labels(lane.dest.name, "retry").inc()
                await asyncio.sleep(decision.delay_s)
                continue
            await self._conclude(lane, delivery, decision)
            return

    async def _retry_loop(self, lane: Lane) -> None:
        while not self._closing:
            try:
                await self._retry_round(lane)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - Redis hiccup: try again next round
                _reraise_if_cancelled()
                log.exception("retry round for %s failed", lane.dest.name)
            await asyncio.sleep(self.config.retry_poll_s)

    async def _retry_round(self, lane: Lane) -> None:
        now = time.time()
        if now - lane.parked_gauge_at >= 5:
            lane.parked_gauge_at = now
            PARKED.labels(lane.dest.name).set(await self.state.parked_count(lane.dest.name))
        if lane.gone:
            for delivery in await self.state.claim(lane.dest.name, now=math.inf, lease_s=60,
                                                   limit=500):
                await self._dead_letter(lane, delivery, "destination_gone", GONE_REASON)
            return
        breaker = lane.breaker
        if breaker.state == "open" and time.monotonic() < breaker.open_until:
            return
        room = lane.dest.concurrency - lane.retrying
        limit = min(room, 1 if breaker.state != "closed" else room)
        if limit <= 0:
            return
        claimed = await self.state.claim(lane.dest.name, now=now,
                                         lease_s=lane.dest.timeout_s + 30, limit=limit)
        for delivery in claimed:
            lane.retrying += 1
            self._spawn(self._retry_one(lane, delivery))

    async def _retry_one(self, lane: Lane, delivery: Delivery) -> None:
        try:
            await self._conclude(lane, delivery, await self._attempt(lane, delivery))
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - the lease brings it back
            _reraise_if_cancelled()
            log.exception("retry of %s to %s failed unexpectedly", delivery.msg_id,
                          lane.dest.name)
        finally:
            lane.retrying -= 1

    async def _attempt(self, lane: Lane, delivery: Delivery, *,
                       check_delivered: bool = True) -> Decision:
        """One try (or none, if every alert in it was delivered already or the breaker is
        open): the decision about what happens next."""
        if check_delivered:
            await self._drop_already_delivered(lane, delivery)
        if not delivery.items:
            return Decision("nothing_left")
        dest, now = lane.dest, time.monotonic()
        if lane.gone:
            return Decision("disable", reason=GONE_REASON)
        if not lane.breaker.allow(now):
            BREAKER_OPEN.labels(dest.name).set(1)
            return Decision("breaker_open", delay_s=lane.breaker.retry_at(now) - now,
                            reason=f"circuit open after: {delivery.last_error or 'failures'}")
        wait = lane.bucket.wait_s(now)
        if wait > 0:
            await asyncio.sleep(wait)
        delivery.attempts += 1
        delivery.first_at = delivery.first_at or time.time()
        status, error, retry_after = await self._post(lane, delivery)
        lane.breaker.record(classify(status) != "retry", time.monotonic())
        BREAKER_OPEN.labels(dest.name).set(1 if lane.breaker.state == "open" else 0)
        delivery.last_error = error
        return decide(status, error, attempts=delivery.attempts,
                      age_s=time.time() - delivery.first_at, retry_after=retry_after,
                      dest=dest, rng=self.rng)

    async def _post(self, lane: Lane, delivery: Delivery) -> tuple[int | None, str, float | None]:
        dest = lane.dest
        payload = format_payload(
            notification([i.alert for i in delivery.items],
                         investigator_base_url=self.config.investigator_base_url),
            dest.format, receiver=dest.name)
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False, default=str)
        headers = sign(dest.secrets, delivery.msg_id, body)
        try:
            async with self.http.post(dest.url, data=body.encode(), headers=headers,
                                      allow_redirects=False,
                                      timeout=aiohttp.ClientTimeout(total=dest.timeout_s)) as resp:
                await resp.content.read(64 * 1024)
                return (resp.status, f"HTTP {resp.status}",
                        retry_after_s(resp.headers.get("Retry-After"), now=time.time()))
        except TimeoutError:
            _reraise_if_cancelled()
            return None, f"time-out after {dest.timeout_s:g} s", None
        except aiohttp.ClientError as exc:
            return None, redact(f"{type(exc).__name__}: {exc}", dest.url)[:300], None

    async def _drop_already_delivered(self, lane: Lane, delivery: Delivery) -> None:
        done = await self.state.already_delivered(
            lane.dest.name, [i.alert["alert_id"] for i in delivery.items])
        if not any(done):
            return
        old_msg_id = delivery.msg_id
        for item, already in zip(delivery.items, done, strict=True):
            if already:
                DELIVERIES.labels(lane.dest.name, "duplicate_skipped").inc()
                self.stats["already_delivered"] += 1
                self._settle(item, lane)
        delivery.items = [i for i, already in zip(delivery.items, done, strict=True)
                          if not already]
        if not delivery.items or delivery.msg_id != old_msg_id:
            await self.state.unpark_id(delivery.destination, old_msg_id)

    async def _conclude(self, lane: Lane, delivery: Delivery, decision: Decision) -> None:
        name = lane.dest.name
        if decision.action == "nothing_left":
            return
        if decision.action == "delivered":
            now = time.time()
            await self._mark_delivered(delivery)
            for item in delivery.items:
                DELIVERIES.labels(name, "delivered").inc()
                DELIVERY_SECONDS.observe(max(0.0, now - item.produced_at))
                if isinstance(item.alert.get("ingested_at"), int | float):
                    INGEST_TO_ALERT_DELIVERED_SECONDS.labels(name, item.alert["severity"]).observe(
                        max(0.0, now - item.alert["ingested_at"]))
                self._settle(item, lane)
            self.stats["delivered"] += len(delivery.items)
            return
        if decision.action == "disable":
            if not lane.gone:
                lane.gone = True
                DISABLED.labels(name).set(1)
                await self.state.disable(name, lane.dest.url)
                log.warning("destination %s answered 410 Gone: disabled; its alerts go to "
                            "alerts.dlq (re-enable: vigil dispatch --reenable %s)", name, name)
            await self._dead_letter(lane, delivery, "destination_gone", decision.reason)
            return
        if decision.action == "dead_letter":
            code = "rejected" if "not retryable" in decision.reason else "undeliverable"
            await self._dead_letter(lane, delivery, code, decision.reason)
            return
        # retry or breaker_open: park it, unless waiting would take it past its maximum age
        age = time.time() - (delivery.first_at or time.time())
        if age + decision.delay_s > lane.dest.max_age_s:
            await self._dead_letter(lane, delivery, "undeliverable",
                                    f"after {delivery.attempts} attempt(s) over {age:.0f} s "
                                    f"(max age): {delivery.last_error or decision.reason}")
            return
        if decision.action == "retry":
            DELIVERIES.labels(name, "retry").inc()
        await self._park(lane, delivery, time.time() + decision.delay_s, decision.reason)

    async def _mark_delivered(self, delivery: Delivery) -> None:
        """Wait until this delivery's marks are in Redis; marks from concurrent workers share
        one round trip (see `_mark_loop`)."""
        done = asyncio.get_running_loop().create_future()
        self._marks.append((delivery, done))
        self._marks_waiting.set()
        await done

    async def _mark_loop(self) -> None:
        while not self._closing:
            await self._marks_waiting.wait()
            self._marks_waiting.clear()
            batch, self._marks = self._marks, []
            try:
                await self.state.mark_delivered([d for d, _ in batch], time.time())
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the workers waiting decide what to do
                _reraise_if_cancelled()
                for _, done in batch:
                    if not done.done():  # its worker may have been cancelled meanwhile
                        done.set_exception(exc)
            else:
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)

    async def _park(self, lane: Lane, delivery: Delivery, due_at: float, why: str) -> None:
        delivery.first_at = delivery.first_at or time.time()
        delivery.was_parked = True
        await self.state.park(delivery, due_at)
        DELIVERIES.labels(lane.dest.name, "parked").inc()
        self.stats["parked"] += 1
        log.info("delivery %s to %s parked for %.1f s: %s", delivery.msg_id, lane.dest.name,
                 max(0.0, due_at - time.time()), why)
        for item in delivery.items:
            self._settle(item, lane)

    async def _dead_letter(self, lane: Lane, delivery: Delivery, code: str, reason: str) -> None:
        await self._write_dead_letters(lane, delivery.items, code, reason,
                                       attempts=delivery.attempts)
        if delivery.was_parked:
            await self.state.unpark(delivery)

    async def _write_dead_letters(self, lane: Lane | None, items: list[Item], code: str,
                                  reason: str, *, attempts: int = 0,
                                  original: bytes | None = None) -> None:
        name = lane.dest.name if lane else None
        sends = []
        for item in items:
            alert_id = item.alert.get("alert_id")
            record = dead_letter(
                stage="dispatch", error_code=code, reason=reason,
                original=original if original is not None else json.dumps(item.alert).encode(),
                ad_id=item.alert.get("ad_id"), topic=item.topic, partition=item.partition,
                offset=item.offset, destination=name, attempts=attempts, alert_id=alert_id)
            sends.append(await self.producer.send(
                self.settings.topics.alerts_dlq, json.dumps(record).encode(),
                key=alert_id.encode() if alert_id else None))
        await asyncio.gather(*sends)
        for item in items:
            DELIVERIES.labels(name or "-", "dead_lettered").inc()
            log.warning("alert %s dead-lettered for %s: %s", item.alert.get("alert_id"),
                        name or "-", reason)
            self._settle(item, lane)
        self.stats["dead_lettered"] += len(items)

    def _settle(self, item: Item, lane: Lane | None = None) -> None:
        """The item has an outcome (delivered, dead-lettered or parked) for this lane; so have
        copies of the same alert that waited behind it."""
        if lane is not None:
            for copy in lane.active.pop(item.alert.get("alert_id"), ()):
                self._settle(copy)
        pending, item.pending = item.pending, None
        if pending is not None:
            pending.remaining -= 1
            if pending.remaining == 0 and not pending.dropped:
                self.unsettled -= 1

    def _spawn(self, coro) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # ------------------------------------------------------------ commits and partitions

    def _apply_backpressure(self) -> None:
        if not self.paused and self.unsettled >= self.config.max_inflight:
            self.consumer.pause(*self.assigned)
            self.paused = True
            log.warning("%d alerts unsettled: consumption paused", self.unsettled)
        elif self.paused and self.unsettled < self.config.max_inflight // 2:
            self.consumer.resume(*self.assigned)
            self.paused = False

    def _commit_points(self, partitions: set[TopicPartition] | None = None) -> dict:
        """Per partition, the offset after the last record of the fully settled prefix."""
        points = {}
        for tp in partitions if partitions is not None else list(self.inflight):
            pendings = self.inflight.get(tp, {})
            frontier = None
            for offset in sorted(pendings):
                if pendings[offset].remaining > 0:
                    break
                frontier = offset
                del pendings[offset]
            if frontier is not None:
                points[tp] = frontier + 1
        return points

    async def _commit(self, partitions: set[TopicPartition] | None = None) -> None:
        points = {tp: o for tp, o in self._commit_points(partitions).items()
                  if tp in self.assigned}
        if points:
            await self.consumer.commit(points)
            self.committed.update(points)

    async def _commit_loop(self) -> None:
        while not self._closing:
            await asyncio.sleep(0.5)
            try:
                await self._commit()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a failed commit is retried next round
                _reraise_if_cancelled()
                log.exception("offset commit failed; will retry")

    async def _on_revoked(self, revoked: set[TopicPartition]) -> None:
        with contextlib.suppress(Exception):
            await self._commit(revoked)
        self.assigned -= revoked
        for tp in revoked:
            for pending in self.inflight.pop(tp, {}).values():
                if pending.remaining > 0 and not pending.dropped:
                    self.unsettled -= 1
                pending.dropped = True

    async def _on_assigned(self, assigned: set[TopicPartition]) -> None:
        self.assigned |= assigned
        if self.replay and assigned:
            self.replay_end.update(await self.consumer.end_offsets(list(assigned)))
        if self.paused:
            self.consumer.pause(*assigned)
        self.ready.set()

    async def _replay_caught_up(self) -> bool:
        if not self.ready.is_set():
            return False
        for tp in self.assigned:
            if await self.consumer.position(tp) < self.replay_end.get(tp, 0):
                return False
        return not any(lane.queue.qsize() for lane in self.lanes.values())


def _reraise_if_cancelled() -> None:
    """Python 3.11's asyncio.timeout (used by client libraries) can turn a cancellation into
    TimeoutError; a loop that survives errors must not survive being cancelled."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def _parse_alert(raw: bytes | None) -> dict:
    if not raw:
        raise ValueError("empty record")
    alert = json.loads(raw)
    if not isinstance(alert, dict) or not isinstance(alert.get("alert_id"), str):
        raise ValueError("not an alert record (no alert_id)")
    missing = [k for k in ("ad_id", "severity", "risk") if k not in alert]
    if missing:
        raise ValueError(f"alert {alert['alert_id']} lacks {', '.join(missing)}")
    if alert["severity"] not in SEVERITIES:
        raise ValueError(f"alert {alert['alert_id']} has unknown severity {alert['severity']!r}")
    return alert


# ---------------------------------------------------------------- CLI


async def _status(settings: Settings, config: DispatchConfig) -> list[str]:
    redis = async_redis_client(settings)
    state = DeliveryState(redis, f"vigil:{settings.topic_prefix}dispatch:")
    try:
        lines = []
        for d in config.destinations:
            disabled = await state.disabled_url(d.name) == d.url
            lines.append(f"{d.name}: {'DISABLED (410 Gone)' if disabled else 'enabled'}, "
                         f"{await state.parked_count(d.name)} parked deliveries")
        return lines
    finally:
        await redis.aclose()


async def _reenable(settings: Settings, name: str) -> bool:
    redis = async_redis_client(settings)
    try:
        return await DeliveryState(redis, f"vigil:{settings.topic_prefix}dispatch:").enable(name)
    finally:
        await redis.aclose()


def _cmd_dispatch(args) -> int:
    import signal

    from streams.broker.topics import ensure_topics
    from streams.preflight import preflight

    settings = load_settings()
    if not args.config:
        raise CliError("give --config FILE (see deploy/dispatch.example.yaml)")
    config = load_config(args.config)
    names = {d.name for d in config.destinations}
    for name in filter(None, [args.reenable, args.destination]):
        if name not in names:
            raise CliError(f"no destination named {name!r} in {args.config}")
    # one clear line per unusable service or setting, before anything connects
    preflight(settings, kafka=not (args.status or args.reenable))
    if args.status:
        print("\n".join(asyncio.run(_status(settings, config))))
        return 0
    if args.reenable:
        was = asyncio.run(_reenable(settings, args.reenable))
        print(f"dispatch: {args.reenable} {'re-enabled' if was else 'was not disabled'}")
        return 0
    ensure_topics(settings)
    dispatcher = Dispatcher(settings, config, replay=args.replay_dlq,
                            only_destination=args.destination)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, dispatcher.stop)
        await dispatcher.run()

    if args.metrics_port and not args.replay_dlq:
        from streams.broker.lag import LagProbe
        from streams.metrics import initialise_delivery_series, serve_metrics

        initialise_delivery_series(sorted(names))
        try:
            serve_metrics(args.metrics_port)
        except OSError as exc:
            log.warning("metrics port %d unavailable (%s): no /metrics", args.metrics_port, exc)
        else:
            LagProbe(settings, dispatcher.group_id, [dispatcher.source_topic],
                     [settings.topics.alerts_dlq]).start()
    asyncio.run(main())
    if args.replay_dlq:
        s = dispatcher.stats
        skipped = ", ".join(f"{k.removeprefix('replay_skipped_')} {v}" for k, v in s.items()
                            if k.startswith("replay_skipped_")) or "none"
        print(f"dispatch: replayed {s['replayed']} dead-lettered deliveries: {s['delivered']} "
              f"delivered, {s['already_delivered']} already delivered, {s['dead_lettered']} "
              f"dead-lettered again, the rest parked for the running dispatcher; skipped: "
              f"{skipped}")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("dispatch", help="deliver alerts to webhooks (signed, at least once)")
    p.add_argument("--config", help="routing config YAML (deploy/dispatch.example.yaml)")
    p.add_argument("--replay-dlq", action="store_true",
                   help="re-send dead-lettered deliveries from alerts.dlq, then exit")
    p.add_argument("--destination", help="with --replay-dlq: only this destination's")
    p.add_argument("--reenable", metavar="NAME", help="lift a 410 Gone disablement, then exit")
    p.add_argument("--status", action="store_true",
                   help="print each destination's state (disabled, parked), then exit")
    p.add_argument("--metrics-port", type=int,
                   default=load_settings().dispatch_metrics_port,
                   help="Prometheus /metrics on 127.0.0.1 (0: none)")
    p.set_defaults(func=_cmd_dispatch)
