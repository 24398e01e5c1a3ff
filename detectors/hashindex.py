"""In-process Hamming index over binary hashes (faiss), for fast bank look-ups.

PDQ (256 bits, radius 31) uses multi-index hashing: 16 chunks of 16 bits probed with one bit
flipped, which by the pigeonhole principle finds every code within distance 31 exactly
(16 chunks, 31 differing bits: some chunk differs in at most one bit). 64-bit hashes use
faiss's exact SIMD scan. Both run single-threaded so a worker's core count stays predictable.
"""

from __future__ import annotations

import faiss
import numpy as np

faiss.omp_set_num_threads(1)


class HammingIndex:
    """Codes of `bits` bits with an integer label each; `search(code, radius)` -> [(label, d)]."""

    def __init__(self, bits: int) -> None:
        self.bits = bits
        if bits == 256:
            self._index = faiss.IndexBinaryMultiHash(bits, 16, 16)
            self._index.nflip = 1
            self.max_exact_radius = 31
        else:
            self._index = faiss.IndexBinaryFlat(bits)
            self.max_exact_radius = bits
        self._labels = np.empty(0, dtype=np.int64)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, codes: np.ndarray, labels: np.ndarray) -> None:
        codes = np.ascontiguousarray(codes, dtype=np.uint8).reshape(-1, self.bits // 8)
        self._index.add(codes)
        self._labels = np.concatenate([self._labels, np.asarray(labels, dtype=np.int64)])

    def search(self, code: bytes | np.ndarray, radius: int) -> list[tuple[int, int]]:
        """(label, distance) of every stored code within `radius`, closest first."""
        if not len(self):
            return []
        if radius > self.max_exact_radius:
            raise ValueError(f"radius {radius} is over this index's exact range")
        q = np.frombuffer(code, dtype=np.uint8) if isinstance(code, bytes) else code
        lims, dist, ids = self._index.range_search(q.reshape(1, -1), radius + 1)
        best: dict[int, int] = {}
        for i, d in zip(ids[lims[0]:lims[1]], dist[lims[0]:lims[1]], strict=True):
            label = int(self._labels[i])
            best[label] = min(best.get(label, 1 << 30), int(d))
        return sorted(best.items(), key=lambda kv: (kv[1], kv[0]))


def hex_codes(hexes: list[str], bits: int) -> np.ndarray:
    """Hex hash strings as a (n, bits/8) uint8 array."""
    if not hexes:
        return np.empty((0, bits // 8), dtype=np.uint8)
    return np.frombuffer(bytes.fromhex("".join(hexes)), dtype=np.uint8).reshape(-1, bits // 8)


def linear_scan(codes: np.ndarray, code: np.ndarray, radius: int) -> np.ndarray:
    """Indices within `radius` by a numpy scan: the baseline the benchmark compares against."""
    dist = np.unpackbits(codes ^ code, axis=1).sum(axis=1)
    return np.nonzero(dist <= radius)[0]
