"""Analyst feedback: `vigil feedback ALERT_ID true|false [note]` onto the `feedback` topic, and
a reader that collects it for `vigil model train`."""

from __future__ import annotations

import json
import time
import uuid

import jsonschema
from kafka import KafkaConsumer, KafkaProducer

from schemas import load_schema
from streams.config import Settings, load_settings
from streams.errors import CliError


def feedback_record(alert_id: str, label: bool, *, note: str | None = None,
                    ad_id: str | None = None, analyst: str | None = None) -> dict:
    record = {"schema_version": 1, "alert_id": alert_id, "ad_id": ad_id, "label": label,
              "note": note, "analyst": analyst, "at": time.time()}
    jsonschema.validate(record, load_schema("feedback"))
    return record


def send_feedback(settings: Settings, record: dict) -> None:
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    try:
        producer.send(settings.topics.feedback, key=record["alert_id"].encode(),
                      value=json.dumps(record).encode()).get(timeout=30)
    finally:
        producer.close()


def read_feedback(settings: Settings, timeout_s: float = 5.0) -> list[dict]:
    """Every valid feedback record on the topic (the latest per alert id wins)."""
    consumer = KafkaConsumer(settings.topics.feedback, bootstrap_servers=settings.kafka_bootstrap,
                             group_id=f"vigil-feedback-reader-{uuid.uuid4().hex}",
                             auto_offset_reset="earliest", enable_auto_commit=False,
                             consumer_timeout_ms=int(timeout_s * 1000))
    latest: dict[str, dict] = {}
    schema = load_schema("feedback")
    try:
        for message in consumer:
            try:
                record = json.loads(message.value)
                jsonschema.validate(record, schema)
            except (ValueError, jsonschema.ValidationError):
                continue
            latest[record["alert_id"]] = record
    finally:
        consumer.close()
    return list(latest.values())


def _parse_label(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("true", "yes", "tp", "1"):
        return True
    if lowered in ("false", "no", "fp", "0"):
        return False
    raise CliError(f"label must be true or false, not {text!r}")


def _cmd_feedback(args) -> int:
    from streams.topics import ensure_topics

    settings = load_settings()
    ensure_topics(settings)
    record = feedback_record(args.alert_id, _parse_label(args.label), note=args.note,
                             ad_id=args.ad_id, analyst=args.analyst)
    send_feedback(settings, record)
    print(f"feedback recorded for {args.alert_id} on {settings.topics.feedback}")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("feedback", help="record an analyst's verdict on an alert")
    p.add_argument("alert_id")
    p.add_argument("label", help="true (a real case) or false (a false positive)")
    p.add_argument("note", nargs="?")
    p.add_argument("--ad-id", help="the alert's ad id (lets model training use the ad's text)")
    p.add_argument("--analyst")
    p.set_defaults(func=_cmd_feedback)
