"""Reading JSON lines files (ads, corpora, feedback) as the raw bytes of each record."""

from __future__ import annotations

from collections.abc import Iterator


def read_lines(source) -> Iterator[bytes]:
    """Non-empty lines of a JSONL file (or stdin), as bytes, line endings removed."""
    for line in source:
        line = line.rstrip(b"\r\n")
        if line.strip():
            yield line
