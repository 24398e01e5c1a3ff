"""Red-flag indicators with evidence spans: the lexicon's phrases and the grammar's rules.

Two layers. The lexicon (detectors/text/lexicon.yaml, compiled by `lexicon`): its phrases and
emoji go into the one Aho-Corasick scan of the normalised, lowercased text (so spaced-out
letters, homoglyphs, accents and HTML do not hide them); the few regex patterns run separately.
The grammar (`grammar`, grammar.yaml over concepts.yaml): rules over concept classes, for the
wordings no phrase list holds. A negated match ("not new in town") is dropped. Contexts are soft
evidence, never a gate: an indicator whose context is missing (no adult-services or commercial
cue in the ad) or that has a benign word next to it in the same sentence ("fresh cherries",
"new dental office") keeps its evidence at a lower weight and says why (`context`). One result
per indicator id; `layer` says which layer found it.
"""

from __future__ import annotations

import re
from bisect import bisect_left

from detectors.text.adtext import AdText, analyse_ad
from detectors.text.grammar import Grammar, default_grammar, match_grammar
from detectors.text.lexicon import Lexicon, default_lexicon

LAYERS = ("lexicon", "grammar")
"""The indicator layers `match_indicators` runs unless told otherwise."""
COMMERCIAL_CONTEXTS = ("adult_services",)
BENIGN_CONTEXT = "benign_everyday"
"""Lexicon contexts that count as a commercial-sex cue for the grammar's soft contexts."""
BENIGN_FACTOR = 0.25
"""Weight multiplier of a lexicon match with a benign word next to it ("fresh cherries")."""
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


def match_indicators(title: object, body: object, *, lexicon: Lexicon | None = None,
                     grammar: Grammar | None = None, layers: tuple[str, ...] = LAYERS) -> list[dict]:
    """[{"id", "category", "weight", "evidence": [{field, start, end, text}], "layer",
    "context"?}], one per id, from the layers named in `layers` (see LAYERS)."""
    ad = analyse_ad(title, body)
    lexicon = lexicon or default_lexicon()
    # the default lexicon's phrases were found with the ad's other word lists in one scan
    scanned = ad.words.lexicon if lexicon is default_lexicon() else None
    hits, ctx_hits = _field_hits(ad.norm.lower, lexicon, scanned)
    results = _lexicon_indicators(ad, lexicon, grammar, hits, ctx_hits) if "lexicon" in layers else []
    if "grammar" in layers:
        results += match_grammar(title, body, grammar=grammar,
                                 commercial_cues=_commercial_context(ad.norm.lower, ctx_hits),
                                 benign=sorted(ctx_hits.get(BENIGN_CONTEXT, [])))
    return results


def _commercial_context(lowered: str, ctx_hits: dict[str, list[tuple[int, int]]]) -> list[tuple[int, int]]:
    """The lexicon's commercial-context phrases and emoji that have no benign word next to
    them ("rose sale")."""
    benign = sorted(ctx_hits.get(BENIGN_CONTEXT, []))
    return sorted(span for name in COMMERCIAL_CONTEXTS for span in ctx_hits.get(name, [])
                  if not benign or not _benign_nearby(lowered, span, benign))


def _lexicon_indicators(ad: AdText, lexicon: Lexicon, grammar: Grammar | None,
                        hits: dict[int, list[tuple[int, int]]],
                        ctx_hits: dict[str, list[tuple[int, int]]]) -> list[dict]:
    lowered = ad.norm.lower
    results = []
    factor = (grammar or default_grammar()).context_factor
    for idx in sorted(hits):
        ind = lexicon.indicators[idx]
        benign = sorted(ctx_hits.get(ind.benign_near, [])) if ind.benign_near else []
        kept = []
        near_benign = []
        for span in sorted(set(hits[idx])):
            if ind.negatable and lowered[span[0]].isalnum() and _negated(lowered, span[0]):
                continue
            if benign and _benign_nearby(lowered, span, benign):
                near_benign.append(span)
                continue
            kept.append(span)
        weight = ind.weight
        notes = []
        if not kept and near_benign:
            kept = near_benign
            weight *= BENIGN_FACTOR
            notes.append("benign word in the same sentence")
        if not kept:
            continue
        kept = _outermost(kept)
        if ind.requires and not _context_present(ctx_hits.get(ind.requires, []), kept):
            weight *= factor
            notes.append(f"no {ind.requires.replace('_', '-')} cue in the ad")
        indicator: dict = {"id": ind.id, "category": ind.category}
        if notes:
            indicator["context"] = "; ".join(notes) + ": weight lowered"
        indicator["weight"] = round(weight, 4)
        indicator["layer"] = "lexicon"
        indicator["evidence"] = [ad.evidence(start, end) for start, end in kept[:MAX_EVIDENCE_PER_INDICATOR]]
        results.append(indicator)
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
