"""What every fault test shares: a corpus, its clean reference, real worker processes, and the
full accounting at the end.

The reference is the batch path (`streams.scoring.batch.score_lines` over `batch_pipeline`) on the same
bytes in the same order. With one partition the stream sees the ads in that order too, so
every scored ad must equal its reference (risk, severity, reasons), the alert ids must be the
same, and the link state in Redis (per-identifier ad counts, clusters) must equal the batch
path's in-memory link store. With several partitions the order across partitions is not fixed,
so only the order-free parts are compared (see `assert_link_state`).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import redis

from streams.broker.kafkaio import produce
from streams.config import load_settings, redis_prefix
from streams.evaluation.generate import generate_ads
from streams.processes import stop_process_group
from streams.scoring.batch import score_lines
from streams.scoring.runtime import batch_pipeline

REPO = Path(__file__).resolve().parents[2]
N_ADS = 300
SEED = 7
# a slowed worker: 300 ads take it >= 18 s, in batches of 20 (progress shows batch by batch),
# so a fault a few seconds in lands mid-stream
SLOW_WORKER = {"VIGIL_TEST_SCORE_DELAY_MS": "60", "VIGIL_BATCH_MAX": "20"}


def make_corpus(n: int = N_ADS, seed: int = SEED) -> list[tuple[str, bytes]]:
    """(ad_id, raw bytes) of `n` synthetic ads in time order, organisations planted."""
    return [(ad["ad_id"], json.dumps(ad).encode())
            for ad in generate_ads(n, seed=seed, difficulty="easy", images=True)]


@dataclass
class Reference:
    """The batch path's answer for a corpus: scored records by ad id, and its link store."""

    scored: dict[str, dict]
    link_store: object
    templates: object

    @property
    def alert_ids(self) -> set[str]:
        return {r["alert_id"] for r in self.scored.values() if r.get("alert_id")}


def reference_run(corpus: list[tuple[str, bytes]]) -> Reference:
    pipeline = batch_pipeline(allow_files=False)
    scored = {}
    for kind, record in score_lines([raw for _, raw in corpus], pipeline):
        assert kind == "scored", record
        # through JSON, as the stream's records are (tuples become lists)
        scored[record["ad_id"]] = json.loads(json.dumps(record, default=str))
    return Reference(scored, pipeline.link_store, pipeline.templates.store)


def produce_corpus(corpus: list[tuple[str, bytes]], topic: str | None = None) -> None:
    settings = load_settings()
    produce(settings.kafka_bootstrap, topic or settings.topics.raw,
            [(ad_id.encode(), raw) for ad_id, raw in corpus])


# ---------------------------------------------------------------- processes


