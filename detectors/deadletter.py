"""Dead-letter records (schemas/dead_letter.v1.json): the reason, and the original bytes."""

from __future__ import annotations

import base64
import time

MAX_ORIGINAL_BYTES = 1024 * 1024


def dead_letter(
    *,
    stage: str,
    error_code: str,
    reason: str,
    original: bytes | None,
    ad_id: str | None = None,
    topic: str | None = None,
    partition: int | None = None,
    offset: int | None = None,
    **extra,
) -> dict:
    """A dead-letter record; the original is kept whole up to 1 MiB (its size is always given)."""
    original = original or b""
    record = {
        "schema_version": 1,
        "stage": stage,
        "error_code": error_code,
        "reason": reason,
        "ad_id": ad_id,
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "original_b64": base64.b64encode(original[:MAX_ORIGINAL_BYTES]).decode("ascii"),
        "original_size": len(original),
        "at": time.time(),
    }
    record.update(extra)
    return record
