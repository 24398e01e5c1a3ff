"""JSON log lines: one object per line, extras kept, numbers masked, identifiers hashed."""

from __future__ import annotations

import json
import logging

from streams.cli import build_parser
from streams.logs import JsonFormatter, hashed, redact, setup_logging


def record(msg: str, *args, exc_info=None, **extra) -> logging.LogRecord:
    rec = logging.LogRecord("vigil.test", logging.INFO, __file__, 1, msg, args, exc_info)
    rec.__dict__.update(extra)
    return rec


def test_a_line_is_one_json_object_with_the_extras():
    line = JsonFormatter().format(record("alert %s", "al_1", ad_id="ad-7", alert_id="al_1"))
    assert "\n" not in line
    doc = json.loads(line)
    assert doc["msg"] == "alert al_1" and doc["ad_id"] == "ad-7" and doc["alert_id"] == "al_1"
    assert doc["level"] == "info" and doc["logger"] == "vigil.test" and doc["ts"].endswith("Z")


def test_phone_numbers_are_masked_in_messages_and_tracebacks():
    try:
        raise ValueError("bad number 702-555-0123 in ad")
    except ValueError:
        import sys

        line = JsonFormatter().format(record("call %s", "+1 (702) 555 0123", exc_info=sys.exc_info()))
    doc = json.loads(line)
    assert doc["msg"] == "call [redacted-number]"
    assert "555" not in doc["exc"] and "ValueError" in doc["exc"]


def test_ids_offsets_and_times_are_not_mistaken_for_numbers():
    text = "ad syn-5-000123 at partition:offset 3:123456789 took 0.0123456789 s"
    assert redact(text) == text


def test_hashed_identifiers_are_stable_keyed_and_do_not_show_the_value(monkeypatch):
    a = hashed("+17025550123")
    assert a == hashed("+17025550123") != hashed("+17025550124")
    assert a.startswith("h:") and "7025550123" not in a
    monkeypatch.setenv("VIGIL_LOG_HASH_KEY", "another-deployment")
    assert hashed("+17025550123") != a


def test_log_level_flag(capsys):
    args = build_parser().parse_args(["--log-level", "warning", "stack", "status"])
    assert args.log_level == "warning"
    setup_logging(args.log_level)
    logging.getLogger("vigil.x").info("hidden")
    logging.getLogger("vigil.x").warning("shown", extra={"ad_id": "a1"})
    lines = capsys.readouterr().err.strip().splitlines()
    assert [json.loads(x)["msg"] for x in lines] == ["shown"]


def test_only_a_cancelled_metadata_refresh_is_dropped():
    from kafka.errors import Cancelled, KafkaConnectionError

    from streams.logs import DropCancelledMetadataRefresh

    def refresh_failed(exc: Exception) -> logging.LogRecord:
        return logging.LogRecord("kafka.cluster", logging.ERROR, __file__, 1,
                                 "Metadata refresh: failed %s", (exc,), None)

    keep = DropCancelledMetadataRefresh().filter
    assert not keep(refresh_failed(Cancelled()))
    assert keep(refresh_failed(KafkaConnectionError("broker down")))
    assert keep(record("Metadata refresh: failed %s", Cancelled()))  # another logger
def test_repeated_library_errors_are_let_through_once_per_interval():
    import logging

    from streams.logs import RepeatFilter

    now = [0.0]
    flt = RepeatFilter(every_s=10, clock=lambda: now[0])

    def record(name: str, msg: str = "Unable connect to node with id %s") -> logging.LogRecord:
        return logging.LogRecord(name, logging.ERROR, "", 0, msg, (1,), None)

    assert flt.filter(record("aiokafka"))
    assert not any(flt.filter(record("aiokafka")) for _ in range(500))
    assert flt.filter(record("aiokafka", "another message %s"))
    assert flt.filter(record("streams.worker.loop"))  # our own logs are never thinned
    now[0] = 11.0
    later = record("aiokafka")
    assert flt.filter(later) and later.repeats_suppressed == 500
