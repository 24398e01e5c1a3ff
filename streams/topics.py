"""Create vigil's topics explicitly, with the partition counts its tables expect."""

from __future__ import annotations

import contextlib
import logging

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from streams.config import Settings

log = logging.getLogger(__name__)

COMPACTED = {"banks"}


def ensure_topics(settings: Settings) -> list[str]:
    """Create any missing vigil topic; returns the names created."""
    topics = settings.topics
    wanted = {getattr(topics, name): name for name in topics.__dataclass_fields__}
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, request_timeout_ms=10000)
    try:
        existing = set(admin.list_topics())
        missing = []
        for topic, role in wanted.items():
            if topic in existing:
                continue
            config = {"cleanup.policy": "compact"} if role in COMPACTED else {}
            missing.append(NewTopic(topic, num_partitions=settings.partitions,
                                    replication_factor=1, topic_configs=config))
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(missing)
        created = [t.name for t in missing]
        if created:
            log.info("created topics: %s", ", ".join(created))
        return created
    finally:
        admin.close()
