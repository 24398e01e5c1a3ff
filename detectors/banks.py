"""Hash banks (minimal): entries with case ids, PDQ matching with dihedral variants."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

PDQ_THRESHOLD = 31
PDQ_MIN_QUALITY = 50


@dataclass(frozen=True)
class BankEntry:
    bank: str
    entry_id: str
    case_id: str | None
    source: str | None
    date: str | None
    pdq_variants: tuple[str, ...]


@dataclass
class BankSet:
    entries: list[BankEntry] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._rebuild()

    def _rebuild(self) -> None:
        rows, owners = [], []
        for i, e in enumerate(self.entries):
            for h in e.pdq_variants:
                rows.append(np.frombuffer(bytes.fromhex(h), dtype=np.uint8))
                owners.append(i)
        self._codes = np.array(rows, dtype=np.uint8).reshape(-1, 32)
        self._owners = np.array(owners, dtype=np.int64)

    def match(self, hashes: dict) -> list[dict]:
        if not len(self._codes) or hashes.get("pdq_quality", 0) < PDQ_MIN_QUALITY:
            return []
        q = np.frombuffer(bytes.fromhex(hashes["pdq"]), dtype=np.uint8)
        dist = np.unpackbits(self._codes ^ q, axis=1).sum(axis=1)
        best: dict[int, int] = {}
        for idx in np.nonzero(dist <= PDQ_THRESHOLD)[0]:
            owner = int(self._owners[idx])
            best[owner] = min(best.get(owner, 999), int(dist[idx]))
        return [{"bank": self.entries[o].bank, "entry_id": self.entries[o].entry_id,
                 "case_id": self.entries[o].case_id, "hash_type": "pdq", "distance": d}
                for o, d in sorted(best.items(), key=lambda kv: kv[1])]
