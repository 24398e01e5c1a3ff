"""Create vigil's topics explicitly, with the partition counts its tables expect."""

from __future__ import annotations

import contextlib
import logging

from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from streams.clients import kafka_admin
from streams.config import Settings

log = logging.getLogger(__name__)

COMPACTED = {"banks"}


def ensure_topics(settings: Settings) -> list[str]:
    """Create any missing vigil topic; returns the names created."""
    topics = settings.topics
    wanted = {getattr(topics, name): name for name in topics.__dataclass_fields__}
    admin = kafka_admin(settings, request_timeout_ms=10000)
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


def delete_prefixed_topics(bootstrap: str, *prefixes: str) -> list[str]:
    """Delete every topic whose name starts with one of `prefixes` (a test's or an eval run's
    own topics, and its Faust app's changelog topics); returns the names deleted. TLS and
    credentials come from the environment's settings."""
    if not prefixes or not all(prefixes):
        raise ValueError("refusing to delete topics without a prefix")
    admin = kafka_admin(bootstrap=bootstrap, request_timeout_ms=10000)
    try:
        doomed = sorted(t for t in admin.list_topics() if t.startswith(prefixes))
        if doomed:
            admin.delete_topics(doomed)
        return doomed
    finally:
        admin.close()
