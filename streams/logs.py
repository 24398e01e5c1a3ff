"""Structured logs: one JSON object per line on stderr, with ids and hashed identifiers only.

Log calls pass context as `extra={"ad_id": ..., "alert_id": ...}`; identifiers that are PII
(phone numbers, e-mails, handles) go through `hashed()` first. As a second line of defence the
formatter masks anything that looks like a phone number in the message and traceback.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import logging
import os
import re
import sys
import time
from pathlib import Path

LEVELS = ("debug", "info", "warning", "error", "critical")
# chatty libraries and the level they keep unless debugging
NOISY = {"kafka": logging.ERROR, "aiokafka": logging.ERROR, "httpx": logging.ERROR, "httpcore": logging.ERROR,
         "librdkafka": logging.WARNING, "urllib3": logging.WARNING}
# fields of a LogRecord that are not extras
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime", "taskName"}
# 9+ digits, possibly split by single separators (E.164 and national formats); not inside words
PHONE_LIKE = re.compile(r"(?<![\w.:-])\+?\(?\d(?:[\s().-]{0,2}\d){8,}(?![\w])")
DECIMAL = re.compile(r"\d+\.\d+")


# only on loopback: beyond it a process refuses to start without its own key (streams/preflight.py)
BUILT_IN_HASH_KEY = "vigil-log-hash"


@functools.lru_cache(maxsize=4)
def _key_from(value: str, path: str) -> bytes:
    if value:
        return value.encode()
    if path:
        key = Path(path).read_bytes().strip()
        if not key:
            raise ValueError(f"VIGIL_LOG_HASH_KEY_FILE {path} is empty")
        return key
    return BUILT_IN_HASH_KEY.encode()


def log_hash_key_setting() -> str | None:
    """Which setting gives the log hash key (None: the built-in default)."""
    if os.environ.get("VIGIL_LOG_HASH_KEY"):
        return "VIGIL_LOG_HASH_KEY"
    return "VIGIL_LOG_HASH_KEY_FILE" if os.environ.get("VIGIL_LOG_HASH_KEY_FILE") else None


def log_hash_key() -> bytes:
    """The HMAC key of `hashed`: VIGIL_LOG_HASH_KEY, else the file VIGIL_LOG_HASH_KEY_FILE names,
    else the built-in default (which is fine on loopback only)."""
    return _key_from(os.environ.get("VIGIL_LOG_HASH_KEY", ""), os.environ.get("VIGIL_LOG_HASH_KEY_FILE", ""))


def hashed(value: str) -> str:
    """A stable, keyed digest of an identifier (HMAC-SHA256, key from `log_hash_key`): logs can
    be joined on it without holding the phone number or e-mail itself."""
    return "h:" + hmac.new(log_hash_key(), value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[:16]


def redact(text: str) -> str:
    return PHONE_LIKE.sub(lambda m: m[0] if DECIMAL.fullmatch(m[0]) else "[redacted-number]", text)


class JsonFormatter(logging.Formatter):
    """`{"ts", "level", "logger", "msg", ...extras, "exc"}` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                doc[key] = value
        if record.exc_info:
            doc["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(doc, ensure_ascii=False, default=str)


class DropCancelledMetadataRefresh(logging.Filter):
    """kafka-python 3 logs 'Metadata refresh: failed Cancelled' at error level whenever a client
    closes or a poll returns while a metadata request is in flight: no failure, only noise that
    reads like one. Any other metadata failure is kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name == "kafka.cluster" and record.msg == "Metadata refresh: failed %s"
                    and record.args and type(record.args[0]).__name__ == "Cancelled")


class RepeatFilter(logging.Filter):
    """Lets one record per (logger, message template) through every `every_s` seconds for
    loggers under `prefixes`; the next one carries `repeats_suppressed`. aiokafka logs "Unable
    connect to node" thousands of times a second while the broker is down (the fault suite saw
    22 MB in 20 s); one line every few seconds says the same."""

    def __init__(self, prefixes: tuple[str, ...] = ("aiokafka", "kafka"),
                 every_s: float = 10.0, clock=time.monotonic) -> None:
        super().__init__()
        self.prefixes, self.every_s, self.clock = prefixes, every_s, clock
        self._last: dict[tuple[str, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(self.prefixes):
            return True
        key = (record.name, str(record.msg))
        now = self.clock()
        last = self._last.get(key)
        if last is not None and now - last[0] < self.every_s:
            self._last[key] = (last[0], last[1] + 1)
            return False
        if last is not None and last[1]:
            record.repeats_suppressed = last[1]
        if len(self._last) > 1000:  # templates are few; never grow without bound
            self._last.clear()
        self._last[key] = (now, 0)
        return True


def setup_logging(level: str = "info") -> None:
    """Root logger → JSON lines on stderr; chatty libraries kept at warning unless debugging."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(DropCancelledMetadataRefresh())
    handler.addFilter(RepeatFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name, quiet in NOISY.items():
        logging.getLogger(name).setLevel(logging.DEBUG if level == "debug" else quiet)
    logging.captureWarnings(True)
