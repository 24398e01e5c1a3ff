"""`vigil bench links --secure-env FILE`: what TLS and authentication cost on vigil's links to Kafka
and Redis, against the plain stack measured in the same run.

Needs two local stacks up: the plain one this shell's settings point at, and a secure one
(`vigil stack up --secure` with its own VIGIL_STACK_DIR and ports) whose `secure.env` is given.
For each, interleaved, best of `--rounds`:
- the preflight every command runs once at start (TCP, TLS and SASL handshakes, then the
  cluster's metadata; and a Redis PING with HELLO AUTH over TLS);
- Kafka: producing N 600-byte records with the ingest producer's settings (acks=all,
  idempotent) and reading them back from the start;
- Redis: SET+GET pairs in pipelines of 100, and the round trip of a single PING.
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from unittest import mock

from streams.clients import kafka_admin, kafka_consumer, kafka_producer, redis_client
from streams.config import Settings, load_settings
from streams.errors import CliError
from streams.preflight import kafka_problem, redis_problem

RECORD = b"x" * 600


def read_env_file(path: Path) -> dict[str, str]:
    """NAME=value lines (shell quoting) of an env file such as `secure.env`."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from exc
    found = {}
    for line in lines:
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = shlex.split(line)[0].partition("=")
            found[name] = value
    return found


def settings_with(env: dict[str, str]) -> Settings:
    with mock.patch.dict(os.environ, env):
        return load_settings()


def time_preflight(settings: Settings) -> tuple[float, float]:
    started = time.perf_counter()
    problem = kafka_problem(settings)
    kafka_s = time.perf_counter() - started
    started = time.perf_counter()
    problem = problem or redis_problem(settings)
    redis_s = time.perf_counter() - started
    if problem:
        raise CliError(problem)
    return kafka_s, redis_s


