"""Create vigil's topics explicitly, with the partition counts its tables expect."""

from __future__ import annotations

import contextlib
import logging

from kafka.admin import ConfigResource, ConfigResourceType, NewTopic
from kafka.errors import TopicAlreadyExistsError

from streams.clients import kafka_admin
from streams.config import Settings

log = logging.getLogger(__name__)

COMPACTED = {"banks"}
# topics holding ads, their scores and identifiers: VIGIL_RETENTION_DAYS caps their retention.ms
# (feedback is left alone: it is the labelled training data, kept until an operator says otherwise)
RETAINED = ("raw", "scored", "alerts", "dlq", "alerts_dlq")


def retention_configs(settings: Settings) -> dict[str, dict[str, str]]:
    """Topic → the configs VIGIL_RETENTION_DAYS asks for (none when it is 0)."""
    cap = settings.retention_s
    if cap is None:
        return {}
    ms = str(cap * 1000)
    out = {getattr(settings.topics, role): {"retention.ms": ms} for role in RETAINED}
    return out


def _needs(current: dict[str, str], wanted: dict[str, str]) -> dict[str, str]:
    """The part of `wanted` that shortens what a topic keeps: a cap never lengthens a topic's
    retention (the broker's default, 7 days, or an operator's own setting may be shorter)."""
    change = {}
    kept_ms = int(current.get("retention.ms") or -1)
    policy = current.get("cleanup.policy", "delete")
    by_time = "delete" in policy.split(",")
    if "cleanup.policy" in wanted and not by_time:
        change["cleanup.policy"] = wanted["cleanup.policy"]
        change["retention.ms"] = wanted["retention.ms"]
    elif kept_ms < 0 or kept_ms > int(wanted["retention.ms"]):
        change["retention.ms"] = wanted["retention.ms"]
    return change


def apply_retention(settings: Settings, admin=None) -> list[str]:
    """Cap the existing topics VIGIL_RETENTION_DAYS covers (incremental alter: other configs
    stay; shorter retentions are left alone); returns the topics changed."""
    wanted = retention_configs(settings)
    if not wanted:
        return []
    own = admin is None
    admin = admin or kafka_admin(settings, request_timeout_ms=10000)
    try:
        existing = [topic for topic in wanted if topic in set(admin.list_topics())]
        if not existing:
            return []
        described = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, t) for t in existing])
        current = {name: {key: entry["value"] for key, entry in entries.items()}
                   for name, entries in described.get("topic", {}).items()}
        resources = [ConfigResource(ConfigResourceType.TOPIC, topic, configs=change) for topic in existing
                     if (change := _needs(current.get(topic, {}), wanted[topic]))]
        if resources:
            # kafka-python's own check of config names asks the broker for each topic's dynamic
            # configs and refuses those not set yet: the broker validates them itself
            result = admin.alter_configs(resources, incremental=True, raise_on_unknown=False)
            failed = {name: str(outcome) for name, outcome in result.get("topic", {}).items()
                      if str(outcome) != "OK"}
            if failed:
                raise RuntimeError(f"could not set retention on {failed}")
        return [r.name for r in resources]
    finally:
        if own:
            admin.close()


def ensure_topics(settings: Settings) -> list[str]:
    """Create any missing vigil topic; returns the names created."""
    topics = settings.topics
    wanted = {getattr(topics, name): name for name in topics.__dataclass_fields__}
    admin = kafka_admin(settings, request_timeout_ms=10000)
    retention = retention_configs(settings)
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
        if retention:
            apply_retention(settings, admin)  # new topics, and existing ones after a shorter cap
        return created
    finally:
        admin.close()


def delete_prefixed_topics(bootstrap: str, *prefixes: str) -> list[str]:
    """Delete every topic whose name starts with one of `prefixes` (a test's or an eval run's
    own topics); returns the names deleted. TLS and
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