@dataclass
class Proc:
    name: str
    proc: subprocess.Popen
    log: Path

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:]

    def died(self) -> str | None:
        if self.proc.poll() is None:
            return None
        return f"{self.name} exited with {self.proc.returncode}: {self.tail()}"

    def kill(self) -> None:
        """SIGKILL the whole process group: no shutdown, no commit, no flush."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        stop_process_group(self.proc)


@dataclass
class Processes:
    """Every process a test started; all stopped at the end, whatever happened."""

    tmp: Path
    started: list[Proc] = field(default_factory=list)

    def vigil(self, name: str, args: list[str], env: dict[str, str] | None = None) -> Proc:
        log = self.tmp / f"{name}.log"
        full_env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
        with open(log, "ab") as out:
            proc = subprocess.Popen([sys.executable, "-m", "streams.cli", *args], cwd=REPO,
                                    env=full_env, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        p = Proc(name, proc, log)
        self.started.append(p)
        return p

    def worker(self, name: str, env: dict[str, str] | None = None, *,
               slow: bool = True) -> Proc:
        """`vigil worker`, no metrics port. `slow` spaces its ads out (SLOW_WORKER) so a fault
        started a few seconds into the corpus lands while ads are still unscored; the tests
        check that it did."""
        slow_env = SLOW_WORKER if slow else {}
        return self.vigil(name, ["worker", "--metrics-port", "0"], {**slow_env, **(env or {})})

    def abort_if_any_died(self, *procs: Proc):
        def check() -> str | None:
            for p in procs:
                if (why := p.died()):
                    return why
            return None
        return check

    def stop_all(self) -> None:
        for p in reversed(self.started):
            p.stop()


# ---------------------------------------------------------------- reading the outcome


def distinct_ids(records: list[dict]) -> set[str]:
    return {r.get("ad_id") for r in records}


def wait_scored(count: int, *, abort_if=None, timeout_s: float = 180) -> list[dict]:
    """ads.scored once it holds at least `count` distinct ad ids (read to its end offsets every
    quarter second: no consumer group to join, so the wait ends close to the moment)."""
    settings = load_settings()
    deadline = time.monotonic() + timeout_s
    while True:
        records = read_to_end(settings.topics.scored)
        if len(distinct_ids(records)) >= count:
            return records
        if abort_if is not None and (why := abort_if()):
            raise RuntimeError(why)
        if time.monotonic() > deadline:
            raise AssertionError(f"fewer than {count} ads scored after {timeout_s:.0f} s")
        time.sleep(0.25)


def end_offsets(topic: str) -> dict[int, int]:
    """partition → end offset of `topic` now."""
    from kafka import TopicPartition

    from streams.clients import kafka_consumer

    consumer = kafka_consumer(enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        return {tp.partition: offset for tp, offset in consumer.end_offsets(tps).items()}
    finally:
        consumer.close()


def read_to_end(topic: str, ends: dict[int, int] | None = None) -> list[dict]:
    """Every record of `topic` up to `ends` (partition → offset; default: the end offsets now),
    with its Kafka timestamp in `_ts` (seconds): the whole topic as it stood, late duplicates
    and extra alerts included, never just until an expected set has been seen."""
    from kafka import TopicPartition

    from streams.clients import kafka_consumer

    ends = end_offsets(topic) if ends is None else ends
    consumer = kafka_consumer(enable_auto_commit=False, max_partition_fetch_bytes=16 * 1024 * 1024)
    records: list[dict] = []
    try:
        tps = [TopicPartition(topic, p) for p in sorted(ends) if ends[p] > 0]
        if not tps:
            return records
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        deadline = time.monotonic() + 120
        while any(consumer.position(tp) < ends[tp.partition] for tp in tps):
            assert time.monotonic() < deadline, f"could not read {topic} to its end offsets"
            for tp, batch in consumer.poll(timeout_ms=500, max_records=5000).items():
                for m in batch:
                    if m.offset < ends[tp.partition]:
                        records.append({**json.loads(m.value), "_ts": m.timestamp / 1000.0})
        return records
    finally:
        consumer.close()


def group_caught_up(topic: str) -> bool:
    """True when the workers' consumer group has committed every partition of `topic` to its
    end: every record taken, its results acked and nothing in flight."""
    from kafka import TopicPartition

    from streams.clients import kafka_admin
    from streams.config import app_id_for

    settings = load_settings()
    ends = end_offsets(topic)
    admin = kafka_admin(request_timeout_ms=10000)
    try:
        group = app_id_for(settings)
        committed = admin.list_group_offsets({group: None}).get(group) or {}
    finally:
        admin.close()
    return all((committed.get(TopicPartition(topic, p)) or _NO_OFFSET).offset >= end
               for p, end in ends.items() if end > 0)


class _NoOffset:
    offset = -1


_NO_OFFSET = _NoOffset()


def wait_accounted(expected: set[str], *, abort_if=None,
                   timeout_s: float = 240) -> tuple[list[dict], list[dict]]:
    """(ads.scored, ads.dlq) after the run: once every expected ad id is on one of them and the
    workers' group has committed ads.raw to its end, both topics are read in full to the end
    offsets taken then (what a worker produced late, duplicates included, is counted)."""
    settings = load_settings()
    deadline = time.monotonic() + timeout_s
    while True:
        done = expected <= distinct_ids(read_to_end(settings.topics.scored)) | distinct_ids(
            read_to_end(settings.topics.dlq))
        if done and group_caught_up(settings.topics.raw):
            break
        if abort_if is not None and (why := abort_if()):
            raise RuntimeError(why)
        if time.monotonic() > deadline:
            break  # the accounting says what is missing
        time.sleep(1.0)
    return read_to_end(settings.topics.scored), read_to_end(settings.topics.dlq)


def read_alerts() -> list[dict]:
    """Every record on alerts, to the end offsets taken now (call after `wait_accounted`)."""
    return read_to_end(load_settings().topics.alerts)


def scored_by_the_fault(fault_started: float) -> tuple[set[str], set[str]]:
    """(ads scored before `fault_started`, ads first scored after it) on ads.scored, read to its
    end: the second set must not be empty, or the fault hit a worker with nothing left to do."""
    first: dict[str, float] = {}
    for record in read_to_end(load_settings().topics.scored):
        first[record["ad_id"]] = min(first.get(record["ad_id"], record["_ts"]), record["_ts"])
    before = {a for a, ts in first.items() if ts < fault_started}
    return before, set(first) - before


# ---------------------------------------------------------------- the accounting


STABLE_FIELDS = ("risk", "severity", "reasons", "cluster", "alert")


def assert_accounted(expected: set[str], scored: list[dict], dlq: list[dict], *,
                     dead_lettered: dict[str, str] | None = None) -> dict[str, list[dict]]:
    """Every expected ad id is on ads.scored (at least once; copies identical) or on ads.dlq
    with its reason; `dead_lettered` maps the ad ids that must be on ads.dlq to their error
    code (and they must not be scored). Returns the scored copies by ad id."""
    dead_lettered = dead_lettered or {}
    copies: dict[str, list[dict]] = defaultdict(list)
    for record in scored:
        copies[record["ad_id"]].append(record)
    dlq_by_id: dict[str, list[dict]] = defaultdict(list)
    for record in dlq:
        dlq_by_id[record.get("ad_id")].append(record)
    missing = expected - set(copies) - set(dlq_by_id)
    assert not missing, f"{len(missing)} ads neither scored nor dead-lettered: {sorted(missing)[:5]}"
    assert set(copies) <= expected, f"unexpected ads scored: {sorted(set(copies) - expected)[:5]}"
    for ad_id, code in dead_lettered.items():
        assert ad_id not in copies, f"{ad_id} should have been dead-lettered, was scored"
        records = dlq_by_id.get(ad_id)
        assert records, f"{ad_id} is not on ads.dlq"
        assert all(r["error_code"] == code and r["reason"] for r in records), records
    unexplained = {a for a in dlq_by_id if a in expected and a not in dead_lettered
                   and a not in copies}
    assert not unexplained, ("ads dead-lettered instead of scored: "
                             + "; ".join(f"{a}: {dlq_by_id[a][0]['error_code']} "
                                         f"{dlq_by_id[a][0]['reason']}" for a in sorted(unexplained)[:5]))
    # ads.scored is at-least-once: a redelivered ad may appear twice, but every copy must say
    # the same thing (the worker re-emits the result it stored the first time)
    for ad_id, records in copies.items():
        first = {k: records[0].get(k) for k in STABLE_FIELDS}
        for other in records[1:]:
            assert {k: other.get(k) for k in STABLE_FIELDS} == first, f"{ad_id}: copies differ"
    return copies


def assert_matches_reference(copies: dict[str, list[dict]], reference: Reference,
                             ids: set[str]) -> None:
    """Each ad scored as the batch path scored it: risk, severity, reasons, cluster size."""
    differ = []
    for ad_id in sorted(ids):
        got, want = copies[ad_id][0], reference.scored[ad_id]
        if (got["risk"], got["severity"], got["reasons"], got["cluster"]["size"]) != (
                want["risk"], want["severity"], want["reasons"], want["cluster"]["size"]):
            differ.append(f"{ad_id}: stream {got['severity']} {got['risk']:.3f} size "
                          f"{got['cluster']['size']} vs batch {want['severity']} "
                          f"{want['risk']:.3f} size {want['cluster']['size']}")
    assert not differ, f"{len(differ)} ads differ from the batch path: {differ[:5]}"


def assert_alerts(alerts: list[dict], reference: Reference, *, exact: bool = True) -> None:
    """Every alert the batch path raises is on `alerts` with the same id; with `exact`, no
    other alert is (a redelivered ad re-emits its alert with the same id)."""
    got = {a["alert_id"] for a in alerts}
    want = reference.alert_ids
    assert want, "the corpus raised no alert: the test would prove nothing"
    assert want <= got, f"{len(want - got)} alerts missing, e.g. {sorted(want - got)[:3]}"
    if exact:
        assert got == want, f"alerts the batch path did not raise: {sorted(got - want)[:3]}"
    by_id: dict[str, list[dict]] = defaultdict(list)
    for a in alerts:
        by_id[a["alert_id"]].append(a)
    for alert_id, copies in by_id.items():
        keys = {(c["ad_id"], c["severity"], c["risk"]) for c in copies}
        assert len(keys) == 1, f"{alert_id}: copies differ {keys}"


def _groups(members_of: dict[str, str]) -> set[frozenset[str]]:
    groups: dict[str, set[str]] = defaultdict(set)
    for member, group in members_of.items():
        groups[group].add(member)
    return {frozenset(g) for g in groups.values()}


def link_state(client: redis.Redis, prefix: str, ad_ids: list[str], keys: set[str]) -> dict:
    """The Redis link state: ads per identifier (phone, email, handle, photo), the ads grouped
    by text template, and the clusters as sets of ad ids with their sizes."""
    from streams.scoring.linkstore import RedisLinkStore, RedisTemplateStore

    store = RedisLinkStore(client, prefix)
    templates = RedisTemplateStore(client, prefix)
    counts = {k: client.zcard(f"{prefix}id:{k}:ads") for k in sorted(keys)}
    roots = {ad_id: store.cluster_of(ad_id) for ad_id in ad_ids}
    sizes = {frozenset(m for m, r in roots.items() if r == root):
             int(client.hget(f"{prefix}uf:c:{root}", "size") or 0) for root in set(roots.values())}
    return {"ads_per_identifier": counts, "clusters": sizes,
            "templates": _groups({a: templates.template_of(a) for a in ad_ids})}


def reference_link_state(reference: Reference, ad_ids: list[str]) -> tuple[dict, set[str]]:
    store = reference.link_store
    # a template's name is the first ad id it was given to, which depends on the order in
    # which partitions interleave: templates are compared as groups of ads instead
    keys = {k for k, st in store._keys.items() if st.ad_ids & set(ad_ids)
            and not k.startswith("tpl:")}
    counts = {k: len(store._keys[k].ad_ids) for k in sorted(keys)}
    roots = {ad_id: store.cluster_of(ad_id) for ad_id in ad_ids}
    sizes = {frozenset(m for m, r in roots.items() if r == root): store._clusters[root].size
             for root in set(roots.values())}
    return {"ads_per_identifier": counts, "clusters": sizes,
            "templates": _groups({a: reference.templates.template_of(a) for a in ad_ids})}, keys


def assert_link_state(reference: Reference, ad_ids: list[str], *, ordered: bool = True) -> None:
    """The Redis link state after the fault equals the batch path's after a clean run: the
    same number of ads under every phone, email, handle and photo, the same ads sharing a text
    template, and the same clusters with the same sizes (a redelivered ad counted once).

    Without a fixed order (`ordered=False`: several partitions interleaving), which template
    a near-duplicate joins depends on which ad came first, and templates join clusters, so
    neither is comparable with the batch path (nor with another clean run); then every cluster's
    size must equal the number of ads in it (none counted twice, none lost)."""
    settings = load_settings()
    want, keys = reference_link_state(reference, ad_ids)
    client = redis.Redis.from_url(settings.redis_url)
    try:
        got = link_state(client, redis_prefix(settings), ad_ids, keys)
    finally:
        client.close()
    assert want["ads_per_identifier"], "no shared identifier: the test would prove nothing"
    bad_counts = {k: (got["ads_per_identifier"][k], v)
                  for k, v in want["ads_per_identifier"].items()
                  if got["ads_per_identifier"][k] != v}
    assert not bad_counts, f"ads per identifier (redis, batch) differ: {list(bad_counts.items())[:5]}"
    if not ordered:
        wrong = {len(m): size for m, size in got["clusters"].items() if size != len(m)}
        assert not wrong, f"cluster sizes (ads in it: size) that count an ad twice: {wrong}"
        return
    assert got["templates"] == want["templates"], "ads grouped by template differ"
    assert got["clusters"] == want["clusters"], "clusters differ from the batch path's"


def delete_redis_prefix(prefix: str) -> None:
    settings = load_settings()
    client = redis.Redis.from_url(settings.redis_url)
    try:
        batch = []
        for key in client.scan_iter(match=f"{prefix}*", count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                client.delete(*batch)
                batch = []
        if batch:
            client.delete(*batch)
    finally:
        client.close()


# ---------------------------------------------------------------- faults in the shared stack


def stop_service(name: str) -> None:
    """Stop the project's own Kafka or Redis (SIGTERM, as `vigil stack down` does)."""
    from streams.stack import launcher as stack

    settings = load_settings()
    pid_file = (stack._kafka_home(settings) / "kafka.pid" if name == "kafka"
                else settings.stack_dir / "redis" / "redis.pid")
    assert stack._stop(pid_file, name, 60), f"{name} was not running"


