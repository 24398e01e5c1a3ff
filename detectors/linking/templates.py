"""Near-duplicate text templates: MinHash signatures and an LSH index (datasketch).

An ad's template text (normalised, contacts and numbers replaced by placeholders) is cut into
word shingles; ads whose estimated Jaccard similarity is over the threshold share a template
(the "microcluster" idea of InfoShield). The LSH index's storage is injected: in memory for
`vigil score`, Redis for the stream so every worker shares one index (one round trip per ad).
"""

from __future__ import annotations

import bisect
import hashlib
import re
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from datasketch import MinHash, MinHashLSH

NUM_PERM = 64
SHINGLE_WORDS = 3
SIMILARITY_THRESHOLD = 0.6
MIN_SHINGLES = 8  # shorter texts are too generic to call a shared template
MAX_CANDIDATES = 32

_WORD = re.compile(r"[^\W_]+|<[a-z]+>", re.UNICODE)
_PROTOTYPE = MinHash(num_perm=NUM_PERM, seed=7)


@dataclass(frozen=True)
class TemplateSignature:
    """The MinHash of one ad's template text, or None when the text is too short."""

    minhash: MinHash | None
    shingles: int


def shingles(text: str, size: int = SHINGLE_WORDS) -> set[bytes]:
    words = _WORD.findall(text.lower())
    if len(words) < size:
        return set()
    return {" ".join(words[i : i + size]).encode() for i in range(len(words) - size + 1)}


def signature(template_text: str) -> TemplateSignature:
    grams = shingles(template_text)
    if len(grams) < MIN_SHINGLES:
        return TemplateSignature(None, len(grams))
    mh = _PROTOTYPE.copy()
    mh.update_batch(list(grams))
    return TemplateSignature(mh, len(grams))


def signature_key(sig: TemplateSignature) -> str:
    """A short stable digest of the signature (for logs and exact-duplicate checks)."""
    if sig.minhash is None:
        return ""
    return hashlib.blake2b(np.asarray(sig.minhash.hashvalues).tobytes(), digest_size=8).hexdigest()


def new_lsh_index(storage_config: dict | None = None) -> MinHashLSH:
    """A datasketch LSH index (used by tests and analyses that want datasketch's own API)."""
    kwargs = {"threshold": SIMILARITY_THRESHOLD, "num_perm": NUM_PERM}
    if storage_config:
        kwargs["storage_config"] = storage_config
    return MinHashLSH(**kwargs)


# Bands of the MinHash (datasketch's choice of b bands x r rows for the threshold): two ads
# are candidates when some band of their signatures is identical.
_BAND_RANGES: tuple[tuple[int, int], ...] = tuple(new_lsh_index().hashranges)


def band_keys(minhash: MinHash) -> list[str]:
    """One short key per band (band number + digest of its rows); equal band, equal key."""
    values = np.asarray(minhash.hashvalues, dtype=np.uint64)
    return [f"{i}:{hashlib.blake2b(values[a:b].tobytes(), digest_size=8).hexdigest()}"
            for i, (a, b) in enumerate(_BAND_RANGES)]


class TemplateStore(Protocol):
    """Where the bands and template ids live (memory for `vigil score`, Redis for the stream)."""

    def template_of(self, ad_id: str) -> str | None: ...

    def assign(self, ad_id: str, bands: list[str], max_candidates: int) -> str:
        """Atomically: the smallest template id among the `max_candidates` smallest ad ids
        sharing a band (or `ad_id` itself when none does); record it, add the ad to its bands.
        An ad already recorded keeps its template id."""
        ...

    def assign_many(self, items: list[tuple[str, list[str]]], max_candidates: int) -> list[str]:
        """`assign` for each (ad id, bands) in order, as if one after the other (a store may
        send them together)."""
        ...


class MemoryTemplateStore:
    """Bands as sorted member lists in memory."""

    def __init__(self) -> None:
        self._bands: dict[str, list[str]] = {}
        self._template_of: dict[str, str] = {}

    def template_of(self, ad_id: str) -> str | None:
        return self._template_of.get(ad_id)

    def assign(self, ad_id: str, bands: list[str], max_candidates: int) -> str:
        known = self._template_of.get(ad_id)
        if known:
            return known
        candidates: set[str] = set()
        for band in bands:
            candidates.update(self._bands.get(band, ())[:max_candidates])
        nearest = sorted(candidates)[:max_candidates]
        template_id = min((self._template_of[c] for c in nearest), default=ad_id)
        self._template_of[ad_id] = template_id
        for band in bands:
            bisect.insort(self._bands.setdefault(band, []), ad_id)
        return template_id

    def assign_many(self, items: list[tuple[str, list[str]]], max_candidates: int) -> list[str]:
        return [self.assign(ad_id, bands, max_candidates) for ad_id, bands in items]


class TemplateIndex:
    """Assigns each ad a template id: the id of the first ad of its near-duplicate group.

    The first `MAX_CANDIDATES` candidates in id order name the group: a popular template has
    thousands of members, and looking all of them up would make each ad O(group size).
    """

    def __init__(self, store: TemplateStore) -> None:
        self.store = store

    def assign(self, ad_id: str, template_text: str) -> str | None:
        """The ad's template id (None when its text is too short); a re-delivered ad keeps
        the id it was given first."""
        (template_id,) = self.assign_many([(ad_id, template_text)])
        return template_id

    def assign_many(self, items: list[tuple[str, str]]) -> list[str | None]:
        """`assign` for each (ad id, template text) in order; the store gets them in one call."""
        out: list[str | None] = [None] * len(items)
        banded: list[tuple[int, str, list[str]]] = []
        for i, (ad_id, text) in enumerate(items):
            sig = signature(text)
            if sig.minhash is None:
                out[i] = self.store.template_of(ad_id)
            else:
                banded.append((i, ad_id, band_keys(sig.minhash)))
        assigned = self.store.assign_many([(ad_id, bands) for _, ad_id, bands in banded], MAX_CANDIDATES)
        for (i, _, _), template_id in zip(banded, assigned, strict=True):
            out[i] = template_id
        return out


def memory_template_index() -> TemplateIndex:
    return TemplateIndex(MemoryTemplateStore())
