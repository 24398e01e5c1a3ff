"""Hash banks: named sets of photo hashes (e.g. `missing_children`, `previously_flagged`).

An entry carries its case id, source and date, and the hashes of its variants
(`detectors.images.hashing.bank_variants`: the photo's eight flips and 90-degree rotations, and its
centre crop and the crop's mirror), so a mirrored, rotated, captioned or cropped re-post still
matches. `BankSet` indexes every variant per hash type and part (`HammingIndex`, exact
multi-index hashing) and reports, per matching entry, the hash type with the smallest distance.

Quality gate: a query or bank variant whose PDQ quality is under 50 is never matched by any
hash type; flat or tiny images have near-constant hashes and would match each other.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from detectors.images.hashindex import HammingIndex, hex_codes
from detectors.images.hashing import PDQ_MIN_QUALITY

# Distance at or under which a hash type counts as a match. `vigil bench images` measures, on
# pairs of distinct photographs, the largest distance whose false-positive rate stays <= 1e-4,
# and the true-positive rate per re-post edit at these values:
# - PDQ 31 is ThreatExchange's default; the bench's FPR-1e-4 ceiling for PDQ is far above it
#   (different photos sit at 60+ bits), so 31 keeps a wide margin for larger, unseen banks.
# - dHash (64 bits): distinct photos come within 8 bits, so it stays tight.
THRESHOLDS = {"pdq": 31, "dhash": 4, "phash": 4}
BITS = {"pdq": 256, "phash": 64, "dhash": 64}
# Hash types matched, in order of preference when distances tie. pHash is computed and recorded
# but not matched: regions of one low-texture photo (star field, microscopy, the round retina)
# reach pHash distance 0 from each other (the benchmark's same-photo row).
MATCH_KINDS = ("pdq", "dhash")
# Variants are tagged with the part of the photo they hash (see detectors.images.hashing.bank_variants);
# a query's full photo is compared with every bank part, its centre crop with centre crops.
PARTS = ("full", "centre")
SEARCHED_PARTS = {"full": ("full", "centre"), "centre": ("centre",)}


@dataclass(frozen=True, slots=True)
class BankEntry:
    bank: str
    entry_id: str
    case_id: str | None = None
    source: str | None = None
    date: str | None = None
    variants: tuple[dict, ...] = ()  # hashes of the dihedral variants: {pdq, pdq_quality, ...}

    @property
    def key(self) -> str:
        return f"{self.bank}/{self.entry_id}"

    @property
    def quality(self) -> int:
        """The best PDQ quality of its variants; under 50 the entry can never match."""
        return max((int(v.get("pdq_quality", 0)) for v in self.variants), default=0)

    def as_record(self) -> dict:
        return {"bank": self.bank, "entry_id": self.entry_id, "case_id": self.case_id,
                "source": self.source, "date": self.date, "variants": list(self.variants)}

    @classmethod
    def from_record(cls, rec: dict) -> BankEntry:
        """An entry from `as_record()` output; a missing bank, id or hash is a ValueError."""
        if not isinstance(rec, dict) or not rec.get("bank") or not rec.get("entry_id"):
            raise ValueError("a bank entry needs 'bank' and 'entry_id'")
        variants = tuple(rec.get("variants") or ())
        for variant in variants:
            for kind, bits in BITS.items():
                value = variant.get(kind)
                if value is not None and (not isinstance(value, str)
                                          or len(value) != bits // 4):
                    raise ValueError(f"entry {rec['entry_id']}: {kind} must be {bits // 4} hex "
                                     "digits")
        return cls(str(rec["bank"]), str(rec["entry_id"]), rec.get("case_id"), rec.get("source"),
                   rec.get("date"), variants)


@dataclass(frozen=True, slots=True)
class BankMatch:
    """One bank entry matched by one image, with the closest hash type."""

    bank: str
    entry_id: str
    case_id: str | None
    source: str | None
    hash_type: str
    distance: int

    def as_dict(self) -> dict:
        return {"bank": self.bank, "entry_id": self.entry_id, "case_id": self.case_id,
                "source": self.source, "hash_type": self.hash_type, "distance": self.distance}


@dataclass
class BankSet:
    """All bank entries with one Hamming index per hash type. Immutable once built: the shell
    builds a new BankSet on a change and swaps it in, so a match never sees half an update."""

    entries: list[BankEntry] = field(default_factory=list)
    thresholds: dict[str, int] = field(default_factory=lambda: dict(THRESHOLDS))

    def __post_init__(self) -> None:
        self._indexes = {(kind, part): HammingIndex(BITS[kind], self.thresholds[kind])
                         for kind in MATCH_KINDS for part in PARTS}
        for (kind, part), index in self._indexes.items():
            hexes, labels = [], []
            for label, entry in enumerate(self.entries):
                for variant in entry.variants:
                    if (variant.get("part", "full") == part and variant.get(kind)
                            and variant.get("pdq_quality", 0) >= PDQ_MIN_QUALITY):
                        hexes.append(variant[kind])
                        labels.append(label)
            index.add(hex_codes(hexes, BITS[kind]), np.array(labels, np.int64))
            index.compact()

    @classmethod
    def from_codes(cls, entries: list[BankEntry],
                   codes: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]],
                   thresholds: dict[str, int] | None = None) -> BankSet:
        """A BankSet from ready code arrays, {(kind, part): ((n, bits/8) uint8 codes, entry
        positions)}: for large synthetic banks (the benchmark). Entries' variants are ignored."""
        bank = cls([], dict(thresholds or THRESHOLDS))
        bank.entries = list(entries)
        for key, (kind_codes, labels) in codes.items():
            bank._indexes[key].add(kind_codes, labels)
            bank._indexes[key].compact()
        return bank

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def memory_bytes(self) -> int:
        """Bytes held by the indexes (not counting the entries' metadata)."""
        return sum(index.memory_bytes for index in self._indexes.values())

    def match(self, *queries: dict) -> list[dict]:
        """Bank entries matching an image, given one or more hash sets of it ({pdq, pdq_quality,
        phash, dhash}, e.g. the photo and its centre crop): one row per entry with its closest
        hash type, closest first. Low-quality or malformed hashes match nothing."""
        return [m.as_dict() for m in self.matches(*queries)]

    def matches(self, *queries: dict) -> list[BankMatch]:
        found: dict[int, tuple[int, int, str, int]] = {}
        if not self.entries:
            return []
        for hashes in queries:
            if hashes.get("pdq_quality", 0) < PDQ_MIN_QUALITY:
                continue  # a low-information image (flat, tiny) would match everything
            parts = SEARCHED_PARTS.get(hashes.get("part", "full"), ())
            for rank, kind in enumerate(MATCH_KINDS):
                query = _query_bytes(hashes.get(kind), BITS[kind])
                if query is None:
                    continue
                for part in parts:
                    index = self._indexes[(kind, part)]
                    for label, distance in index.search(query, self.thresholds[kind]):
                        # closest as a fraction of the hash length; PDQ first on ties
                        candidate = (distance * 256 // BITS[kind], rank, kind, distance)
                        if label not in found or candidate < found[label]:
                            found[label] = candidate
        rows = []
        for label, (_, _, kind, distance) in sorted(found.items(), key=lambda kv: (kv[1], kv[0])):
            entry = self.entries[label]
            rows.append(BankMatch(entry.bank, entry.entry_id, entry.case_id, entry.source,
                                  kind, distance))
        return rows

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for entry in self.entries:
            out[entry.bank] = out.get(entry.bank, 0) + 1
        return out


def _query_bytes(value, bits: int) -> bytes | None:
    if not isinstance(value, str) or len(value) != bits // 4:
        return None
    try:
        return bytes.fromhex(value)
    except ValueError:
        return None


def unmatchable(entries: Iterable[BankEntry]) -> list[BankEntry]:
    """Entries whose photo has too little detail (PDQ quality < 50) to ever match."""
    return [entry for entry in entries if entry.quality < PDQ_MIN_QUALITY]
