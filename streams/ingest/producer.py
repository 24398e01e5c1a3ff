"""Producing ads onto ads.raw: the producer settings every ingest path uses, and files / stdin.

Records are keyed by ad_id (so a duplicate meets the first copy in the same partition).
`ingest_file` forwards every line, even a bad one, so the worker dead-letters it with its
reason: nothing is dropped on the way in.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable

from kafka import KafkaProducer

from streams import metrics
from streams.clients import kafka_producer
from streams.config import Settings
from streams.errors import CliError
from streams.jsonlines import read_lines


def make_producer(settings: Settings) -> KafkaProducer:
    return kafka_producer(
        settings,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        batch_size=256 * 1024,
        max_request_size=12 * 1024 * 1024,
        compression_type=None,
    )


def key_of(line: bytes) -> bytes | None:
    """The ad_id of a record, as its Kafka key, when it can be read; None otherwise."""
    try:
        doc = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None
    if isinstance(doc, dict) and isinstance(doc.get("ad_id"), str) and doc["ad_id"]:
        return doc["ad_id"].encode("utf-8", errors="surrogatepass")
    return None


def produce_all(producer: KafkaProducer, topic: str, records: Iterable[bytes],
                progress_every: int = 10_000) -> int:
    sent = 0
    started = time.monotonic()
    for value in records:
        producer.send(topic, key=key_of(value), value=value)
        sent += 1
        metrics.ADS_INGESTED.labels("file").inc()
        if progress_every and sent % progress_every == 0:
            rate = sent / max(time.monotonic() - started, 1e-9)
            print(f"ingest: {sent} records sent ({rate:,.0f}/s)", file=sys.stderr)
    producer.flush()
    return sent


def ingest_file(path: str, settings: Settings) -> int:
    producer = make_producer(settings)
    try:
        if path == "-":
            return produce_all(producer, settings.topics.raw, read_lines(sys.stdin.buffer))
        try:
            with open(path, "rb") as fh:
                return produce_all(producer, settings.topics.raw, read_lines(fh))
        except FileNotFoundError as exc:
            raise CliError(f"no such file: {path}") from exc
    finally:
        producer.close()