def time_kafka(settings: Settings, records: int) -> tuple[float, float]:
    """(records produced per second, records read back per second) on a topic of its own."""
    from kafka import TopicPartition
    from kafka.admin import NewTopic

    topic = f"{settings.topic_prefix}bench-links-{uuid.uuid4().hex[:6]}"
    admin = kafka_admin(settings, request_timeout_ms=10000)
    try:
        admin.create_topics([NewTopic(topic, num_partitions=settings.partitions, replication_factor=1)])
        producer = kafka_producer(settings, acks="all", enable_idempotence=True, linger_ms=5,
                                  batch_size=256 * 1024)
        started = time.perf_counter()
        for i in range(records):
            producer.send(topic, key=str(i).encode(), value=RECORD)
        producer.flush()
        produce_s = time.perf_counter() - started
        producer.close()
        consumer = kafka_consumer(settings=settings, enable_auto_commit=False)
        tps = [TopicPartition(topic, p) for p in range(settings.partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        seen, started = 0, time.perf_counter()
        deadline = started + 120
        while seen < records and time.perf_counter() < deadline:
            seen += sum(len(batch) for batch in consumer.poll(timeout_ms=500, max_records=5000).values())
        consume_s = time.perf_counter() - started
        consumer.close()
        if seen < records:
            raise CliError(f"read back only {seen} of {records} records from {topic}")
        return records / produce_s, records / consume_s
    finally:
        admin.delete_topics([topic])
        admin.close()


def time_redis(settings: Settings, pairs: int, pings: int = 1000) -> tuple[float, float]:
    """(SET+GET pairs per second in pipelines of 100, PING round trip p50 in ms)."""
    client = redis_client(settings)
    prefix = f"vigil:{settings.topic_prefix}bench-links:"
    try:
        started = time.perf_counter()
        for start in range(0, pairs, 100):
            pipe = client.pipeline(transaction=False)
            for i in range(start, min(start + 100, pairs)):
                pipe.set(f"{prefix}{i}", RECORD, ex=300)
                pipe.get(f"{prefix}{i}")
            pipe.execute()
        pairs_per_s = pairs / (time.perf_counter() - started)
        latencies = []
        for _ in range(pings):
            started = time.perf_counter()
            client.ping()
            latencies.append(time.perf_counter() - started)
        for start in range(0, pairs, 1000):
            client.delete(*(f"{prefix}{i}" for i in range(start, min(start + 1000, pairs))))
        return pairs_per_s, statistics.median(latencies) * 1000
    finally:
        client.close()


def time_wrong_password(settings: Settings, folder: Path) -> tuple[float, str, float, str]:
    """(seconds, what it said) for the preflight and for a bare kafka-python producer given a
    wrong password: the preflight's one line against kafka-python's bootstrap time-out."""
    from dataclasses import replace

    wrong = folder / "wrong.password"
    wrong.write_text("not-the-password\n")
    wrong.chmod(0o600)
    bad = replace(settings, kafka_password_file=str(wrong))
    started = time.perf_counter()
    line = kafka_problem(bad) or "(no problem found)"
    preflight_s = time.perf_counter() - started
    started = time.perf_counter()
    try:
        kafka_producer(bad).close()
        said = "(connected)"
    except Exception as exc:  # noqa: BLE001 - what kafka-python says is the figure
        said = f"{type(exc).__name__}: {exc}"
    return preflight_s, line, time.perf_counter() - started, said


ROWS = [("preflight, Kafka (s, lower is better)", "kafka_preflight_s", min),
        ("preflight, Redis (s, lower is better)", "redis_preflight_s", min),
        ("Kafka produce (records/s)", "produce_per_s", max),
        ("Kafka read back (records/s)", "consume_per_s", max),
        ("Redis SET+GET, pipelined (pairs/s)", "redis_pairs_per_s", max),
        ("Redis PING round trip p50 (ms, lower is better)", "redis_ping_ms", min)]


def run(args) -> int:
    prefix = f"benchlinks{uuid.uuid4().hex[:6]}."
    plain = settings_with({"VIGIL_TOPIC_PREFIX": prefix})
    if plain.kafka_security != "plaintext" or plain.redis_url.startswith("rediss://"):
        raise CliError("run this from a shell set for the plain stack; give the secure one with --secure-env")
    secure = settings_with({**read_env_file(Path(args.secure_env)), "VIGIL_TOPIC_PREFIX": prefix})
    if secure.kafka_bootstrap == plain.kafka_bootstrap:
        raise CliError("the secure stack must run beside the plain one: other ports and VIGIL_STACK_DIR")
    runs: dict[str, list[dict]] = {"plain": [], "secure": []}
    for round_no in range(1, args.rounds + 1):
        for mode, settings in (("plain", plain), ("secure", secure)):
            kafka_pre, redis_pre = time_preflight(settings)
            produce, consume = time_kafka(settings, args.records)
            pairs, ping = time_redis(settings, args.redis_pairs)
            runs[mode].append({"kafka_preflight_s": kafka_pre, "redis_preflight_s": redis_pre,
                               "produce_per_s": produce, "consume_per_s": consume,
                               "redis_pairs_per_s": pairs, "redis_ping_ms": ping})
        print(f"round {round_no}/{args.rounds} done", flush=True)
    print(f"\nplain: Kafka {plain.kafka_bootstrap} PLAINTEXT, Redis redis:// | secure: Kafka "
          f"{secure.kafka_bootstrap} SASL_SSL {secure.kafka_sasl_mechanism}, Redis rediss:// ACL user "
          f"{secure.redis_user or '(in URL)'}; {args.records} records of 600 bytes, {args.redis_pairs} "
          f"Redis pairs; best of {args.rounds} rounds\n")
    print(f"{'':<50}{'plain':>12}{'secure':>12}{'secure/plain':>14}")
    for label, key, best in ROWS:
        a, b = best(r[key] for r in runs["plain"]), best(r[key] for r in runs["secure"])
        print(f"{label:<50}{a:>12.4g}{b:>12.4g}{b / a:>13.2f}x")
    with tempfile.TemporaryDirectory() as folder:
        preflight_s, line, bare_s, said = time_wrong_password(secure, Path(folder))
    print(f"\nwrong Kafka password, preflight: {preflight_s:.2f} s: {line}")
    print(f"wrong Kafka password, kafka-python alone: {bare_s:.1f} s ({bare_s / preflight_s:.0f}x longer): {said}")
    return 0


def register_bench(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "links", help="Kafka SASL_SSL and Redis TLS against the plain stack: preflight, throughput, round trips")
    parser.add_argument("--secure-env", required=True,
                        help="the secure stack's settings (its secure.env, written by vigil stack up --secure)")
    parser.add_argument("--records", type=int, default=20000, help="Kafka records per round (default: %(default)s)")
    parser.add_argument("--redis-pairs", type=int, default=20000,
                        help="Redis SET+GET pairs per round (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the best is kept")
    parser.set_defaults(func=run)