def start_service(name: str) -> None:
    """Start it again and wait until it is healthy (the session's other tests need it)."""
    from streams.stack import launcher as stack

    settings = load_settings()
    (stack.start_kafka if name == "kafka" else stack.start_redis)(settings)


@contextmanager
def service_down(name: str, seconds: float) -> Iterator[None]:
    """Kafka or Redis stopped for `seconds`; the body runs at the end of the outage, and the
    service is started again however the body ends."""
    stop_service(name)
    try:
        time.sleep(seconds)
        yield
    finally:
        start_service(name)


def log_mentions(proc: Proc, text: str) -> bool:
    return text in proc.log.read_text(errors="replace")


def wait_group_members(count: int, timeout_s: float = 120, abort_if=None) -> None:
    """Until the workers' consumer group is stable with `count` members (each then owns some
    of ads.raw's partitions)."""
    from kafka import KafkaAdminClient

    from streams.config import app_id_for

    settings = load_settings()
    group = app_id_for(settings)
    # kafka-python may not decode a group's assignor metadata and says so at length
    logging.getLogger("kafka.admin._groups").setLevel(logging.ERROR)
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, request_timeout_ms=10000)
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            info = admin.describe_groups([group]).get(group) or {}
            if info.get("group_state") == "Stable" and len(info.get("members") or []) == count:
                return
            if abort_if is not None and (why := abort_if()):
                raise RuntimeError(why)
            time.sleep(0.5)
    finally:
        admin.close()
    raise AssertionError(f"group {group} never had {count} stable members")


