"""`vigil bench pipeline`: the whole stack end to end, beside the batch path on the same ads.

What runs, as in production, each in its own process so its CPU and memory can be read from
/proc: the broker and Redis (`vigil stack`), N `vigil worker`s, `vigil dispatch`, a
signature-verifying `vigil webhook-sink`, and a producer (this module's `produce` entry point,
with the same Kafka settings as `vigil ingest`). Every run gets its own topic prefix (so its
own Redis keys and consumer group) and deletes its topics afterwards.

The ads are generated (seeded) into a JSON-lines file first: `--mix text` has no images,
`--mix images` gives every ad 1-4 photos from the photo pool (the generator's own photos, topped
up with pool photos the corpus does not use). A few warm-up ads from another seed go through
first, so the figures leave out start-up (group join, model load); the batch path scores the
same warm-up ads first too, so both see the same sequence.

Figures:
- sustained ads/s: measured ads / (last `ads.scored` record's Kafka timestamp - first ad's
  ingest timestamp);
- ingest → `ads.scored`: the scored record's Kafka timestamp minus its `ingested_at` (the raw
  record's Kafka timestamp, set by the producer); ingest → webhook: the sink's arrival time
  minus the alert's `ingested_at` (alert ids of folded notifications included);
- CPU seconds per 1,000 ads per process (user + system, /proc, from the end of warm-up), peak
  RSS per process (VmHWM), consumer lag and worker RSS sampled every few seconds;
- the batch path (`vigil score`'s `score_lines` in this process, in-memory state) on the same
  ads: its ads/s and CPU seconds, and the streaming/batch ratio of both.

The issue's targets are printed beside the figures (met / not met), never asserted: this box
is shared, and wall-clock figures are noisy; CPU seconds per 1,000 ads are the steadier figure.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import random
import re
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from streams.errors import CliError
from streams.processes import stop_process_group

REPO = Path(__file__).resolve().parents[2]
SECRET_ENV = "VIGIL_BENCH_SECRET"
WARMUP_ADS = 40
WARMUP_SEED_OFFSET = 7919
SAMPLE_EVERY_S = 5.0
SOAK_WINDOW_S = 60.0  # a soak's levels: means over this long after warm-up and at the end
STALL_S = 90.0  # no progress for this long: give up waiting and report what arrived

TARGETS = {
    "text_ads_per_s_one_worker": 2000.0,
    "images_ads_per_s_one_worker": 300.0,
    "images_p99_ingest_to_webhook_s_at_200": 2.0,
    "two_workers_speedup_text": 1.7,
    "stream_over_batch": 0.70,
    # issue 16
    "worker_cpu_over_batch": 1.4,
    "broker_cpu_s_per_1000": 0.5,
    "p99_ingest_to_scored_s_paced": 1.0,
    "soak_drift": 0.05,
}


# ---------------------------------------------------------------- pure summaries


def percentiles(values: list[float]) -> dict[str, float | int]:
    """p50/p95/p99/max in seconds (nearest-rank, so p50 <= p95 <= p99 <= max holds) and n."""
    if not values:
        return {"n": 0}
    arr = np.sort(np.asarray(values, dtype=float))
    out: dict[str, float | int] = {"n": int(arr.size)}
    for q in (50, 95, 99):
        out[f"p{q}"] = float(np.percentile(arr, q, method="inverted_cdf"))
    out["max"] = float(arr[-1])
    return out


def per_thousand(cpu_s: float, ads: int) -> float | None:
    return cpu_s / ads * 1000.0 if ads else None


def verdict(measured: float | None, target: float, *, at_most: bool = False) -> str:
    if measured is None:
        return "n/a"
    ok = measured <= target if at_most else measured >= target
    return "met" if ok else "NOT met"


def targets_table(result: dict) -> list[dict]:
    """The issue's targets beside what this run measured ("n/a" when the run did not measure it)."""
    mix, rate = result["mix"], result["rate"]
    runs = {r["workers"]: r for r in result["runs"]}
    one = runs.get(1)
    rows = []

    def add(name: str, target: str, measured: float | None, text: str, ok: str) -> None:
        rows.append({"target": name, "wanted": target, "measured": measured,
                     "measured_text": text, "verdict": ok})

    unpaced = rate is None
    tput = one["throughput_ads_per_s"] if one and unpaced else None
    if mix == "text":
        add("one worker, text-only ads/s", ">= 2,000", tput,
            f"{tput:,.0f}" if tput is not None else "(needs an unpaced --mix text run)",
            verdict(tput, TARGETS["text_ads_per_s_one_worker"]))
    else:
        add("one worker, ads/s with 1-4 images", ">= 300", tput,
            f"{tput:,.0f}" if tput is not None else "(needs an unpaced --mix images run)",
            verdict(tput, TARGETS["images_ads_per_s_one_worker"]))
    p99 = None
    if mix == "images" and rate is not None and abs(rate - 200) < 1e-9 and one:
        p99 = one["ingest_to_webhook_s"].get("p99")
    add("p99 ingest->webhook at 200 ads/s with images", "<= 2 s", p99,
        f"{p99:.2f} s" if p99 is not None else "(needs --mix images --rate 200)",
        verdict(p99, TARGETS["images_p99_ingest_to_webhook_s_at_200"], at_most=True))
    speedup = result.get("scaling", {}).get("throughput_ratio") if mix == "text" and unpaced else None
    add("two workers / one, text-only", ">= 1.7x", speedup,
        f"{speedup:.2f}x" if speedup is not None else "(needs unpaced --mix text --workers 1,2)",
        verdict(speedup, TARGETS["two_workers_speedup_text"]))
    ratio = result["stream_over_batch"]["throughput"] if unpaced else None
    add("streaming / batch throughput", ">= 70 %", ratio,
        f"{ratio:.0%}" if ratio is not None else "(needs an unpaced run)",
        verdict(ratio, TARGETS["stream_over_batch"]))
    cpu = result["stream_over_batch"].get("worker_cpu_over_batch")
    add("worker CPU per ad / batch path's", "<= 1.4x", cpu,
        f"{cpu:.2f}x" if cpu is not None else "(needs a one-worker run)",
        verdict(cpu, TARGETS["worker_cpu_over_batch"], at_most=True))
    broker = (one or {}).get("cpu_s_per_1000_ads_by_stage", {}).get("kafka broker")
    add("broker CPU s per 1,000 ads", "<= 0.5", broker,
        f"{broker:.2f}" if broker is not None else "(needs the local stack's broker)",
        verdict(broker, TARGETS["broker_cpu_s_per_1000"], at_most=True))
    p99 = one.get("ingest_to_scored_s", {}).get("p99") if one and not unpaced else None
    add(f"p99 ingest->scored, paced ({mix})", "<= 1 s", p99,
        f"{p99:.2f} s at {rate:g}/s" if p99 is not None else "(needs a --rate run)",
        verdict(p99, TARGETS["p99_ingest_to_scored_s_paced"], at_most=True))
    soak = (one or {}).get("soak") or {}
    for name, key in (("soak: worker RSS end / after warm-up", "worker_rss_drift"),
                      ("soak: Redis memory end / after warm-up", "redis_memory_drift")):
        drift = soak.get(key)
        add(name, "within 5 %", drift,
            f"{drift:+.1%}" if drift is not None else "(needs --soak-minutes)",
            verdict(abs(drift) if drift is not None else None, TARGETS["soak_drift"], at_most=True))
    return rows


