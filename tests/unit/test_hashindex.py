"""The Hamming index is exact: it returns what a full scan returns, for any radius it allows."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.images.hashindex import HammingIndex, hex_codes, linear_scan


def flip_bits(code: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    out = code.copy()
    for bit in rng.choice(code.size * 8, count, replace=False):
        out[bit // 8] ^= np.uint8(1 << (bit % 8))
    return out


def scan(codes: np.ndarray, labels: np.ndarray, query: np.ndarray, radius: int) -> dict:
    """label -> smallest distance, by brute force."""
    dist = np.unpackbits(codes ^ query, axis=1).sum(axis=1)
    best: dict[int, int] = {}
    for i in np.nonzero(dist <= radius)[0]:
        best[int(labels[i])] = min(best.get(int(labels[i]), 999), int(dist[i]))
    return best


# chunkings a large index would choose (2 flips a chunk), forced onto small test indexes
FORCED = {256: (22, 22, 22, 22) + (21,) * 8, 64: (22, 21, 21)}


@settings(max_examples=60, deadline=None)
@given(bits=st.sampled_from([64, 256]), seed=st.integers(0, 2**32 - 1),
       size=st.integers(1, 3000), compact=st.sampled_from(["no", "planned", "forced"]))
def test_search_equals_a_full_scan(bits, seed, size, compact):
    rng = np.random.default_rng(seed)
    radius = 31 if bits == 256 else 7
    codes = rng.integers(0, 256, (size, bits // 8), dtype=np.uint8)
    # plant near neighbours at every distance up to just past the radius
    base = codes[int(rng.integers(size))]
    near = np.array([flip_bits(base, d, rng) for d in range(radius + 3)])
    codes = np.concatenate([codes, near])
    labels = rng.integers(0, max(size // 3, 1), len(codes))  # labels repeat, like variants
    index = HammingIndex(bits, radius)
    index.add(codes, labels)
    if compact != "no":
        index.compact(FORCED[bits] if compact == "forced" else None)
    query = flip_bits(base, int(rng.integers(0, 4)), rng)
    assert dict(index.search(query.tobytes(), radius)) == scan(codes, labels, query, radius)


def test_results_are_sorted_closest_first_one_row_per_label():
    rng = np.random.default_rng(1)
    base = rng.integers(0, 256, 32, dtype=np.uint8)
    codes = np.array([flip_bits(base, d, rng) for d in (9, 3, 20, 3, 40)])
    index = HammingIndex(256, 31)
    index.add(codes, np.array([7, 5, 6, 7, 8]))
    index.compact()
    assert index.search(base.tobytes(), 31) == [(5, 3), (7, 3), (6, 20)]


def test_adds_after_a_compact_are_found_and_removed_labels_are_not():
    rng = np.random.default_rng(2)
    codes = rng.integers(0, 256, (5000, 8), dtype=np.uint8)
    index = HammingIndex(64, 6)
    index.add(codes, np.arange(5000))
    index.compact()
    late = flip_bits(codes[10], 2, rng)
    index.add(late.reshape(1, -1), np.array([99_999]))
    assert (99_999, 2) in index.search(codes[10].tobytes(), 6)
    assert index.remove_labels([10, 99_999]) == 2
    labels = [label for label, _ in index.search(codes[10].tobytes(), 6)]
    assert 10 not in labels and 99_999 not in labels
    assert len(index) == 5000 - 1
    index.compact()
    assert 10 not in [label for label, _ in index.search(codes[10].tobytes(), 6)]


def test_bad_queries_are_refused_clearly():
    index = HammingIndex(256, 31)
    index.add(np.zeros((1, 32), dtype=np.uint8), np.array([0]))
    with pytest.raises(ValueError, match="over this index's exact range"):
        index.search(bytes(32), 32)
    with pytest.raises(ValueError, match="bits"):
        index.search(bytes(8), 10)
    with pytest.raises(ValueError, match="more than 3 flips"):
        HammingIndex(64, 64)
    assert HammingIndex(64, 6).search(bytes(8), 6) == []


def test_linear_scan_and_hex_codes_agree_with_the_index():
    rng = np.random.default_rng(3)
    hexes = [rng.integers(0, 256, 8, dtype=np.uint8).tobytes().hex() for _ in range(300)]
    codes = hex_codes(hexes, 64)
    assert codes.shape == (300, 8) and codes[5].tobytes().hex() == hexes[5]
    index = HammingIndex(64, 7)
    index.add(codes, np.arange(300))
    query = flip_bits(codes[42], 5, rng)
    assert sorted(label for label, _ in index.search(query.tobytes(), 7)) == \
        sorted(linear_scan(codes, query, 7).tolist())