def assert_alerts_match_scored(alerts: list[dict], copies: dict[str, list[dict]]) -> None:
    """Without a fixed order (several partitions) the alert ids cannot be predicted by the batch
    path; what must hold: every alert is of an ad scored as alert-worthy, says what its scored
    record says, and every copy of an alert id is identical."""
    assert alerts, "no alert at all: the test would prove nothing"
    by_id: dict[str, set] = defaultdict(set)
    for a in alerts:
        scored = copies[a["ad_id"]][0]
        assert scored["alert"], f"alert {a['alert_id']} for an ad scored below the threshold"
        assert (a["severity"], a["risk"], a["reasons"]) == (
            scored["severity"], scored["risk"], scored["reasons"]), a["alert_id"]
        by_id[a["alert_id"]].add(json.dumps({k: v for k, v in a.items() if k not in ("created_at", "_ts")},
                                            sort_keys=True))
    for alert_id, variants in by_id.items():
        assert len(variants) == 1, f"{alert_id}: copies differ"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        if line.strip():
            out.append(json.loads(line))
    return out


def log_messages(proc: Proc) -> list[str]:
    """The `msg` of every JSON log line the process wrote."""
    out = []
    for line in proc.log.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                out.append(json.loads(line).get("msg", ""))
            except ValueError:
                continue
    return out


def wait_for(condition, what: str, timeout_s: float, abort_if=None) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if abort_if is not None and (why := abort_if()):
            raise RuntimeError(why)
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(0.5)
