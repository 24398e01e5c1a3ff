"""Analyst feedback: `vigil feedback ALERT_ID true|false [note]` onto the `feedback` topic
(schemas/feedback.v1.json, key: alert id), and readers that collect it for `vigil model train`.

A verdict names its alert; the model trains on ads, so a record should carry the alert's
`ad_id` (`--ad-id`). Records without one are resolved at training time from the `alerts`
topic (every alert carries its ad id); what cannot be resolved is counted, not used.
"""

from __future__ import annotations

import getpass
import json
import logging
import sys
import time
from collections.abc import Iterator

import jsonschema
from kafka import TopicPartition
from kafka.errors import KafkaError

from schemas import load_schema
from streams.clients import kafka_consumer, kafka_producer
from streams.config import Settings, load_settings
from streams.errors import CliError

log = logging.getLogger(__name__)

TRUE_WORDS = ("true", "yes", "tp", "1")
FALSE_WORDS = ("false", "no", "fp", "0")


def feedback_record(alert_id: str, label: bool, *, note: str | None = None,
                    ad_id: str | None = None, analyst: str | None = None,
                    at: float | None = None) -> dict:
    """A feedback record, validated against schemas/feedback.v1.json."""
    record = {"schema_version": 1, "alert_id": alert_id, "ad_id": ad_id, "label": bool(label),
              "note": note, "analyst": analyst, "at": time.time() if at is None else at}
    jsonschema.validate(record, load_schema("feedback"))
    return record


def send_feedback(settings: Settings, record: dict, timeout_s: float = 30.0) -> str:
    """Produce one record (acks=all, waited for); returns its key."""
    key = record["alert_id"]
    producer = kafka_producer(settings, acks="all", retries=5, request_timeout_ms=int(timeout_s * 1000))
    try:
        producer.send(settings.topics.feedback, key=key.encode(),
                      value=json.dumps(record).encode()).get(timeout=timeout_s)
    finally:
        producer.close()
    return key


def read_topic_to_end(bootstrap: str, topic: str, timeout_s: float = 30.0) -> Iterator[bytes]:
    """Every record value on `topic`, from the start up to the end offsets seen on entry.

    Partitions are assigned, not joined through a consumer group: nothing is committed and no
    group rebalance delays the read. A topic that does not exist yields nothing."""
    consumer = kafka_consumer(bootstrap=bootstrap, enable_auto_commit=False, group_id=None,
                              auto_offset_reset="earliest", request_timeout_ms=int(timeout_s * 1000) + 1000)
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            return
        assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        consumer.seek_to_beginning(*assigned)
        end = {tp: offset for tp, offset in consumer.end_offsets(assigned).items() if offset}
        deadline = time.monotonic() + timeout_s
        while end and time.monotonic() < deadline:
            for tp, messages in consumer.poll(timeout_ms=500).items():
                for message in messages:
                    if message.offset < end.get(tp, 0):
                        yield message.value
            end = {tp: offset for tp, offset in end.items() if consumer.position(tp) < offset}
        if end:
            raise TimeoutError(f"{topic}: not read to its end within {timeout_s:.0f} s")
    finally:
        consumer.close()


def parse_feedback(values, schema: dict | None = None) -> tuple[list[dict], int]:
    """Valid feedback records among raw values (bytes or str), and how many were invalid."""
    schema = schema or load_schema("feedback")
    records, invalid = [], 0
    for value in values:
        try:
            record = json.loads(value)
            jsonschema.validate(record, schema)
        except (ValueError, TypeError, jsonschema.ValidationError):
            invalid += 1
            continue
        records.append(record)
    return records, invalid


def read_feedback(settings: Settings, timeout_s: float = 30.0) -> list[dict]:
    """Every valid record on the feedback topic, in topic order (invalid ones are skipped and
    logged by count)."""
    records, invalid = parse_feedback(
        read_topic_to_end(settings.kafka_bootstrap, settings.topics.feedback, timeout_s))
    if invalid:
        log.warning("skipped %d invalid feedback records on %s", invalid, settings.topics.feedback)
    return records


def alert_ads(settings: Settings, timeout_s: float = 60.0) -> dict[str, str]:
    """alert id -> ad id, from every alert on the alerts topic."""
    out: dict[str, str] = {}
    for value in read_topic_to_end(settings.kafka_bootstrap, settings.topics.alerts, timeout_s):
        try:
            alert = json.loads(value)
            out[alert["alert_id"]] = alert["ad_id"]
        except (ValueError, TypeError, KeyError):
            continue
    return out


def with_ad_ids(records: list[dict], ad_of_alert: dict[str, str]) -> list[dict]:
    """Records with a missing ad_id filled in from their alert, where known."""
    return [{**r, "ad_id": r.get("ad_id") or ad_of_alert.get(r["alert_id"])} for r in records]


def read_feedback_file(path: str) -> list[dict]:
    """Valid feedback records from a JSON-lines file (invalid lines are a user error)."""
    try:
        with open(path, encoding="utf-8") as fh:
            lines = [line for line in fh if line.strip()]
    except OSError as exc:
        raise CliError(f"cannot read feedback file {path}: {exc.strerror}") from exc
    records, invalid = parse_feedback(lines)
    if invalid:
        raise CliError(f"{path}: {invalid} of {len(lines)} lines are not valid feedback records "
                       "(schemas/feedback.v1.json)")
    return records


def parse_label(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in TRUE_WORDS:
        return True
    if lowered in FALSE_WORDS:
        return False
    raise CliError(f"label must be true or false, not {text!r}")


def _cmd_feedback(args) -> int:
    from streams.broker.topics import ensure_topics
    from streams.preflight import kafka_problem
    from streams.stack.launcher import services

    settings = load_settings()
    try:
        record = feedback_record(args.alert_id, parse_label(args.label), note=args.note,
                                 ad_id=args.ad_id, analyst=args.analyst)
    except jsonschema.ValidationError as exc:  # name the rule, never echo the analyst's text
        where = ".".join(map(str, exc.absolute_path)) or "record"
        raise CliError(f"not a valid feedback record: {where} fails {exc.validator} "
                       f"{exc.validator_value}") from exc
    problem = kafka_problem(settings) if settings.external_kafka else None
    if problem:
        raise CliError(f"feedback not recorded: {problem}")
    try:
        with services(settings, kafka=True):  # the local broker if none runs; stopped again after
            ensure_topics(settings)
            key = send_feedback(settings, record)
    except KafkaError as exc:
        raise CliError(f"feedback not recorded: {exc}") from exc
    print(key)
    print(f"feedback: {'true' if record['label'] else 'false'} positive recorded on "
          f"{settings.topics.feedback}", file=sys.stderr)
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("feedback", help="record an analyst's verdict on an alert")
    p.add_argument("alert_id")
    p.add_argument("label", help="true (a real case) or false (a false positive)")
    p.add_argument("note", nargs="?", help="free text, at most 2000 characters")
    p.add_argument("--ad-id", help="the alert's ad id (else looked up in the alerts topic when "
                                   "the model is trained)")
    p.add_argument("--analyst", default=_default_analyst(), help="who decided (default: $USER)")
    p.set_defaults(func=_cmd_feedback)


def _default_analyst() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None
