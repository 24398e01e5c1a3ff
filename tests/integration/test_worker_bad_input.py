"""Bad input, searched for, at the worker: generated malformed records go through the real broker
to a `vigil worker` subprocess, and every one must end on ads.scored or on ads.dlq with stage
`validate` (never the catch-all `internal_error`), read from both topics to their end offsets.

Derandomised (fixed seed, no example database) and kept to a few small batches so CI runs it in
about a minute, the worker's start-up included.
"""

from __future__ import annotations

import json
import time

from hypothesis import HealthCheck, given, settings
from kafka import KafkaConsumer, TopicPartition

from detectors.validation import parse_raw_ad
from streams.broker.kafkaio import produce, running_worker, worker_death
from streams.broker.topics import ensure_topics
from streams.config import load_settings
from tests.malformed import record_batches


class TopicReader:
    """Reads ads.scored and ads.dlq as they grow, and knows when it has reached their ends."""

    def __init__(self, bootstrap: str, topics: list[str]) -> None:
        self.consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                      auto_offset_reset="earliest", fetch_max_bytes=64 * 1024 * 1024,
                                      max_partition_fetch_bytes=16 * 1024 * 1024)
        self.partitions = [TopicPartition(topic, p) for topic in topics
                           for p in sorted(self.consumer.partitions_for_topic(topic) or [])]
        self.consumer.assign(self.partitions)
        self.consumer.seek_to_beginning()
        self.records: dict[str, list[dict]] = {topic: [] for topic in topics}

    def poll(self) -> None:
        for tp, messages in self.consumer.poll(timeout_ms=500).items():
            self.records[tp.topic].extend(json.loads(m.value) for m in messages)

    def at_end(self) -> bool:
        ends = self.consumer.end_offsets(self.partitions)
        return all(self.consumer.position(tp) >= ends[tp] for tp in self.partitions)

    def close(self) -> None:
        self.consumer.close()


def test_every_generated_record_ends_scored_or_dead_lettered_by_validation(stack, topic_prefix, tmp_path):
    config = load_settings()
    ensure_topics(config)
    topics = config.topics
    log_path = tmp_path / "worker.log"
    with running_worker({"VIGIL_TOPIC_PREFIX": topic_prefix}, log_path) as worker:
        died = worker_death(worker, log_path)
        reader = TopicReader(stack.kafka_bootstrap, [topics.scored, topics.dlq])
        produced: list[bytes] = []

        @settings(derandomize=True, database=None, deadline=None, max_examples=8,
                  suppress_health_check=list(HealthCheck))
        @given(record_batches(min_size=20, max_size=30))
        def every_record_accounted(records):
            produce(stack.kafka_bootstrap, topics.raw,
                    [(f"k{len(produced) + i}".encode(), value) for i, value in enumerate(records)])
            produced.extend(records)
            deadline = time.monotonic() + 120
            while True:
                reader.poll()
                validated = [r for r in reader.records[topics.dlq] if r["stage"] == "validate"]
                done = len(reader.records[topics.scored]) + len(validated) >= len(produced)
                if done and reader.at_end():
                    break
                assert not (why := died()), why
                assert time.monotonic() < deadline, (
                    f"{len(reader.records[topics.scored])} scored + {len(validated)} dead-lettered of "
                    f"{len(produced)} produced; worker log: {log_path.read_text(errors='replace')[-2000:]}")
            stages = {r["stage"] for r in reader.records[topics.dlq]}
            assert stages <= {"validate", "enrich"}, [
                (r["error_code"], r["reason"]) for r in reader.records[topics.dlq] if r["stage"] not in
                ("validate", "enrich")]
            assert len(reader.records[topics.scored]) + len(validated) == len(produced)
            valid_ids = {p["ad_id"] for p in map(parse_raw_ad, produced) if isinstance(p, dict)}
            assert {r["ad_id"] for r in reader.records[topics.scored]} <= valid_ids
            for record in validated:
                assert record["reason"] and record["error_code"] != "internal_error", record

        try:
            every_record_accounted()
        finally:
            reader.close()
    assert "Traceback" not in log_path.read_text(errors="replace")
