"""A template cluster in the form an analyst reads: the words its ads share, with a slot where
they differ ("New in [Reno | Elko] this week, call [slot: 3 values]"), as InfoShield (Lee et
al., ICDE 2021) shows template clusters of escort ads.

Every ad is aligned to one reference ad (the one that shares most words with the others, found
with difflib's matching blocks); a reference word that most ads share is fixed text, and what
each ad has between two fixed words is that slot's value. Pure: texts in, form out.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from difflib import SequenceMatcher

# words (a phone number, an e-mail or a hyphenated word is one) and runs of punctuation
TOKEN = re.compile(r"\w+(?:[-.'’@+/]\w+)*|[^\w\s]+")
PUNCTUATION = re.compile(r"[^\w\s]*")
FIXED_SHARE = 0.8  # a reference word found in this share of the other ads is fixed text
MAX_ADS = 20  # ads aligned per template (the newest ones, chosen by the caller)
MAX_TOKENS = 300  # words read per ad
REFERENCE_CANDIDATES = 3  # ads tried as the reference (each aligned with all the others)
SLOT_VALUES = 5  # distinct values kept per slot, most common first


@dataclass(frozen=True)
class Slot:
    """Where the ads differ: the most common values (empty string: the ad had nothing there)."""

    values: tuple[str, ...]
    distinct: int
    ads: int

    def label(self) -> str:
        shown = [v or "–" for v in self.values[:3]]
        more = f" +{self.distinct - len(shown)}" if self.distinct > len(shown) else ""
        return "[" + " | ".join(shown) + more + "]"


@dataclass(frozen=True)
class TemplateForm:
    parts: tuple[str | Slot, ...]
    ads: int

    @property
    def slots(self) -> list[Slot]:
        return [p for p in self.parts if isinstance(p, Slot)]

    def pieces(self) -> list[tuple[str, Slot | None]]:
        """(text, its slot or None) in order, each text with the space before it if it needs one."""
        out: list[tuple[str, Slot | None]] = []
        for i, part in enumerate(self.parts):
            text = part if isinstance(part, str) else part.label()
            space = "" if i == 0 or (isinstance(part, str) and _tight(text)) else " "
            out.append((space + text, None if isinstance(part, str) else part))
        return out

    def render(self) -> str:
        return "".join(text for text, _ in self.pieces())

    def fixed_share(self) -> float:
        """Share of the parts that are fixed text (1.0: the ads are word for word the same)."""
        return sum(isinstance(p, str) for p in self.parts) / len(self.parts) if self.parts else 0.0

    def as_record(self) -> dict:
        return {"ads": self.ads, "text": self.render(),
                "slots": [{"values": list(s.values), "distinct": s.distinct} for s in self.slots]}


def forms_by_template(ads: list[tuple[str | None, str]], limit: int = 5) -> list[tuple[str, TemplateForm]]:
    """(template id, form) for the templates that at least two of `ads` share, most ads first;
    `ads`: (template id, text), newest first (the newest MAX_ADS of each are aligned)."""
    texts: dict[str, list[str]] = {}
    for template_id, text in ads:
        if template_id:
            texts.setdefault(template_id, []).append(text)
    shared = sorted((t for t, group in texts.items() if len(group) >= 2), key=lambda t: (-len(texts[t]), t))
    out = []
    for template_id in shared[:limit]:
        form = template_form(texts[template_id])
        if form is not None:
            out.append((template_id, form))
    return out


def tokens(text: str) -> list[str]:
    return TOKEN.findall(text)[:MAX_TOKENS]


def _tight(word: str) -> bool:
    """Punctuation that follows the word before it without a space ("." "," "!!" ")")."""
    return not word[0].isalnum() and word[0] not in "([{\"'#$@"


def _join(words: list[str]) -> str:
    """Words back into text: no space before punctuation."""
    out = ""
    for w in words:
        out += w if not out or _tight(w) else " " + w
    return out


def _matched(ref: list[str], other: list[str]) -> dict[int, int]:
    """Reference position -> position in `other`, for words in matching blocks (case-blind)."""
    matcher = SequenceMatcher(None, [w.lower() for w in ref], [w.lower() for w in other], autojunk=False)
    return {a + k: b + k for a, b, size in matcher.get_matching_blocks() for k in range(size)}


def template_form(texts: list[str]) -> TemplateForm | None:
    """The readable form of ads that share a template; None for fewer than two non-empty ads."""
    docs = [t for t in (tokens(text) for text in texts[:MAX_ADS]) if t]
    if len(docs) < 2:
        return None
    maps = {}
    candidates = range(min(REFERENCE_CANDIDATES, len(docs)))
    for i in candidates:  # the reference: the ad sharing most words with the others
        maps[i] = [_matched(docs[i], other) for j, other in enumerate(docs) if j != i]
    best = max(candidates, key=lambda i: (sum(len(m) for m in maps[i]), -i))
    ref, others = docs[best], [d for j, d in enumerate(docs) if j != best]
    matched = maps[best]
    need = FIXED_SHARE * len(others)
    fixed = [p for p in range(len(ref)) if sum(p in m for m in matched) >= need]

    parts: list[str | Slot] = []
    run: list[str] = []

    def gap(doc: list[str], mapping: dict[int, int] | None, lo: int, hi: int) -> str | None:
        """What `doc` has between fixed reference positions lo and hi (-1 and len: the ends);
        None when the ad does not hold both fixed words in order."""
        if mapping is None:
            return _join(doc[lo + 1:hi if hi < len(doc) else None])
        start = -1 if lo < 0 else mapping.get(lo)
        end = len(doc) if hi >= len(ref) else mapping.get(hi)
        if start is None or end is None or end <= start:
            return None
        return _join(doc[start + 1:end])

    bounds = [-1, *fixed, len(ref)]
    for lo, hi in zip(bounds, bounds[1:], strict=False):
        values = [gap(ref, None, lo, hi)] + [gap(d, m, lo, hi) for d, m in zip(others, matched, strict=True)]
        seen = [v for v in values if v is not None]
        if all(PUNCTUATION.fullmatch(v) for v in seen):  # "!" against "!!": not a slot
            run += tokens(values[0] or "")
        elif any(seen):
            if run:
                parts.append(_join(run))
                run = []
            counts = Counter(seen)
            parts.append(Slot(values=tuple(v for v, _ in counts.most_common(SLOT_VALUES)),
                              distinct=len(counts), ads=len(seen)))
        if hi < len(ref):
            run.append(ref[hi])
    if run:
        parts.append(_join(run))
    return TemplateForm(parts=tuple(parts), ads=len(docs))
