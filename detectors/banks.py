"""Hash banks: named sets of photo hashes (e.g. `missing_children`, `previously_flagged`).

An entry carries its case id, source and date, and the hashes of the dihedral variants
(flips and 90° rotations) of the photo and of its centre crop, so a mirrored, rotated,
captioned or lightly cropped re-post still matches. Matching
goes through `HammingIndex` per hash type; a query whose PDQ quality is under 50 is not
matched by PDQ (low-information images match everything).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from detectors.hashindex import HammingIndex, hex_codes
from detectors.images import PDQ_MIN_QUALITY

# Distances at or under which a hash type counts as a match. PDQ 31 is ThreatExchange's
# default; the 64-bit hashes are kept tight because their false-positive rate rises fast
# (see `vigil bench images`, which measures the threshold at FPR <= 1e-4).
THRESHOLDS = {"pdq": 31, "dhash": 4, "phash": 4}
# pHash is computed and recorded, but not matched on: on low-texture photos (star fields,
# microscopy tiles) distinct images reach pHash distance 0 (see the benchmark's FPR row).
MATCH_KINDS = ("pdq", "dhash")
BITS = {"pdq": 256, "dhash": 64, "phash": 64}


@dataclass(frozen=True)
class BankEntry:
    bank: str
    entry_id: str
    case_id: str | None = None
    source: str | None = None
    date: str | None = None
    variants: tuple[dict, ...] = ()  # hashes of the dihedral variants: {pdq, phash, dhash, ...}

    def as_record(self) -> dict:
        return {"bank": self.bank, "entry_id": self.entry_id, "case_id": self.case_id,
                "source": self.source, "date": self.date, "variants": list(self.variants)}

    @classmethod
    def from_record(cls, rec: dict) -> BankEntry:
        return cls(rec["bank"], rec["entry_id"], rec.get("case_id"), rec.get("source"),
                   rec.get("date"), tuple(rec.get("variants", ())))


@dataclass
class BankSet:
    """All bank entries with one Hamming index per hash type."""

    entries: list[BankEntry] = field(default_factory=list)
    thresholds: dict[str, int] = field(default_factory=lambda: dict(THRESHOLDS))

    def __post_init__(self) -> None:
        self._indexes = {kind: HammingIndex(bits) for kind, bits in BITS.items()}
        for kind in BITS:
            hexes, labels = [], []
            for label, entry in enumerate(self.entries):
                for variant in entry.variants:
                    if variant.get("pdq_quality", 100) < PDQ_MIN_QUALITY:
                        continue
                    if variant.get(kind):
                        hexes.append(variant[kind])
                        labels.append(label)
            if hexes:
                self._indexes[kind].add(hex_codes(hexes, BITS[kind]), np.array(labels))

    def __len__(self) -> int:
        return len(self.entries)

    def match(self, *queries: dict) -> list[dict]:
        """Bank entries matching an image (given as one or more hash sets, e.g. the photo and
        its centre crop): one row per entry, with its closest hash type and distance."""
        found: dict[int, tuple[str, int]] = {}
        for hashes in queries:
            if hashes.get("pdq_quality", 0) < PDQ_MIN_QUALITY:
                continue  # a low-information image (flat, tiny) would match everything
            for kind in MATCH_KINDS:
                if not hashes.get(kind):
                    continue
                query = bytes.fromhex(hashes[kind])
                for label, distance in self._indexes[kind].search(query, self.thresholds[kind]):
                    if label not in found or distance < found[label][1]:
                        found[label] = (kind, distance)
        rows = []
        for label, (kind, distance) in sorted(found.items(), key=lambda kv: kv[1][1]):
            entry = self.entries[label]
            rows.append({"bank": entry.bank, "entry_id": entry.entry_id, "case_id": entry.case_id,
                         "source": entry.source, "hash_type": kind, "distance": distance})
        return rows

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for entry in self.entries:
            out[entry.bank] = out.get(entry.bank, 0) + 1
        return out
