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
LATER_WRITERS = (3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
"""Writers 1 and 2 share `ads_dev.jsonl` / `ads_locked.jsonl.gz`; each later writer has its own files."""
FILES = {"dev": DATA / "ads_dev.jsonl", "locked": DATA / "ads_locked.jsonl.gz",
         **{f"{side}_w{n}": DATA / f"ads_{side}_w{n}.jsonl{'.gz' if side == 'locked' else ''}"
            for n in LATER_WRITERS for side in ("dev", "locked")}}
HALVES = {"dev": ("dev",), "dev_all": ("dev", "dev_w3"), "dev_w5_7": ("dev_w5", "dev_w6", "dev_w7"),
          "dev_w8_10_11": ("dev_w8", "dev_w10", "dev_w11"), "dev_w12_14": ("dev_w12", "dev_w13", "dev_w14"),
          "locked": ("locked",), "locked_all": ("locked", "locked_w3"),
          "locked_w5_7": ("locked_w5", "locked_w6", "locked_w7"),
          "locked_w8_10_11": ("locked_w8", "locked_w10", "locked_w11"),
          "locked_w12_14": ("locked_w12", "locked_w13", "locked_w14"),
          **{f"{side}_w{n}": (f"{side}_w{n}",) for n in LATER_WRITERS for side in ("dev", "locked")}}
"""Each half and the files it pools: writers 1+2 (`dev`, `locked`), each later writer alone
(`dev_w3` ... `locked_w15`), writers 1-3 (`*_all`), 5-7 (`*_w5_7`), 8, 10, 11 (`*_w8_10_11`) and
12-14 (`*_w12_14`) pooled. Writer 4 (2026-12-03) is kept apart from the vocabularies and from the model's training:
its dev half was read in aggregate only (it set scoring.yaml's model weights), its locked half by
`vigil bench detection` only. Writer 9 (written with 8, 10 and 11) is kept apart from
everything: no setting was chosen on it, and its dev half was first scored (aggregates only)
just before its locked half's first benchmark. Writers 5-8 and 10-14's dev halves train the
model; vocabulary was tuned on writers 7, 12 and 14's dev halves (their misses read,
2026-12-03). Writer 15 (written with 12-14, 2026-12-03, night) is kept apart from everything
like writer 9."""
DEV_HALVES_TRAINED_ON = ("dev", "dev_w3", "dev_w5", "dev_w6", "dev_w7", "dev_w8", "dev_w10", "dev_w11",
                         "dev_w12", "dev_w13", "dev_w14")
"""The dev halves `vigil model train --independent-dev` learns from (never a locked half, and
not writer 4's, 9's or 15's, kept apart as writers no model has read)."""


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