def soak_summary(samples: list[dict], warmup_s: float, window_s: float = SOAK_WINDOW_S) -> dict:
    """Worker RSS, Redis memory and lag after `warmup_s` against the run's end, as drifts
    (end / after warm-up - 1), and the lag's largest value in each half after warm-up.

    Each level is the mean over `window_s` of samples, not one sample (Redis's memory moves by
    megabytes as keys expire in bursts): the window right after warm-up against the last window
    while ads were still being produced (the drain after the last ad is not steady state)."""
    after = [s for s in samples if s["t_s"] >= warmup_s]
    if len(after) < 2:
        return {}
    total_sent = max((s.get("sent", 0) for s in after), default=0)
    producing = [s for s in after if s.get("sent", 0) < total_sent] or after
    start = [s for s in producing if s["t_s"] < producing[0]["t_s"] + window_s]
    end = [s for s in producing if s["t_s"] > producing[-1]["t_s"] - window_s]

    def level(part: list[dict], key: str) -> float | None:
        values = [s[key] for s in part if s.get(key) is not None]
        return round(sum(values) / len(values), 1) if values else None

    def drift(key: str) -> float | None:
        a, b = level(start, key), level(end, key)
        return (b / a - 1.0) if a and b is not None else None

    half = len(after) // 2
    lags = [[s["lag"] or 0 for s in part] for part in (after[:half], after[half:])]
    return {"warmup_s": warmup_s, "window_s": window_s,
            "from_t_s": start[0]["t_s"], "to_t_s": end[-1]["t_s"],
            "worker_rss_mib": [level(start, "worker_rss_total_mib"), level(end, "worker_rss_total_mib")],
            "redis_memory_mib": [level(start, "redis_used_mib"), level(end, "redis_used_mib")],
            "worker_rss_drift": drift("worker_rss_total_mib"),
            "redis_memory_drift": drift("redis_used_mib"),
            "lag_max_first_half": max(lags[0], default=0), "lag_max_second_half": max(lags[1], default=0)}


# ---------------------------------------------------------------- ads


