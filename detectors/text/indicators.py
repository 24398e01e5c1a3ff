"""Red-flag indicators from the lexicon (detectors/text/lexicon.yaml, compiled by `lexicon`), with evidence spans.

All phrases and emoji of the lexicon go into one Aho-Corasick automaton run over the normalised,
lowercased text (so spaced-out letters, homoglyphs, accents and HTML do not hide them); the few
regex patterns run separately. A match is dropped when it is negated ("not new in town"), when a
benign word sits in the same sentence nearby ("fresh cherries", "new dental office"), or when
its indicator requires an adult-services context the ad lacks. One result per indicator id.
"""

from __future__ import annotations

import re
from bisect import bisect_left

from detectors.text.adtext import analyse_ad
from detectors.text.lexicon import Lexicon, default_lexicon

MAX_EVIDENCE_PER_INDICATOR = 5
BENIGN_WINDOW = 60
REGEX_WINDOW = 80
_NEGATION = re.compile(
    r"(?:^|[^a-z])(?:no|not|never|nunca|sin|isn't|isnt|aren't|arent|don't|dont|wasn't|ni|nor)"
    r"(?:[^a-z.!?\n]{1,3}[a-z']{1,15}){0,2}[^a-z.!?\n]{1,3}$"
)
_SENTENCE_END = re.compile(r"[.!?\n]")


def _field_hits(lowered: str, lexicon: Lexicon, scanned: list | None = None):
    """(indicator hits {idx: [(start, end)]}, context hits {name: [(start, end)]}) in one text.

    `scanned` is `lexicon.automaton.iter(lowered)` when the caller has it already."""
    hits: dict[int, list[tuple[int, int]]] = {}
    ctx_hits: dict[str, list[tuple[int, int]]] = {}
    n = len(lowered)
    windows: dict[int, list[tuple[int, int]]] = {}
    if scanned is None:
        scanned = list(lexicon.automaton.iter(lowered))
    for end_index, (length, word_start, word_end, owners) in scanned:
        end = end_index + 1
        start = end - length
        for kind, owner in owners:
            if kind == "rx":
                windows.setdefault(owner, []).append(
                    (max(0, start - REGEX_WINDOW), min(n, end + REGEX_WINDOW))
                )
                continue
            if word_start and start > 0 and lowered[start - 1].isalnum():
                continue
            if word_end and end < n and lowered[end].isalnum():
                continue
            if kind == "ind":
                hits.setdefault(owner, []).append((start, end))
            else:
                ctx_hits.setdefault(owner, []).append((start, end))
    for rx_index, spans in windows.items():
        idx, pattern = lexicon.regexes[rx_index]
        covered = -1
        for window_start, window_end in spans:
            for m in pattern.finditer(lowered, max(window_start, covered), window_end):
                if m.end() > m.start():
                    hits.setdefault(idx, []).append(m.span())
            covered = max(covered, window_end)
    return hits, ctx_hits


def _negated(lowered: str, start: int) -> bool:
    return _NEGATION.search(lowered, max(0, start - 30), start) is not None


def _benign_nearby(lowered: str, span: tuple[int, int], benign: list[tuple[int, int]]) -> bool:
    """A benign phrase within BENIGN_WINDOW characters and the same sentence (benign is sorted)."""
    start, end = span
    k = bisect_left(benign, (start - BENIGN_WINDOW - 64, 0))
    while k < len(benign) and benign[k][0] < end + BENIGN_WINDOW:
        b_start, b_end = benign[k]
        k += 1
        if b_end <= start - BENIGN_WINDOW:
            continue
        lo, hi = (b_end, start) if b_end <= start else (end, b_start)
        if lo >= hi or not _SENTENCE_END.search(lowered, lo, hi):
            return True
    return False


def match_indicators(title: object, body: object, *, lexicon: Lexicon | None = None) -> list[dict]:
    """[{"id", "category", "weight", "evidence": [{field, start, end, text}]}], one per id."""
    lexicon = lexicon or default_lexicon()
    ad = analyse_ad(title, body)
    lowered = ad.norm.lower
    # the default lexicon's phrases were found with the ad's other word lists in one scan
    scanned = ad.words.lexicon if lexicon is default_lexicon() else None
    hits, ctx_hits = _field_hits(lowered, lexicon, scanned)
    results = []
    for idx in sorted(hits):
        ind = lexicon.indicators[idx]
        benign = sorted(ctx_hits.get(ind.benign_near, [])) if ind.benign_near else []
        kept = []
        for span in sorted(set(hits[idx])):
            if ind.negatable and lowered[span[0]].isalnum() and _negated(lowered, span[0]):
                continue
            if benign and _benign_nearby(lowered, span, benign):
                continue
            kept.append(span)
        if not kept:
            continue
        kept = _outermost(kept)
        if ind.requires and not _context_present(ctx_hits.get(ind.requires, []), kept):
            continue
        evidence = [ad.evidence(start, end) for start, end in kept[:MAX_EVIDENCE_PER_INDICATOR]]
        results.append(
            {"id": ind.id, "category": ind.category, "weight": ind.weight, "evidence": evidence}
        )
    return results


def _outermost(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted spans without those inside another ("in town until" within "in town until Friday")."""
    out: list[tuple[int, int]] = []
    for start, end in sorted(spans, key=lambda s: (s[0], -s[1])):
        if out and end <= out[-1][1]:
            continue
        out.append((start, end))
    return out


def _context_present(context_spans: list[tuple[int, int]], own: list[tuple[int, int]]) -> bool:
    """True when a context phrase occurs outside the indicator's own (sorted) matches."""
    starts = [s for s, _ in own]
    for start, end in context_spans:
        k = bisect_left(starts, end) - 1  # the last own span starting before this one ends
        if k < 0 or own[k][1] <= start:
            return True
    return False
