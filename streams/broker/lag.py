"""Consumer lag and dead-letter topic sizes, read from the broker in a background thread.

Each process probes what it owns: the worker its group on ads.raw and ads.dlq's size, the
dispatcher its group on alerts and alerts.dlq's size. Several workers of one group export the
same series; dashboards take `max by (topic, partition)`.
"""

from __future__ import annotations

import logging
import threading

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from streams import metrics
from streams.clients import kafka_admin, kafka_consumer
from streams.config import Settings

log = logging.getLogger(__name__)


def lag_by_partition(ends: dict[TopicPartition, int], committed: dict[TopicPartition, int],
                     beginnings: dict[TopicPartition, int]) -> dict[TopicPartition, int]:
    """Records not yet committed per partition; from the log's start when nothing is committed."""
    return {tp: max(0, end - committed.get(tp, beginnings.get(tp, 0))) for tp, end in ends.items()}


class LagProbe:
    """Every `interval_s`, set vigil_consumer_lag_records for `group` on `topics` and
    vigil_dlq_records for `dlq_topics` (labels carry topic names without the run's prefix)."""

    def __init__(self, settings: Settings, group: str, topics: list[str], dlq_topics: list[str],
                 interval_s: float | None = None) -> None:
        self.settings, self.group = settings, group
        self.topics, self.dlq_topics = topics, dlq_topics
        self.interval_s = interval_s or settings.lag_interval_s  # VIGIL_LAG_INTERVAL_S
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _base(self, topic: str) -> str:
        return topic.removeprefix(self.settings.topic_prefix)

    def _partitions(self, consumer: KafkaConsumer, topic: str) -> list[TopicPartition]:
        return [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]

    def probe_once(self, admin: KafkaAdminClient, consumer: KafkaConsumer) -> None:
        offsets = admin.list_group_offsets({self.group: None}).get(self.group) or {}
        committed = {tp: meta.offset for tp, meta in offsets.items()
                     if meta.offset is not None and meta.offset >= 0}
        tps = [tp for t in self.topics for tp in self._partitions(consumer, t)]
        if tps:
            lags = lag_by_partition(consumer.end_offsets(tps), committed, consumer.beginning_offsets(tps))
            for tp, lag in lags.items():
                metrics.CONSUMER_LAG.labels(self.group, self._base(tp.topic), str(tp.partition)).set(lag)
        for topic in self.dlq_topics:
            dtps = self._partitions(consumer, topic)
            if not dtps:
                continue
            ends, starts = consumer.end_offsets(dtps), consumer.beginning_offsets(dtps)
            metrics.DLQ_RECORDS.labels(self._base(topic)).set(sum(ends[tp] - starts[tp] for tp in dtps))

    def _loop(self) -> None:
        admin = consumer = None
        while not self._stop.is_set():
            try:
                if admin is None:
                    admin = kafka_admin(self.settings, request_timeout_ms=10000)
                    consumer = kafka_consumer(settings=self.settings, enable_auto_commit=False)
                self.probe_once(admin, consumer)
            except Exception as exc:  # noqa: BLE001 - a broker hiccup must not kill the probe
                metrics.LAG_ERRORS.inc()
                log.warning("lag probe failed: %s", type(exc).__name__)
                for client in (admin, consumer):
                    if client is not None:
                        try:
                            client.close()
                        except Exception:  # noqa: BLE001
                            log.debug("closing a lag probe client failed", exc_info=True)
                admin = consumer = None
            self._stop.wait(self.interval_s)
        for client in (admin, consumer):
            if client is not None:
                client.close()

    def start(self) -> LagProbe:
        self._thread = threading.Thread(target=self._loop, daemon=True, name="vigil-lag")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
