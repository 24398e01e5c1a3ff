"""Red-flag indicators from the lexicon (detectors/lexicon.yaml), with evidence spans.

All phrases and emoji of the lexicon go into one Aho-Corasick automaton run over the normalised,
lowercased text (so spaced-out letters, homoglyphs, accents and HTML do not hide them); the few
regex patterns run separately. A match is dropped when it is negated ("not new in town"), when a
benign word sits in the same sentence nearby ("fresh cherries", "new dental office"), or when
its indicator requires an adult-services context the ad lacks. One result per indicator id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

import ahocorasick
import yaml

from detectors.entities import analyse_field
from detectors.text import MAX_FIELD_CHARS, normalise

MAX_EVIDENCE_PER_INDICATOR = 5
BENIGN_WINDOW = 60
_NEGATION = re.compile(
    r"(?:^|[^a-z])(?:no|not|never|nunca|sin|isn't|isnt|aren't|arent|don't|dont|wasn't|ni|nor)"
    r"(?:[^a-z.!?\n]{1,3}[a-z']{1,15}){0,2}[^a-z.!?\n]{1,3}$"
)
_SENTENCE_END = re.compile(r"[.!?\n]")


@dataclass(frozen=True)
class Indicator:
    """One lexicon entry."""

    id: str
    category: str
    weight: float
    source: str
    requires: str | None = None
    benign_near: str | None = None
    negatable: bool = True


@dataclass(frozen=True)
class Lexicon:
    indicators: tuple[Indicator, ...]
    automaton: ahocorasick.Automaton
    regexes: tuple[tuple[int, re.Pattern], ...]
    contexts: tuple[str, ...]


def _normal_key(phrase: str) -> str:
    return normalise(str(phrase)).lower.strip()


def _is_word(ch: str) -> bool:
    return ch.isalnum()


def load_lexicon(text: str) -> Lexicon:
    """Compile a lexicon from its YAML text (raises ValueError on a malformed entry)."""
    data = yaml.safe_load(text) or {}
    automaton = ahocorasick.Automaton()
    entries: dict[str, list] = {}

    def add(key: str, owner: tuple[str, int | str]) -> None:
        if key:
            entries.setdefault(key, []).append(owner)

    contexts = tuple((data.get("contexts") or {}).keys())
    for name, ctx in (data.get("contexts") or {}).items():
        for phrase in ctx.get("phrases", []):
            add(_normal_key(phrase), ("ctx", name))
    indicators = []
    regexes = []
    seen_ids = set()
    for idx, raw in enumerate(data.get("indicators") or []):
        try:
            ind = Indicator(
                id=str(raw["id"]), category=str(raw["category"]), weight=float(raw["weight"]),
                source=str(raw["source"]), requires=raw.get("requires"),
                benign_near=raw.get("benign_near"), negatable=bool(raw.get("negatable", True)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"lexicon entry {idx}: {exc}") from exc
        if ind.id in seen_ids or not 0.0 <= ind.weight <= 1.0:
            raise ValueError(f"lexicon entry {ind.id}: duplicate id or weight outside 0..1")
        for ctx in (ind.requires, ind.benign_near):
            if ctx is not None and ctx not in contexts:
                raise ValueError(f"lexicon entry {ind.id}: unknown context {ctx!r}")
        seen_ids.add(ind.id)
        indicators.append(ind)
        for pattern in raw.get("patterns") or []:
            pattern = str(pattern)
            if pattern.startswith("re:"):
                regexes.append((idx, re.compile(pattern[3:])))
            else:
                add(_normal_key(pattern), ("ind", idx))
    for key, owners in entries.items():
        automaton.add_word(key, (len(key), _is_word(key[0]), _is_word(key[-1]), tuple(owners)))
    if len(automaton) == 0:
        automaton.add_word("\x00never\x00", (0, False, False, ()))
    automaton.make_automaton()
    return Lexicon(tuple(indicators), automaton, tuple(regexes), contexts)


@cache
def default_lexicon() -> Lexicon:
    return load_lexicon(resources.files("detectors").joinpath("lexicon.yaml").read_text("utf-8"))


def _field_hits(lowered: str, lexicon: Lexicon):
    """(indicator hits {idx: [(start, end)]}, context hits {name: [(start, end)]}) in one text."""
    hits: dict[int, list[tuple[int, int]]] = {}
    ctx_hits: dict[str, list[tuple[int, int]]] = {}
    n = len(lowered)
    for end_index, (length, word_start, word_end, owners) in lexicon.automaton.iter(lowered):
        end = end_index + 1
        start = end - length
        if word_start and start > 0 and lowered[start - 1].isalnum():
            continue
        if word_end and end < n and lowered[end].isalnum():
            continue
        for kind, owner in owners:
            if kind == "ind":
                hits.setdefault(owner, []).append((start, end))
            else:
                ctx_hits.setdefault(owner, []).append((start, end))
    for idx, pattern in lexicon.regexes:
        for m in pattern.finditer(lowered):
            if m.end() > m.start():
                hits.setdefault(idx, []).append(m.span())
    return hits, ctx_hits


def _negated(lowered: str, start: int) -> bool:
    return _NEGATION.search(lowered, max(0, start - 30), start) is not None


def _benign_nearby(lowered: str, span: tuple[int, int], benign: list[tuple[int, int]]) -> bool:
    start, end = span
    for b_start, b_end in benign:
        if b_end <= start - BENIGN_WINDOW or b_start >= end + BENIGN_WINDOW:
            continue
        lo, hi = (b_end, start) if b_end <= start else (end, b_start)
        if lo >= hi or not _SENTENCE_END.search(lowered, lo, hi):
            return True
    return False


def match_indicators(title: str, body: str, *, lexicon: Lexicon | None = None) -> list[dict]:
    """[{"id", "category", "weight", "evidence": [{field, start, end, text}]}], one per indicator."""
    lexicon = lexicon or default_lexicon()
    per_field = []
    for field, raw in (("title", title), ("body", body)):
        raw = raw if isinstance(raw, str) else ("" if raw is None else str(raw))
        raw = raw[:MAX_FIELD_CHARS]
        if not raw:
            continue
        norm, _view = analyse_field(raw)
        lowered = norm.lower
        hits, ctx_hits = _field_hits(lowered, lexicon)
        per_field.append((field, raw, norm, lowered, hits, ctx_hits))
    # keep matches that survive negation and benign neighbours
    kept: dict[int, list[tuple[str, str, object, int, int]]] = {}
    for field, raw, norm, lowered, hits, ctx_hits in per_field:
        for idx, spans in hits.items():
            ind = lexicon.indicators[idx]
            benign = ctx_hits.get(ind.benign_near, []) if ind.benign_near else []
            for span in sorted(set(spans)):
                if ind.negatable and lowered[span[0]].isalnum() and _negated(lowered, span[0]):
                    continue
                if benign and _benign_nearby(lowered, span, benign):
                    continue
                kept.setdefault(idx, []).append((field, raw, norm, span[0], span[1]))
    results = []
    for idx in sorted(kept):
        ind = lexicon.indicators[idx]
        matches = kept[idx]
        if ind.requires and not _context_present(per_field, ind.requires, matches):
            continue
        evidence = []
        for field, raw, norm, start, end in matches[:MAX_EVIDENCE_PER_INDICATOR]:
            s, e = norm.span(start, end)
            evidence.append({"field": field, "start": s, "end": e, "text": raw[s:e]})
        results.append(
            {"id": ind.id, "category": ind.category, "weight": ind.weight, "evidence": evidence}
        )
    return results


def _context_present(per_field, context: str, matches) -> bool:
    """True when a phrase of `context` occurs outside the indicator's own matched words."""
    own = {(field, start, end) for field, _raw, _norm, start, end in matches}
    for field, _raw, _norm, _lowered, _hits, ctx_hits in per_field:
        for start, end in ctx_hits.get(context, []):
            if not any(f == field and s < end and start < e for f, s, e in own):
                return True
    return False
