"""Near-duplicate text templates: MinHash signatures and an LSH index (datasketch).

An ad's template text (normalised, contacts and numbers replaced by placeholders) is cut into
word shingles; ads whose estimated Jaccard similarity is over the threshold share a template
(the "microcluster" idea of InfoShield). The LSH index's storage is injected: in memory for
`vigil score`, Redis for the stream so every worker shares one index.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

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
    """An LSH index; `storage_config` is datasketch's (e.g. {"type": "redis", ...})."""
    kwargs = {"threshold": SIMILARITY_THRESHOLD, "num_perm": NUM_PERM}
    if storage_config:
        kwargs["storage_config"] = storage_config
    return MinHashLSH(**kwargs)


class TemplateIndex:
    """Assigns each ad a template id: the id of the first ad of its near-duplicate group.

    `lsh` holds the signatures (memory or Redis storage); `template_of` maps an ad id to its
    template id (a dict, or a Redis hash adapter), so every worker agrees on the ids.
    """

    def __init__(self, lsh: MinHashLSH, template_of) -> None:
        self.lsh = lsh
        self.template_of = template_of

    def assign(self, ad_id: str, template_text: str) -> str | None:
        known = self.template_of.get(ad_id)
        if known:  # a re-delivered ad keeps its template
            return known
        sig = signature(template_text)
        if sig.minhash is None:
            return None
        # the first few candidates (in a stable order) name the group; a popular template has
        # thousands of members and looking all of them up would make each ad O(group size)
        candidates = sorted(self.lsh.query(sig.minhash))[:MAX_CANDIDATES]
        template_ids = sorted(t for t in (self.template_of.get(c) for c in candidates) if t)
        template_id = template_ids[0] if template_ids else ad_id
        self.template_of[ad_id] = template_id
        self.lsh.insert(ad_id, sig.minhash, check_duplication=False)
        return template_id


def memory_template_index() -> TemplateIndex:
    return TemplateIndex(new_lsh_index(), {})
