"""In-process Hamming index over binary hashes: exact multi-index hashing in numpy.

Every code is cut into m chunks of about bits/m bits. If two codes differ in at most r bits,
then by the pigeonhole principle some chunk differs in at most floor(r / m) bits; so probing
each chunk's bucket and its neighbours within that many bit flips finds every code within r,
and checking the candidates' full distance removes the rest. The search is exact (no missed
matches) for any radius up to `max_radius`.

The chunk width follows the number of codes (`plan_chunks`): wide chunks mean more probes
but smaller buckets, so a large index uses 21-22-bit chunks (PDQ at 8M codes: 12 chunks, two
flips, about 3,000 probes and 12,000 candidates a query instead of 272 and 33,000 with
16-bit chunks).
Buckets are a counting sort per chunk (an offsets table and the code ids in bucket order), so
a probe is two array reads and a query is a handful of vectorised numpy operations with no
Python loop per candidate. Adds go to a small unsorted tail scanned directly and are folded
in when it grows; removals are tombstones. Single-threaded.
"""

from __future__ import annotations

from itertools import combinations
from math import ceil, comb

import numpy as np

TAIL_LIMIT = 65_536  # unsorted codes scanned directly before the buckets are rebuilt
MAX_FLIPS = 3
MIN_TABLE_BYTES = 4 << 20  # offsets tables may always use this much, else no more than the codes


