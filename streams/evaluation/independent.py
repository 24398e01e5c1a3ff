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
         **{f"{side}_w{n}": DATA / f"ads_{side}_w{n}.jsonl{'.gz' if side == 'locked' else ''}"
            for n in (3, 4, 5, 6, 7) for side in ("dev", "locked")}}
HALVES = {"dev": ("dev",), "dev_all": ("dev", "dev_w3"), "dev_w5_7": ("dev_w5", "dev_w6", "dev_w7"),
          "locked": ("locked",), "locked_all": ("locked", "locked_w3"),
          "locked_w5_7": ("locked_w5", "locked_w6", "locked_w7"),
          **{f"{side}_w{n}": (f"{side}_w{n}",) for n in (3, 4, 5, 6, 7) for side in ("dev", "locked")}}
"""Each half and the files it pools: writers 1+2 (`dev`, `locked`), each later writer alone
(`dev_w3` ... `locked_w7`), writers 1-3 (`*_all`) and writers 5-7 (`*_w5_7`) pooled. Writer 4
(2026-12-03) is kept apart from the vocabularies and from the model's training: its dev half was
read in aggregate only (it set the model's `logit_scale`), its locked half by `vigil bench
detection` only. Writers 5-7 (2026-12-03) were never tuned on; their dev halves train the model."""
DEV_HALVES_TRAINED_ON = ("dev", "dev_w3", "dev_w5", "dev_w6", "dev_w7")
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