def _filler_photos(n_taken: int, used: set[str], rng: random.Random) -> list:
    """`n_taken` pool photos, fresh ones (unused by the corpus) first, then mirrored copies."""
    from streams.evaluation.synthetic import PhotoRef, photo_pool

    unused = [pid for pid in sorted(photo_pool()) if pid not in used]
    rng.shuffle(unused)
    refs = []
    for i in range(n_taken):
        lap = i // len(unused)
        refs.append(PhotoRef(unused[i % len(unused)], mirror=lap % 2 == 1, crop=4 * (lap // 2),
                             quality=rng.choice((60, 70, 80))))
    return refs


def bench_ads(n: int, seed: int, mix: str, *, id_prefix: str = "",
              chunk: int | None = None) -> Iterator[bytes]:
    """`n` raw ads as JSON lines; with `mix="images"` each carries 1-4 inline photos.

    With `chunk`, a stationary stream for a soak: corpora of `chunk` ads one after another,
    each with its own seed and ids and its 30 days shifted after the one before. One long
    corpus is not stationary: its organisations' circuits start in the first third of its
    30 days, so its last stretch has fewer of them, fewer alerts and less link state, which
    moved a soak's end-of-run memory by itself."""
    if chunk and n > chunk:
        from streams.evaluation.synthetic import SPAN_DAYS

        for k in range(0, (n + chunk - 1) // chunk):
            part = bench_ads(min(chunk, n - k * chunk), seed + 7919 * k, mix,
                             id_prefix=f"{id_prefix}c{k}-" if k else id_prefix)
            for line in part:
                yield _shifted(line, k * SPAN_DAYS) if k else line
        return
    from streams.evaluation.generate import with_images
    from streams.evaluation.synthetic import synthetic_ads

    items = list(synthetic_ads(n, seed, "easy"))
    rng = random.Random(f"bench-pipeline-{seed}")
    extra: dict[int, int] = {}
    if mix == "images":
        for i, item in enumerate(items):
            want = rng.randint(1, 4)
            if len(item.photos) < want:
                extra[i] = want - len(item.photos)
    fillers = iter(_filler_photos(sum(extra.values()),
                                  {p.photo_id for it in items for p in it.photos}, rng))
    for i, item in enumerate(items):
        if mix == "images":
            photos = tuple(item.photos[:4]) + tuple(next(fillers) for _ in range(extra.get(i, 0)))
            item = dataclasses.replace(item, photos=photos)
        ad = with_images(item, mix == "images")
        if id_prefix:
            ad = {**ad, "ad_id": id_prefix + ad["ad_id"]}
        yield json.dumps(ad, ensure_ascii=False).encode()


def _shifted(line: bytes, days: int) -> bytes:
    """An ad's JSON line with `posted_at` moved `days` later."""
    from datetime import datetime, timedelta

    ad = json.loads(line)
    posted = datetime.strptime(ad["posted_at"], "%Y-%m-%dT%H:%M:%SZ") + timedelta(days=days)
    ad["posted_at"] = posted.strftime("%Y-%m-%dT%H:%M:%SZ")
    return json.dumps(ad, ensure_ascii=False).encode()


# ---------------------------------------------------------------- processes


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its reaped children (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def memory_kib(pid: int) -> dict[str, int]:
    """Resident set now (VmRSS) and its peak (VmHWM), KiB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            out[line.split(":")[0]] = int(line.split()[1])
    return out


@dataclass
class Proc:
    """A process whose CPU and memory the benchmark reports."""

    name: str
    stage: str
    pid: int
    popen: subprocess.Popen | None = None
    cpu_at_start: float = 0.0
    last: dict = field(default_factory=dict)  # last /proc reading while it was alive

    final: bool = False  # figures reported by the process itself on exit: no more /proc reads

    def read(self) -> dict:
        if self.final:
            return self.last
        with contextlib.suppress(OSError):
            now = {"cpu_s": cpu_seconds(self.pid), **memory_kib(self.pid)}
            self.last = {**self.last, **now}  # a zombie has no VmHWM left: keep the last one
        return self.last

    def mark(self) -> None:
        self.cpu_at_start = self.read().get("cpu_s", 0.0)


def _spawn(args: list[str], env: dict, log_path: Path, **kw) -> subprocess.Popen:
    log = open(log_path, "wb")  # noqa: SIM115 - closed when the child has its own copy
    try:
        return subprocess.Popen([sys.executable, "-m", *args], cwd=REPO, env=env,
                                stdout=kw.pop("stdout", log), stderr=log,
                                start_new_session=True, **kw)
    finally:
        log.close()


def _tail(path: Path, chars: int = 1500) -> str:
    with contextlib.suppress(OSError):
        return path.read_text(errors="replace")[-chars:]
    return ""


def _stack_pids(settings) -> dict[str, int]:
    pids = {}
    for name, pid_file in (("redis", settings.stack_dir / "redis" / "redis.pid"),
                           ("kafka broker", settings.stack_dir / "kafka" / "kafka.pid")):
        with contextlib.suppress(OSError, ValueError):
            pid = int(pid_file.read_text().strip())
            cpu_seconds(pid)
            pids[name] = pid
    return pids


# ---------------------------------------------------------------- the producer process


def produce_main(argv: list[str]) -> int:
    """`python -m streams.bench.pipeline produce FILE TOPIC RATE [SKIP]`: send the lines of FILE
    (keyed by ad_id, as `vigil ingest` does) at RATE per second (0: as fast as it goes); prints
    "sent N" lines as it goes. Bootstrap from the environment (VIGIL_KAFKA_PORT, KAFKA_BOOTSTRAP)."""
    from streams.config import load_settings
    from streams.ingest.producer import key_of, make_producer
    from streams.jsonlines import read_lines

    path, topic, rate = argv[0], argv[1], float(argv[2])
    producer = make_producer(load_settings())
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(f"start {usage.ru_utime + usage.ru_stime:.3f}", flush=True)  # CPU before the first ad
    sent, started, last = 0, time.monotonic(), 0.0
    with open(path, "rb") as fh:
        for value in read_lines(fh):
            if rate > 0:
                delay = started + sent / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            producer.send(topic, key=key_of(value), value=value)
            sent += 1
            if time.monotonic() - last >= 1.0:
                last = time.monotonic()
                print(f"sent {sent}", flush=True)
    producer.flush()
    producer.close()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(f"sent {sent}", flush=True)
    # read by the parent: this process may be gone before /proc is read again
    print(f"stats {usage.ru_utime + usage.ru_stime:.3f} {usage.ru_maxrss}", flush=True)
    return 0


# ---------------------------------------------------------------- reading the results


class TopicReader(threading.Thread):
    """Reads a topic from its start in the background, keeping what `keep(key, ts, value)`
    returns (None: skip)."""

    def __init__(self, bootstrap: str, topic: str, keep) -> None:
        super().__init__(daemon=True, name=f"read-{topic}")
        self.bootstrap, self.topic, self.keep = bootstrap, topic, keep
        self.items: dict = {}
        self.count = 0
        self._stop_event = threading.Event()
        self.error: str | None = None

    def run(self) -> None:
        from kafka import TopicPartition

        from streams.clients import kafka_consumer

        try:
            consumer = kafka_consumer(bootstrap=self.bootstrap, enable_auto_commit=False,
                                      max_partition_fetch_bytes=16 * 1024 * 1024,
                                      fetch_max_bytes=64 * 1024 * 1024)
            tps = [TopicPartition(self.topic, p)
                   for p in sorted(consumer.partitions_for_topic(self.topic) or ())]
            consumer.assign(tps)
            consumer.seek_to_beginning(*tps)
            while not self._stop_event.is_set():
                for batch in consumer.poll(timeout_ms=300, max_records=5000).values():
                    for m in batch:
                        kept = self.keep(m.key, m.timestamp / 1000.0, m.value)
                        if kept is not None:
                            self.items[kept[0]] = kept[1]
                        self.count += 1
            consumer.close()
        except Exception as exc:  # noqa: BLE001 - reported by the caller
            self.error = f"{type(exc).__name__}: {exc}"

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=10)


_INGESTED_AT = re.compile(rb'"ingested_at":(-?[0-9.eE+-]+|null)')


def _keep_scored(key: bytes | None, ts: float, value: bytes):
    """ad id → (ingested_at, scored record's timestamp, alert flag), without parsing the whole
    record: the worker writes compact JSON, and this reader shares the box with the worker."""
    found = _INGESTED_AT.search(value)
    ingested = float(found.group(1)) if found and found.group(1) != b"null" else None
    if key is None:
        record = json.loads(value)
        return record["ad_id"], (ingested, ts, bool(record.get("alert")))
    return key.decode(), (ingested, ts, b'"alert":true' in value)


def _keep_alert(key: bytes | None, ts: float, value: bytes):
    record = json.loads(value)
    return record["alert_id"], (record["ad_id"], record.get("ingested_at"), ts)


def _keep_dlq(key: bytes | None, ts: float, value: bytes):
    record = json.loads(value)
    return f"{ts}:{record.get('ad_id')}", (record.get("ad_id"), record.get("error_code"))


class SinkFile:
    """The webhook sink's JSON lines, read as they grow: alert id → first verified arrival."""

    def __init__(self, path: Path) -> None:
        self.path, self.offset = path, 0
        self.arrivals: dict[str, float] = {}
        self.notifications = 0
        self.unverified = 0

    def poll(self) -> dict[str, float]:
        if not self.path.exists():
            return self.arrivals
        with open(self.path, "rb") as fh:
            fh.seek(self.offset)
            chunk = fh.read()
        end = chunk.rfind(b"\n") + 1
        self.offset += end
        for line in chunk[:end].splitlines():
            record = json.loads(line)
            if not record.get("verified"):
                self.unverified += 1
                continue
            self.notifications += 1
            payload = record.get("payload") or {}
            for alert_id in payload.get("grouped_alert_ids") or [payload.get("alert_id")]:
                self.arrivals.setdefault(alert_id, record["received_at"])
        return self.arrivals


def _group_state(admin, group: str) -> tuple[str, int]:
    try:
        info = admin.describe_groups([group]).get(group) or {}
    except Exception:  # noqa: BLE001 - no coordinator yet (a fresh broker): not joined yet
        return "", 0
    return info.get("group_state") or info.get("state") or "", len(info.get("members") or ())


def _lag(admin, consumer, group: str, topic: str) -> int | None:
    from kafka import TopicPartition

    from streams.broker.lag import lag_by_partition

    try:
        offsets = admin.list_group_offsets({group: None}).get(group) or {}
        committed = {tp: m.offset for tp, m in offsets.items() if m.offset is not None and m.offset >= 0}
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        return sum(lag_by_partition(consumer.end_offsets(tps), committed,
                                    consumer.beginning_offsets(tps)).values())
    except Exception:  # noqa: BLE001 - a sample is skipped, the run goes on
        return None


# ---------------------------------------------------------------- one streaming run


@dataclass
class RunSpec:
    workers: int
    ads_file: Path
    warm_file: Path
    n: int
    warm_ids: set[str]
    ad_ids: set[str]
    rate: float | None
    partitions: int
    group_interval_s: float
    timeout_s: float
    soak_warmup_s: float | None = None


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _wait(what: str, check, timeout_s: float, procs: list[Proc], tmp: Path) -> None:
    """Poll `check()` until true; fail with the dead process's log tail, or after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not check():
        for p in procs:
            if p.popen is not None and p.popen.poll() is not None:
                raise CliError(f"{p.name} exited with {p.popen.returncode} while waiting for "
                               f"{what}; its log ends:\n{_tail(tmp / (p.name + '.log'))}")
        if time.monotonic() > deadline:
            raise CliError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(0.2)


def stream_run(spec: RunSpec, tmp: Path) -> dict:
    """Start the services for one run, push warm-up then measured ads, collect the figures."""
    from streams.broker.topics import delete_prefixed_topics, ensure_topics
    from streams.clients import kafka_admin, kafka_consumer, redis_client
    from streams.config import app_id_for, load_settings, redis_prefix
    from streams.dispatch.webhooks import new_secret

    prefix = f"benchp{uuid.uuid4().hex[:8]}w{spec.workers}."
    env = {**os.environ, "VIGIL_TOPIC_PREFIX": prefix, "VIGIL_PARTITIONS": str(spec.partitions),
           SECRET_ENV: new_secret(), "PYTHONUNBUFFERED": "1"}
    os.environ["VIGIL_TOPIC_PREFIX"] = prefix
    os.environ["VIGIL_PARTITIONS"] = str(spec.partitions)
    settings = load_settings()
    topics = settings.topics
    group = app_id_for(settings)
    ensure_topics(settings)
    run_dir = tmp / f"w{spec.workers}"
    run_dir.mkdir()
    procs: list[Proc] = []
    readers: list[TopicReader] = []
    admin = kafka_admin(settings, request_timeout_ms=10000)
    probe = kafka_consumer(settings=settings, enable_auto_commit=False)
    redis_probe = redis_client(settings)
    with contextlib.suppress(Exception):
        # Redis's memory figures are the whole server's: say what it held before this run
        _log(f"Redis holds {redis_probe.dbsize()} keys ({_redis_used_mib(redis_probe)} MiB) before "
             "this run; its memory figures include them (a soak's drift is fairest on an empty one)")
    try:
        sink_out = run_dir / "received.jsonl"
        sink = _spawn(["streams.cli", "webhook-sink", "--port", "0", "--secret-env", SECRET_ENV,
                       "--out", str(sink_out), "--quiet"], env, run_dir / "webhook-sink.log",
                      stdout=subprocess.PIPE, text=True)
        procs.append(Proc("webhook-sink", "webhook sink", sink.pid, sink))
        line = sink.stdout.readline()
        if "listening on" not in line:
            raise CliError(f"the webhook sink did not start: {_tail(run_dir / 'webhook-sink.log')}")
        url = line.split("listening on ", 1)[1].strip() + "hook"
        config = run_dir / "dispatch.yaml"
        config.write_text(
            f"group_wait_s: 0\ngroup_interval_s: {spec.group_interval_s:g}\n"
            "max_inflight: 100000\ndestinations:\n"
            f"  - {{name: bench, url: '{url}', secret_env: {SECRET_ENV}, min_severity: low, "
            "rate_per_s: 100000, concurrency: 16, max_queue: 100000}\n")
        dispatcher = _spawn(["streams.cli", "dispatch", "--config", str(config), "--metrics-port",
                             "0"], env, run_dir / "dispatcher.log")
        procs.append(Proc("dispatcher", "dispatcher", dispatcher.pid, dispatcher))
        for i in range(spec.workers):
            w = _spawn(["streams.cli", "worker", "--metrics-port", "0"], env,
                       run_dir / f"worker{i}.log")
            procs.append(Proc(f"worker{i}", "worker", w.pid, w))
        _log(f"{spec.workers} worker(s) starting on {spec.partitions} partitions (prefix {prefix})")
        _wait(f"{spec.workers} worker(s) to join group {group}",
              lambda: _group_state(admin, group) == ("Stable", spec.workers), 180, procs, run_dir)

        scored = TopicReader(settings.kafka_bootstrap, topics.scored, _keep_scored)
        alerts = TopicReader(settings.kafka_bootstrap, topics.alerts, _keep_alert)
        dlq = TopicReader(settings.kafka_bootstrap, topics.dlq, _keep_dlq)
        readers = [scored, alerts, dlq]
        for r in readers:
            r.start()
        sink_file = SinkFile(sink_out)

        def delivered_all(ids: set[str]) -> bool:
            arrivals = sink_file.poll()
            wanted = {a for a, (ad_id, *_rest) in list(alerts.items.items()) if ad_id in ids}
            return wanted <= arrivals.keys()

        def done(ids: set[str]) -> bool:
            seen = scored.items.keys() | {ad for ad, _ in list(dlq.items.values())}
            return ids <= seen and delivered_all(ids)

        def settled(ids: set[str]) -> bool:
            """done twice, a moment apart: an alert is produced just after its scored record."""
            if not done(ids):
                return False
            time.sleep(1.5)
            return done(ids)

        # warm-up: group joined, model loaded, dispatcher delivering
        warm = _spawn(["streams.bench.pipeline", "produce", str(spec.warm_file), topics.raw, "0"],
                      env, run_dir / "producer-warm.log")
        _wait("the warm-up ads to be scored and their alerts delivered",
              lambda: settled(spec.warm_ids), 300, procs, run_dir)
        warm.wait()
        for p in procs:
            p.mark()
        stack = [Proc(name, name, pid) for name, pid in _stack_pids(settings).items()]
        for p in stack:
            p.mark()
        _log(f"warm-up done; producing {spec.n} ads "
             + (f"at {spec.rate:g}/s" if spec.rate else "as fast as the producer goes"))

        producer = _spawn(["streams.bench.pipeline", "produce", str(spec.ads_file), topics.raw,
                           str(spec.rate or 0)], env, run_dir / "producer.log",
                          stdout=subprocess.PIPE, text=True)
        prod = Proc("producer", "producer", producer.pid, producer)
        procs.append(prod)
        sent = [0]

        def read_producer() -> None:
            for out_line in producer.stdout:
                if out_line.startswith("sent "):
                    sent[0] = int(out_line.split()[1])
                elif out_line.startswith("start "):
                    prod.cpu_at_start = float(out_line.split()[1])
                elif out_line.startswith("stats "):
                    cpu_s, maxrss = out_line.split()[1:3]
                    prod.last = {**prod.last, "cpu_s": float(cpu_s), "VmHWM": int(maxrss)}
                    prod.final = True

        threading.Thread(target=read_producer, daemon=True).start()
        samples: list[dict] = []
        started = time.monotonic()

        def sample() -> None:
            workers = [p for p in procs if p.stage == "worker"]
            n_scored = scored.count  # warm-up records included: a progress figure
            rss = [round(w.read().get("VmRSS", 0) / 1024, 1) for w in workers]
            entry = {"t_s": round(time.monotonic() - started, 1), "sent": sent[0],
                     "scored": n_scored, "backlog": max(0, sent[0] + len(spec.warm_ids) - n_scored),
                     "lag": _lag(admin, probe, group, topics.raw),
                     "worker_rss_mib": rss, "worker_rss_total_mib": round(sum(rss), 1),
                     "redis_used_mib": _redis_used_mib(redis_probe),
                     "load1": round(os.getloadavg()[0], 2)}
            for p in procs + stack:
                p.read()
            sink_file.poll()
            samples.append(entry)
            _log(f"sent {entry['sent']}/{spec.n}, scored {entry['scored']}, backlog {entry['backlog']}, "
                 f"committed lag {entry['lag']}, "
                 f"alerts delivered {len(sink_file.arrivals)}, worker RSS {entry['worker_rss_mib']} MiB, "
                 f"Redis {entry['redis_used_mib']} MiB, load {entry['load1']}")

        last_progress, last_count = time.monotonic(), -1
        while not settled(spec.ad_ids):
            for p in procs:
                if p.popen is not None and p.popen is not producer and p.popen.poll() is not None:
                    raise CliError(f"{p.name} exited with {p.popen.returncode} during the run; "
                                   f"its log ends:\n{_tail(run_dir / (p.name + '.log'))}")
            count = scored.count + len(sink_file.arrivals)
            if count != last_count:
                last_count, last_progress = count, time.monotonic()
            if time.monotonic() - last_progress > STALL_S or time.monotonic() - started > spec.timeout_s:
                _log("no progress (or over the time limit): reporting what arrived")
                break
            if not samples or time.monotonic() - started >= samples[-1]["t_s"] + SAMPLE_EVERY_S:
                sample()
            time.sleep(0.2)
        sample()
        producer.wait(timeout=60)
        for p in procs + stack:
            p.read()
        time.sleep(0.2)  # the producer's last line
        for r in readers:
            r.stop()
            if r.error:
                raise CliError(f"reading {r.topic} failed: {r.error}")
        arrivals = sink_file.poll()
        summary = _summarise_run(spec, procs, stack, scored.items, alerts.items, dlq.items, arrivals,
                                 samples, sink_file)
        summary["redis_bytes_per_ad"] = redis_bytes_per_ad(redis_probe, redis_prefix(settings),
                                                           len(spec.ad_ids) + len(spec.warm_ids))
        if spec.soak_warmup_s is not None:
            summary["soak"] = soak_summary(samples, spec.soak_warmup_s)
        return summary
    finally:
        for r in readers:
            r._stop_event.set()
        for p in reversed(procs):
            if p.popen is not None:
                stop_process_group(p.popen)
        probe.close()
        admin.close()
        redis_probe.close()
        with contextlib.suppress(Exception):
            # the run's topics
            delete_prefixed_topics(settings.kafka_bootstrap, prefix, group + "-")
        _clear_redis(settings, prefix)


def _redis_used_mib(client) -> float | None:
    try:
        return round(int(client.info("memory")["used_memory"]) / 2**20, 1)
    except Exception:  # noqa: BLE001 - a sample is skipped, the run goes on
        return None


# the worker's key families under the run's prefix (docs/architecture.md, "Where state lives")
KEY_FAMILIES = ("seen:", "result:", "id:", "uf:", "tpl:", "suppress:")


def redis_bytes_per_ad(client, prefix: str, ads: int) -> dict[str, float]:
    """MEMORY USAGE of the run's keys, summed per family and divided by the ads sent (bytes)."""
    totals = dict.fromkeys(KEY_FAMILIES, 0)
    keys = [k.decode() for k in client.scan_iter(match=f"{prefix}*", count=5000)]
    for i in range(0, len(keys), 1000):
        chunk = keys[i:i + 1000]
        pipe = client.pipeline(transaction=False)
        for key in chunk:
            pipe.memory_usage(key, samples=0)
        for key, used in zip(chunk, pipe.execute(), strict=True):
            family = next((f for f in KEY_FAMILIES if key[len(prefix):].startswith(f)), None)
            if family is not None and used:
                totals[family] += used
    out = {family.rstrip(":"): round(total / ads, 1) for family, total in totals.items()} if ads else {}
    out["keys"] = len(keys)
    return out


def _clear_redis(settings, prefix: str) -> None:
    """Drop this run's Redis keys (link state, templates, suppression, delivery marks)."""
    from streams.clients import redis_client
    from streams.config import redis_prefix

    with contextlib.suppress(Exception):
        client = redis_client(settings)
        for pattern in (f"{redis_prefix(settings)}*", f"*{prefix}*"):
            keys = list(client.scan_iter(match=pattern, count=5000))
            for i in range(0, len(keys), 1000):
                client.delete(*keys[i:i + 1000])


def _summarise_run(spec: RunSpec, procs: list[Proc], stack: list[Proc], scored: dict, alerts: dict,
                   dlq: dict, arrivals: dict, samples: list[dict], sink_file: SinkFile) -> dict:
    measured = {ad: v for ad, v in scored.items() if ad in spec.ad_ids}
    ingests = [v[0] for v in measured.values() if v[0] is not None]
    scored_ts = [v[1] for v in measured.values()]
    to_scored = [ts - ing for ing, ts, _ in measured.values() if ing is not None]
    run_alerts = {a: v for a, v in alerts.items() if v[0] in spec.ad_ids}
    to_webhook = [arrivals[a] - ing for a, (_, ing, _) in run_alerts.items()
                  if a in arrivals and ing is not None]
    elapsed = (max(scored_ts) - min(ingests)) if ingests and scored_ts else None
    n_scored = len(measured)
    per_proc = []
    for p in procs + stack:
        cpu = p.last.get("cpu_s", p.cpu_at_start) - p.cpu_at_start
        per_proc.append({"process": p.name, "stage": p.stage, "cpu_s": round(cpu, 3),
                         "cpu_s_per_1000_ads": per_thousand(cpu, n_scored),
                         "peak_rss_mib": round(p.last.get("VmHWM", 0) / 1024, 1),
                         "rss_end_mib": round(p.last.get("VmRSS", 0) / 1024, 1)})
    stages: dict[str, float] = {}
    for row in per_proc:
        stages[row["stage"]] = stages.get(row["stage"], 0.0) + row["cpu_s"]
    dlq_measured = [v for v in dlq.values() if v[0] in spec.ad_ids]
    return {
        "workers": spec.workers,
        "ads": spec.n,
        "scored": n_scored,
        "missing": len(spec.ad_ids - measured.keys() - {v[0] for v in dlq_measured}),
        "dead_lettered": len(dlq_measured),
        "dead_letter_codes": sorted({v[1] for v in dlq_measured}),
        "alert_flagged_ads": sum(1 for v in measured.values() if v[2]),
        "alerts": len(run_alerts),
        "alerts_delivered": sum(1 for a in run_alerts if a in arrivals),
        "notifications": sink_file.notifications,
        "unverified_webhooks": sink_file.unverified,
        "elapsed_s": elapsed,
        "throughput_ads_per_s": n_scored / elapsed if elapsed else None,
        "ingest_to_scored_s": percentiles(to_scored),
        "ingest_to_webhook_s": percentiles(to_webhook),
        "processes": per_proc,
        "cpu_s_per_1000_ads_by_stage": {k: per_thousand(v, n_scored) for k, v in stages.items()},
        "samples": samples,
    }


# ---------------------------------------------------------------- the batch path

BATCH_ADS_IN_SOAK = 20_000  # a soak's baseline: the batch path's rate needs no more


def batch_run(warm_file: Path, ads_file: Path, ad_ids: set[str], model_path: str | None,
              limit: int | None = None) -> dict:
    """`vigil score` in this process on the warm-up then the measured ads (in-memory state);
    with `limit`, on the first `limit` measured ads only (a soak's baseline rate)."""
    from streams.jsonlines import read_lines
    from streams.scoring.batch import score_lines
    from streams.scoring.runtime import batch_pipeline

    pipeline = batch_pipeline(model_path=model_path, allow_files=False)

    def lines() -> Iterator[bytes]:
        for path in (warm_file, ads_file):
            with open(path, "rb") as fh:
                yield from read_lines(fh)

    counts = {"scored": 0, "dead_lettered": 0, "alert_flagged_ads": 0, "alerts": 0}
    wall, cpu, last_report = 0.0, 0.0, time.monotonic()
    it = score_lines(lines(), pipeline)
    while True:
        w0, c0 = time.perf_counter(), time.process_time()
        item = next(it, None)
        if item is None or (limit is not None and counts["scored"] + counts["dead_lettered"] >= limit):
            break
        kind, record = item
        if record.get("ad_id") not in ad_ids:  # the warm-up ads are scored, not timed
            continue
        wall += time.perf_counter() - w0
        cpu += time.process_time() - c0
        if kind == "dead_letter":
            counts["dead_lettered"] += 1
            continue
        counts["scored"] += 1
        counts["alert_flagged_ads"] += bool(record["alert"])
        counts["alerts"] += record["alert_id"] is not None
        if time.monotonic() - last_report >= 10:
            last_report = time.monotonic()
            _log(f"batch: {counts['scored']}/{len(ad_ids)} scored")
    n = counts["scored"]
    return {**counts, "wall_s": wall, "cpu_s": cpu, "throughput_ads_per_s": n / wall if wall else None,
            "cpu_s_per_1000_ads": per_thousand(cpu, n)}


# ---------------------------------------------------------------- the command


def _write_ads(path: Path, lines: Iterator[bytes]) -> set[str]:
    ids = set()
    with open(path, "wb") as fh:
        for line in lines:
            fh.write(line + b"\n")
            ids.add(json.loads(line)["ad_id"])
    return ids


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run_bench(args) -> int:
    from streams.config import load_settings
    from streams.stack.launcher import services

    # a TERM (e.g. `timeout`, a CI's cancel) unwinds like Ctrl-C: the run's processes and
    # topics are cleaned up by the `finally` blocks instead of left running
    signal.signal(signal.SIGTERM, _raise_interrupt)
    workers = _parse_workers(args.workers)
    if args.quick:
        workers, n = [1], args.ads or 300
    elif args.soak_minutes or args.duration:
        if not args.rate:
            raise CliError("--soak-minutes/--duration need --rate (a soak holds a steady rate; "
                           "issue 16 asks for half the measured maximum)")
        args.duration = args.duration or args.soak_minutes * 60
        n = int(args.rate * args.duration)
    else:
        n = args.ads or (20_000 if args.mix == "text" else 3_000)
    if n <= 0:
        raise CliError("nothing to send: --ads (or --rate x --duration) must be positive")
    partitions = args.partitions or (8 if max(workers) > 1 else 4)
    load_start = os.getloadavg()
    _log(f"pipeline benchmark: {n} {args.mix} ads, workers {workers}, {partitions} partitions, "
         f"load average {load_start[0]:.2f} {load_start[1]:.2f} {load_start[2]:.2f} "
         f"on {os.cpu_count()} cores")
    settings = load_settings()
    # the broker and Redis only if they are not up; stopped again at the end if this run started them
    with services(settings, kafka=True, redis=True):
        stack_dir = settings.stack_dir
        stack_dir.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%S")
        out_path = Path(args.out) if args.out else stack_dir / "bench" / f"pipeline-{args.mix}-{stamp}.json"
        out_path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="bench-pipeline-", dir=stack_dir) as tmp_name:
            tmp = Path(tmp_name)
            _log("generating ads")
            ads_file, warm_file = tmp / "ads.jsonl", tmp / "warm.jsonl"
            ad_ids = _write_ads(ads_file, bench_ads(n, args.seed, args.mix,
                                                    chunk=BATCH_ADS_IN_SOAK if args.duration else None))
            warm_ids = _write_ads(warm_file, bench_ads(WARMUP_ADS, args.seed + WARMUP_SEED_OFFSET,
                                                       args.mix, id_prefix="warm-"))
            size_mib = ads_file.stat().st_size / 2**20
            _log(f"{n} ads, {size_mib:.1f} MiB ({size_mib * 1024 / n:.1f} KiB per ad)")
            _log("batch path (vigil score, in process)")
            limit = args.batch_ads or (BATCH_ADS_IN_SOAK if args.duration else None)
            batch = batch_run(warm_file, ads_file, ad_ids, args.model, limit=limit if limit and limit < n else None)
            _log(f"batch: {batch['throughput_ads_per_s']:,.0f} ads/s, "
                 f"{batch['cpu_s_per_1000_ads']:.2f} CPU s per 1,000 ads")
            runs = []
            for w in workers:
                spec = RunSpec(workers=w, ads_file=ads_file, warm_file=warm_file, n=n,
                               warm_ids=warm_ids, ad_ids=ad_ids, rate=args.rate, partitions=partitions,
                               group_interval_s=args.group_interval,
                               timeout_s=args.timeout or max(600.0, 3 * (args.duration or 0) + 300),
                               soak_warmup_s=min(120.0, args.duration / 5) if args.duration else None)
                runs.append(stream_run(spec, tmp))
                if args.keep_logs:
                    keep = out_path.with_suffix("") / f"w{w}"
                    keep.mkdir(parents=True, exist_ok=True)
                    for log_file in (tmp / f"w{w}").glob("*.log"):
                        log_file.replace(keep / log_file.name)
        result = _result(args, n, partitions, workers, batch, runs, load_start)
        out_path.write_text(json.dumps(result, indent=2) + "\n")
        print_report(result)
        print(f"results: {out_path}")
        ok = all(r["missing"] == 0 and r["alerts_delivered"] == r["alerts"] for r in runs)
        return 0 if ok else 1


def _result(args, n, partitions, workers, batch, runs, load_start) -> dict:
    one = next((r for r in runs if r["workers"] == 1), None)
    two = next((r for r in runs if r["workers"] == 2), None)
    ratio = {}
    if one and one["throughput_ads_per_s"] and batch["throughput_ads_per_s"]:
        worker_cpu = one["cpu_s_per_1000_ads_by_stage"].get("worker")
        ratio = {"throughput": one["throughput_ads_per_s"] / batch["throughput_ads_per_s"],
                 "cpu": (batch["cpu_s_per_1000_ads"] / worker_cpu) if worker_cpu else None,
                 "worker_cpu_over_batch": (worker_cpu / batch["cpu_s_per_1000_ads"])
                 if worker_cpu and batch["cpu_s_per_1000_ads"] else None}
    scaling = {}
    if one and two and one["throughput_ads_per_s"] and two["throughput_ads_per_s"]:
        c1 = one["cpu_s_per_1000_ads_by_stage"].get("worker")
        c2 = two["cpu_s_per_1000_ads_by_stage"].get("worker")
        scaling = {"throughput_ratio": two["throughput_ads_per_s"] / one["throughput_ads_per_s"],
                   "worker_cpu_per_ad_ratio": (c2 / c1) if c1 and c2 else None}
    result = {
        "benchmark": "pipeline", "mix": args.mix, "ads": n, "seed": args.seed,
        "rate": args.rate, "duration_s": args.duration, "partitions": partitions,
        "workers": workers, "group_interval_s": args.group_interval, "quick": bool(args.quick),
        "cores": os.cpu_count(), "load_start": list(load_start), "load_end": list(os.getloadavg()),
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "batch": batch, "runs": runs, "stream_over_batch": ratio, "scaling": scaling,
    }
    result["targets"] = targets_table(result)
    return result


def _fmt(v, spec: str = ".2f") -> str:
    return "-" if v is None else format(v, spec)


def print_report(result: dict) -> None:
    b = result["batch"]
    print(f"\npipeline benchmark: {result['ads']} {result['mix']} ads, "
          + (f"rate {result['rate']:g}/s" if result["rate"] else "unpaced")
          + f", {result['partitions']} partitions; load {result['load_start'][0]:.2f} -> "
          f"{result['load_end'][0]:.2f} on {result['cores']} cores")
    head = f"{'':<22}{'ads/s':>9}{'scored':>8}{'alerts':>8}{'deliv.':>8}"
    lat = "".join(f"{k:>8}" for k in ("p50", "p95", "p99", "max"))
    print(head + "   ingest->scored s" + " " * 16 + "ingest->webhook s")
    print(f"{'':<55}{lat}{lat}")
    print(f"{'batch (vigil score)':<22}{_fmt(b['throughput_ads_per_s'], ',.0f'):>9}{b['scored']:>8}"
          f"{b['alerts']:>8}{'-':>8}")
    for r in result["runs"]:
        s, w = r["ingest_to_scored_s"], r["ingest_to_webhook_s"]
        print(f"{'stream, ' + str(r['workers']) + ' worker(s)':<22}"
              f"{_fmt(r['throughput_ads_per_s'], ',.0f'):>9}{r['scored']:>8}{r['alerts']:>8}"
              f"{r['alerts_delivered']:>8}"
              + "".join(f"{_fmt(s.get(k)):>8}" for k in ("p50", "p95", "p99", "max"))
              + "".join(f"{_fmt(w.get(k)):>8}" for k in ("p50", "p95", "p99", "max")))
    print("\nCPU seconds per 1,000 ads (peak RSS MiB)")
    print(f"{'batch (this process)':<22}{_fmt(b['cpu_s_per_1000_ads']):>8}")
    for r in result["runs"]:
        cells = ", ".join(f"{p['process']} {_fmt(p['cpu_s_per_1000_ads'])} ({p['peak_rss_mib']:.0f})"
                          for p in r["processes"])
        print(f"{str(r['workers']) + ' worker(s)':<22}{cells}")
    sb, sc = result["stream_over_batch"], result["scaling"]
    if sb:
        capped = " (paced: the stream's ads/s is capped by --rate)" if result["rate"] else ""
        print(f"\nstreaming / batch: throughput {sb['throughput']:.0%}{capped}, "
              f"ads per CPU second (worker vs batch) {_fmt(sb['cpu'], '.0%')}")
    if sc:
        print(f"two workers / one: throughput {sc['throughput_ratio']:.2f}x, "
              f"worker CPU per ad {_fmt(sc['worker_cpu_per_ad_ratio'])}x")
    for r in result["runs"]:
        if b["scored"] + b["dead_lettered"] < result["ads"]:
            print(f"{r['workers']} worker(s): {r['missing']} ads missing, {r['dead_lettered']} dead-lettered "
                  f"(the batch path scored the first {b['scored']:,} ads only: its alert counts are not "
                  "comparable)")
        elif r["missing"] or r["alerts"] != b["alerts"] or r["alert_flagged_ads"] != b["alert_flagged_ads"]:
            print(f"{r['workers']} worker(s): {r['missing']} ads missing, {r['dead_lettered']} dead-lettered; "
                  f"alerts {r['alerts']} (batch {b['alerts']}), ads over the alert threshold "
                  f"{r['alert_flagged_ads']} (batch {b['alert_flagged_ads']})")
    for r in result["runs"]:
        per_ad = r.get("redis_bytes_per_ad") or {}
        if per_ad:
            cells = ", ".join(f"{k} {v:,.0f}" for k, v in per_ad.items() if k != "keys")
            print(f"Redis bytes per ad ({r['workers']} worker(s), {per_ad['keys']} keys): {cells}")
    if result["duration_s"]:
        for r in result["runs"]:
            soak = r.get("soak") or {}
            if not soak:
                continue
            print(f"soak, {r['workers']} worker(s), from {soak['from_t_s']:.0f} s to {soak['to_t_s']:.0f} s: "
                  f"worker RSS {soak['worker_rss_mib'][0]} -> {soak['worker_rss_mib'][1]} MiB "
                  f"({_fmt(soak['worker_rss_drift'], '+.1%')}), Redis {soak['redis_memory_mib'][0]} -> "
                  f"{soak['redis_memory_mib'][1]} MiB ({_fmt(soak['redis_memory_drift'], '+.1%')}), "
                  f"lag max {soak['lag_max_first_half']} (first half) / {soak['lag_max_second_half']} (second)")
    print("\ntargets (issues 8 and 16), not asserted:")
    for t in result["targets"]:
        print(f"  {t['target']:<46}{t['wanted']:>10}  {t['measured_text']:<46}{t['verdict']}")


def _parse_workers(text: str) -> list[int]:
    try:
        workers = [int(w) for w in text.split(",") if w.strip()]
    except ValueError as exc:
        raise CliError(f"--workers wants numbers like 1,2, not {text!r}") from exc
    if not workers or any(w < 1 or w > 8 for w in workers):
        raise CliError("--workers: each count must be between 1 and 8")
    return workers


def register_bench(subparsers) -> None:
    p = subparsers.add_parser("pipeline", help="the real stack end to end, beside the batch path")
    p.add_argument("--mix", choices=("text", "images"), default="text",
                   help="text: no images; images: 1-4 photos per ad")
    p.add_argument("--workers", default="1", help="worker counts to run in turn, e.g. 1,2")
    p.add_argument("--ads", type=int, default=0,
                   help="ads to send (default 20,000 text, 3,000 with images; 300 with --quick)")
    p.add_argument("--rate", type=float, default=None, help="ads per second (default: unpaced)")
    p.add_argument("--duration", type=float, default=None,
                   help="soak: hold --rate for this many seconds (sets --ads)")
    p.add_argument("--batch-ads", type=int, default=None,
                   help=f"score only the first N ads with the batch path, for its rate (default: all; "
                        f"{BATCH_ADS_IN_SOAK:,} in a soak)")
    p.add_argument("--soak-minutes", type=float, default=None,
                   help="soak: hold --rate for this many minutes; reports worker RSS, Redis memory "
                        "and lag after warm-up against the end")
    p.add_argument("--partitions", type=int, default=0,
                   help="partitions per topic (default 4, 8 with more than one worker)")
    p.add_argument("--group-interval", type=float, default=0.0,
                   help="dispatcher group_interval_s (default 0: no folding hold-back)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--model", default=None, help="text model file (default .stack/models/...)")
    p.add_argument("--timeout", type=float, default=None, help="give up a run after this long")
    p.add_argument("--quick", action="store_true", help="a few hundred ads, one worker")
    p.add_argument("--out", default=None, help="results JSON (default .stack/bench/pipeline-*.json)")
    p.add_argument("--keep-logs", action="store_true", help="keep the processes' logs beside --out")
    p.set_defaults(func=run_bench)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "produce":
        sys.exit(produce_main(sys.argv[2:]))
    sys.exit("usage: python -m streams.bench.pipeline produce FILE TOPIC RATE")