def plan_chunks(bits: int, radius: int, n: int) -> tuple[int, ...]:
    """Chunk lengths (summing to `bits`) that minimise probes plus candidates for `n` codes."""
    best: tuple[float, tuple[int, ...]] | None = None
    budget = max(MIN_TABLE_BYTES, n * bits // 8)
    for m in range(max(1, ceil(bits / 24)), bits // 4 + 1):
        longest, shortest = ceil(bits / m), bits // m
        flips = radius // m
        if flips > MAX_FLIPS or m * ((1 << longest) + 1) * 4 > budget:
            continue
        probes = m * sum(comb(longest, k) for k in range(flips + 1))
        cost = probes * (1 + n / (1 << shortest))
        if best is None or cost < best[0]:
            lengths = tuple(longest if i < bits % m else shortest for i in range(m))
            best = (cost, lengths if bits % m else (shortest,) * m)
    if best is None:
        raise ValueError(f"radius {radius} over {bits} bits needs more than {MAX_FLIPS} flips "
                         "a chunk at any chunk width")
    return best[1]


def _flip_masks(length: int, flips: int) -> np.ndarray:
    """XOR masks of every way to flip at most `flips` of a chunk's `length` bits (0 first)."""
    masks = [0]
    for k in range(1, flips + 1):
        masks.extend(sum(1 << b for b in combo) for combo in combinations(range(length), k))
    return np.array(masks, dtype=np.int64)


def _big_endian_words(codes: np.ndarray) -> np.ndarray:
    """(n, bytes) uint8 codes as (n, bytes/8) native uint64, most significant byte first."""
    return codes.view(">u8").astype(np.uint64).reshape(len(codes), codes.shape[1] // 8)


def _chunk_values(words: np.ndarray, start: int, length: int) -> np.ndarray:
    """Bits [start, start+length) of every code (see `_big_endian_words`) as int64."""
    w, offset = divmod(start, 64)
    if offset + length <= 64:
        values = words[:, w] >> np.uint64(64 - offset - length)
    else:
        spill = offset + length - 64
        values = ((words[:, w] << np.uint64(spill))
                  | (words[:, w + 1] >> np.uint64(64 - spill)))
    return (values & np.uint64((1 << length) - 1)).astype(np.int64)


def _stable_order(values: np.ndarray) -> np.ndarray:
    """np.argsort(values, kind="stable") for values under 2**32, as two 16-bit radix passes
    (numpy radix-sorts only 16-bit keys; a 22-bit key would take the slower merge sort)."""
    order = np.argsort((values & 0xFFFF).astype(np.uint16), kind="stable")
    high = (values[order] >> 16).astype(np.uint16)
    return order[np.argsort(high, kind="stable")]


def as_words(codes: np.ndarray) -> np.ndarray:
    """(n, bytes) uint8 codes viewed as (n, bytes/8) uint64 words (XOR/popcount need no order)."""
    codes = np.ascontiguousarray(codes, dtype=np.uint8)
    return codes.view(np.uint64).reshape(len(codes), codes.shape[1] // 8)


def popcount_distance(words: np.ndarray, code_words: np.ndarray) -> np.ndarray:
    """Hamming distance from one code to each row, both as uint64 words (see `as_words`).

    Columns are added one by one: numpy's sum over a short last axis is several times slower."""
    counts = np.bitwise_count(words ^ code_words).astype(np.uint16)
    total = counts[:, 0]
    for column in range(1, counts.shape[1]):
        total += counts[:, column]
    return total


class HammingIndex:
    """Codes of `bits` bits, each with an integer label; `search(code, radius)` is exact."""

    def __init__(self, bits: int, max_radius: int) -> None:
        if bits % 64:
            raise ValueError(f"bits must be a multiple of 64, not {bits}")
        plan_chunks(bits, max_radius, 0)  # refuses a radius no chunking can serve
        self.bits, self.nbytes, self.max_radius = bits, bits // 8, max_radius
        self._codes = np.empty((0, self.nbytes), dtype=np.uint8)
        self._words = as_words(self._codes)
        self._labels = np.empty(0, dtype=np.int64)
        self._removed = np.zeros(0, dtype=bool)
        self._removed_count = 0
        self._sorted = 0  # codes [0, _sorted) are in the buckets, the rest are the tail
        self._set_plan(())

    def _set_plan(self, lengths: tuple[int, ...]) -> None:
        self.chunk_lengths = lengths
        self._starts = np.cumsum((0, *lengths))[:-1].tolist()
        flips = self.max_radius // len(lengths) if lengths else 0
        masks = [_flip_masks(length, flips) for length in lengths]
        table_sizes = [(1 << length) + 1 for length in lengths]
        self._table_base = np.cumsum((0, *table_sizes))[:-1]
        self._probe_chunk = np.concatenate(
            [np.full(len(m), c) for c, m in enumerate(masks)]).astype(np.int64) \
            if masks else np.empty(0, np.int64)
        self._probe_masks = np.concatenate(masks) if masks else np.empty(0, np.int64)
        self._offsets = np.zeros(sum(table_sizes), dtype=np.uint32)
        self._order = np.empty(0, dtype=np.uint32)

    def __len__(self) -> int:
        return len(self._codes) - self._removed_count

    @property
    def memory_bytes(self) -> int:
        return int(self._codes.nbytes + self._labels.nbytes + self._order.nbytes
                   + self._offsets.nbytes + self._removed.nbytes)

    def add(self, codes: np.ndarray, labels: np.ndarray) -> None:
        """Add codes ((n, bits/8) uint8) with their labels; cheap for small batches."""
        codes = np.ascontiguousarray(codes, dtype=np.uint8).reshape(-1, self.nbytes)
        labels = np.asarray(labels, dtype=np.int64).reshape(-1)
        if len(codes) != len(labels):
            raise ValueError(f"{len(codes)} codes but {len(labels)} labels")
        self._codes = np.concatenate([self._codes, codes])
        self._words = as_words(self._codes)
        self._labels = np.concatenate([self._labels, labels])
        self._removed = np.concatenate([self._removed, np.zeros(len(codes), dtype=bool)])
        if len(self._codes) - self._sorted > TAIL_LIMIT:
            self.compact()

    def remove_labels(self, labels) -> int:
        """Tombstone every code carrying one of `labels`; returns how many codes went."""
        hit = np.isin(self._labels, np.asarray(list(labels), dtype=np.int64)) & ~self._removed
        self._removed |= hit
        self._removed_count += int(hit.sum())
        return int(hit.sum())

    def compact(self, chunk_lengths: tuple[int, ...] | None = None) -> None:
        """Drop removed codes and put every code in the buckets (after a bulk load); the chunk
        lengths are planned for the number of codes unless given (they must sum to `bits`)."""
        if chunk_lengths is not None and (sum(chunk_lengths) != self.bits
                                          or self.max_radius // len(chunk_lengths) > MAX_FLIPS):
            raise ValueError(f"chunk lengths {chunk_lengths} do not fit {self.bits} bits")
        if self._removed_count:
            keep = ~self._removed
            self._codes, self._labels = self._codes[keep], self._labels[keep]
            self._words = as_words(self._codes)
            self._removed = np.zeros(len(self._codes), dtype=bool)
            self._removed_count = 0
        n = len(self._codes)
        self._set_plan(chunk_lengths or plan_chunks(self.bits, self.max_radius, n))
        big_endian = _big_endian_words(self._codes)
        order = np.empty((len(self.chunk_lengths), n), dtype=np.uint32)
        for c, (start, length) in enumerate(zip(self._starts, self.chunk_lengths, strict=True)):
            values = _chunk_values(big_endian, start, length)
            order[c] = _stable_order(values)
            base = int(self._table_base[c])
            counts = np.bincount(values, minlength=1 << length)
            self._offsets[base + 1: base + 1 + (1 << length)] = np.cumsum(counts)
        self._order, self._sorted = order.ravel(), n

    def _candidates(self, code: np.ndarray) -> np.ndarray:
        """Ids of every bucketed code that agrees with `code` on some chunk up to the flips."""
        if not self._sorted:
            return np.empty(0, dtype=np.int64)
        whole = int.from_bytes(code.tobytes(), "big")
        values = np.array([(whole >> (self.bits - start - length)) & ((1 << length) - 1)
                           for start, length in zip(self._starts, self.chunk_lengths,
                                                    strict=True)], dtype=np.int64)
        slots = (self._table_base[self._probe_chunk]
                 + (values[self._probe_chunk] ^ self._probe_masks))
        starts = self._offsets[slots].astype(np.int64)
        lengths = self._offsets[slots + 1].astype(np.int64) - starts
        hit = lengths > 0
        starts, lengths = starts[hit] + self._probe_chunk[hit] * self._sorted, lengths[hit]
        total = int(lengths.sum())
        if not total:
            return np.empty(0, dtype=np.int64)
        ends = np.cumsum(lengths)
        positions = np.arange(total) + np.repeat(starts - (ends - lengths), lengths)
        return np.take(self._order, positions).astype(np.int64)

    def search(self, code: bytes | np.ndarray, radius: int) -> list[tuple[int, int]]:
        """(label, distance) of every stored code within `radius`, closest first, one per label."""
        if radius > self.max_radius:
            raise ValueError(f"radius {radius} is over this index's exact range "
                             f"({self.max_radius})")
        q = np.frombuffer(code, dtype=np.uint8) if isinstance(code, bytes) else np.asarray(
            code, dtype=np.uint8)
        if q.size != self.nbytes:
            raise ValueError(f"query has {q.size * 8} bits, index holds {self.bits}")
        if not len(self._codes):
            return []
        ids = self._candidates(q)
        if self._sorted < len(self._codes):
            ids = np.concatenate([ids, np.arange(self._sorted, len(self._codes))])
        if not len(ids):
            return []
        dist = popcount_distance(np.take(self._words, ids, axis=0), q.view(np.uint64))
        keep = dist <= radius
        if self._removed_count:
            keep &= ~self._removed[ids]
        best: dict[int, int] = {}
        for label, d in zip(self._labels[ids[keep]].tolist(), dist[keep].tolist(), strict=True):
            if d < best.get(label, radius + 1):
                best[label] = d
        return sorted(best.items(), key=lambda kv: (kv[1], kv[0]))


def hex_codes(hexes: list[str], bits: int) -> np.ndarray:
    """Hex hash strings as a (n, bits/8) uint8 array."""
    if not hexes:
        return np.empty((0, bits // 8), dtype=np.uint8)
    return np.frombuffer(bytes.fromhex("".join(hexes)), dtype=np.uint8).reshape(-1, bits // 8)


def linear_scan(codes: np.ndarray, code: np.ndarray, radius: int) -> np.ndarray:
    """Indices within `radius` by a full numpy scan: the baseline the benchmark compares against."""
    return np.nonzero(popcount_distance(as_words(codes), as_words(code.reshape(1, -1))[0])
                      <= radius)[0]
