"""The independently written evaluation ads (tests/data/independent): files, halves, loading.

Writers who never read the detectors or the generator wrote them; seeded splits made dev halves
(studied, tuned on, and what `vigil model train --independent-dev` learns from) and locked
halves that only `vigil bench detection` reads. See that directory's README.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from streams.errors import CliError

DATA = Path(__file__).resolve().parents[2] / "tests" / "data" / "independent"
FILES = {"dev": DATA / "ads_dev.jsonl", "locked": DATA / "ads_locked.jsonl.gz",
         "dev_w3": DATA / "ads_dev_w3.jsonl", "locked_w3": DATA / "ads_locked_w3.jsonl.gz",
         "dev_w4": DATA / "ads_dev_w4.jsonl", "locked_w4": DATA / "ads_locked_w4.jsonl.gz"}
HALVES = {"dev": ("dev",), "dev_w3": ("dev_w3",), "dev_all": ("dev", "dev_w3"),
          "dev_w4": ("dev_w4",),
          "locked": ("locked",), "locked_w3": ("locked_w3",), "locked_all": ("locked", "locked_w3"),
          "locked_w4": ("locked_w4",)}
"""Each half and the files it pools. Writer 4 (2026-12-03) is kept apart from the vocabularies
and from the model's training: its dev half was read in aggregate only (it set the model's
`logit_scale`), its locked half by `vigil bench detection` only."""
DEV_HALVES_TRAINED_ON = ("dev", "dev_w3")
"""The dev halves `vigil model train --independent-dev` learns from (never a locked half, and
not writer 4's, kept apart as a writer no model has read)."""


def load_half(path: Path) -> list[dict]:
    """The ads of one half (raw ad plus its `eval` label object)."""
    if not path.is_file():
        raise CliError(f"independent data not found: {path}")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def dev_ads_trained_on() -> list[dict]:
    """The ads of DEV_HALVES_TRAINED_ON, labelled by their `eval` objects."""
    return [ad for half in DEV_HALVES_TRAINED_ON for ad in load_half(FILES[half])]


def writer_of(ad: dict) -> str:
    """The writer of an independent ad ("writer1" ...), from the file it came from."""
    return ad["eval"].get("file", "?").split("/")[0]
