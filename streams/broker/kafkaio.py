"""Small Kafka utilities for evaluation and tests: read a topic until a condition holds, produce a
batch, run a worker in a subprocess. Clients take the address given and TLS and credentials from
the environment's settings (streams/clients.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from streams.clients import kafka_consumer, kafka_producer
from streams.processes import stop_process_group

REPO = Path(__file__).resolve().parents[2]



def read_topic(bootstrap: str, topic: str, *, until: Callable[[list[dict]], bool],
               timeout_s: float = 120.0, progress: bool = False,
               abort_if: Callable[[], str | None] | None = None) -> list[dict]:
    """Every JSON record on `topic` from the start, until `until(records)` or the time-out.
    `abort_if()` returning a message stops early with RuntimeError (e.g. the worker died)."""
    consumer = kafka_consumer(
        topic, bootstrap=bootstrap, group_id=f"test-{uuid.uuid4().hex}",
        auto_offset_reset="earliest", enable_auto_commit=False,
    )
    records: list[dict] = []
    deadline = time.monotonic() + timeout_s
    last_report = 0.0
    try:
        # poll() in bounded batches, so the condition, the abort check and the progress line run
        # while records keep arriving (iterating the consumer only returns after 1 s idle)
        while time.monotonic() < deadline:
            batches = consumer.poll(timeout_ms=500, max_records=2000)
            for batch in batches.values():
                records.extend(json.loads(message.value) for message in batch)
            if until(records):
                break
            if abort_if is not None and (why := abort_if()):
                raise RuntimeError(why)
            if progress and time.monotonic() - last_report >= 5:
                last_report = time.monotonic()
                print(f"read {len(records)} records from {topic}", file=sys.stderr)
    finally:
        consumer.close()
    return records


def produce(bootstrap: str, topic: str, items: list[tuple[bytes | None, bytes]]) -> None:
    producer = kafka_producer(bootstrap=bootstrap, acks="all", max_request_size=12 * 1024 * 1024)
    for key, value in items:
        producer.send(topic, key=key, value=value)
    producer.flush()
    producer.close()


def worker_death(proc: subprocess.Popen, log_path: Path) -> Callable[[], str | None]:
    """For `abort_if`: a message with the log's tail once the worker process has exited."""
    def check() -> str | None:
        if proc.poll() is None:
            return None
        return f"worker exited with {proc.returncode}: {log_path.read_text(errors='replace')[-2000:]}"
    return check


@contextmanager
def running_worker(env_overrides: dict[str, str], log_path: Path):
    """`vigil worker` in a subprocess with the given environment; stopped (SIGTERM) on exit."""
    env = {**os.environ, **env_overrides, "PYTHONUNBUFFERED": "1"}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "worker", "--metrics-port", "0"],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        yield proc
    finally:
        stop_process_group(proc)
