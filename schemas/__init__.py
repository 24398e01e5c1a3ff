"""Versioned JSON Schemas of every record on every topic, and a loader for them."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

SCHEMA_FILES = {
    "raw_ad": "raw_ad.v1.json",
    "scored_ad": "scored_ad.v1.json",
    "alert": "alert.v1.json",
    "dead_letter": "dead_letter.v1.json",
    "feedback": "feedback.v1.json",
}
SUPPORTED_AD_VERSIONS = frozenset({1})


@cache
def load_schema(name: str) -> dict:
    """The JSON Schema called `name` (a key of SCHEMA_FILES)."""
    text = resources.files(__name__).joinpath(SCHEMA_FILES[name]).read_text("utf-8")
    return json.loads(text)
