"""Red flags as small grammars over concept classes (grammar.yaml over concepts.yaml).

A rule names concepts that must occur together: an actor near a control action within a few
words ("my bf takes my calls", "mi amiga maneja los pagos"), a negation before a word of
leaving ("can't leave", "no sale del piso"), a list of cities with day words, a stated minor
age next to a commercial cue. `match_grammar(ad)` reads the concept hits of the ad's one word
scan (`automata`, filled by `concepts`), the stated ages (`ages`) and the cities (`places`), and
returns indicators in the lexicon's shape, each with its evidence spans.

Contexts are soft evidence: a rule marked `context: commercial_sex` fires without such a cue
too, at its weight times `context_factor`, and says so (`context` on the indicator); nothing
is dropped silently. Windows are measured in words (about `CHARS_PER_WORD` characters each)
and never cross a sentence end.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

from detectors.text.adtext import AdText, analyse_ad
from detectors.text.ages import find_ages
from detectors.text.concepts import Concepts, default_concepts
from detectors.text.places import find_cities
from detectors.text.prices import find_prices

CHARS_PER_WORD = 6
NEGATION_REACH = 18
"""A negation counts when it ends at most this many characters before a match (about 3 words)."""
MAX_EVIDENCE = 5
BENIGN_REACH = 60
ADULT_AGE = 18
CONTEXT_ID = "commercial_sex_context"
"""An indicator of weight 0 (category `context`) saying the ad has a commercial-sex cue, with
the first one as evidence: the scorer's floors and the model read it; it adds no risk itself."""
ENTITIES = ("@city", "@place", "@minor_age", "@age", "@age_18_19", "@price")
_SENTENCE_ENDS = ".!?\n"
_CLAUSE_ENDS = ".!?\n,;:"
_MODES = ("all", "seq", "any")


@dataclass(frozen=True)
class Rule:
    """One grammar rule (see grammar.yaml for the fields)."""

    id: str
    category: str
    weight: float
    source: str
    mode: str
    terms: tuple[int, ...]
    window: int
    count_min: int
    unless: tuple[int, ...]
    negatable: bool
    context: bool
    commercial: bool
    count_each: int


@dataclass(frozen=True)
class Grammar:
    rules: tuple[Rule, ...]
    concepts: Concepts
    context_factor: float
    negation: int
    commercial: tuple[int, ...]
    place_abbreviation: int


def _term_id(name: str, concepts: Concepts) -> int:
    """A concept's id, or a negative id for an entity ("@city" -> -1 ...)."""
    if name in ENTITIES:
        return -1 - ENTITIES.index(name)
    return concepts.index(name)


def load_grammar(text: str, concepts: Concepts | None = None) -> Grammar:
    """Compile grammar.yaml's rules against the concepts (ValueError on a malformed rule)."""
    concepts = concepts or default_concepts()
    data = yaml.safe_load(text) or {}
    rules = []
    for number, raw in enumerate(data.get("rules") or []):
        try:
            modes = [m for m in _MODES if m in raw]
            if len(modes) != 1:
                raise ValueError("needs exactly one of all / seq / any")
            mode = modes[0]
            rule = Rule(
                id=str(raw["id"]),
                category=str(raw["category"]),
                weight=float(raw["weight"]),
                source=str(raw["source"]),
                mode=mode,
                terms=tuple(_term_id(str(t), concepts) for t in raw[mode]),
                window=int(raw.get("window", 6)) * CHARS_PER_WORD,
                count_min=int((raw.get("count") or {}).get("min", 0)),
                count_each=int((raw.get("count") or {}).get("each", 2)),
                unless=tuple(concepts.index(str(t)) for t in raw.get("unless") or []),
                negatable=bool(raw.get("negatable", True)),
                context=raw.get("context") == "commercial_sex",
                commercial=bool(raw.get("commercial", False)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"grammar rule {number} ({raw.get('id') if isinstance(raw, dict) else raw}): "
                             f"{exc}") from exc
        if not rule.terms or not 0.0 <= rule.weight <= 1.0 or not rule.source.strip():
            raise ValueError(f"grammar rule {rule.id}: needs terms, a weight in 0..1 and a source")
        rules.append(rule)
    commercial = tuple(concepts.index(n) for n in ("commercial_sex", "sex_work_cue"))
    return Grammar(tuple(rules), concepts, float(data.get("context_factor", 0.5)),
                   concepts.index("negation"), commercial, concepts.index("place_abbreviation"))


@cache
def default_grammar() -> Grammar:
    return load_grammar(resources.files("detectors.text").joinpath("grammar.yaml").read_text("utf-8"))


def concept_spans(ad: AdText, count: int) -> list[list[tuple[int, int]]]:
    """Per concept id, the (start, end) of its whole-word matches in `ad.norm.lower`, sorted."""
    lowered = ad.norm.lower
    n = len(lowered)
    spans: list[list[tuple[int, int]]] = [[] for _ in range(count)]
    for end_index, (length, ids) in ad.words.concepts:
        end = end_index + 1
        start = end - length
        if start > 0 and lowered[start - 1].isalnum() and lowered[start].isalnum():
            continue
        if end < n and lowered[end].isalnum() and lowered[end - 1].isalnum():
            continue
        for concept_id in ids:
            spans[concept_id].append((start, end))
    for hits in spans:
        if len(hits) > 1:
            hits.sort()
    return spans


def entity_spans(ad: AdText) -> list[list[tuple[int, int]]]:
    """Spans in `ad.norm.lower` of the entities rules may name, in ENTITIES order."""
    lowered = ad.norm.lower
    if ad.cities is None:
        ad.cities = find_cities(ad.norm.text, lowered)
    cities = [(s, e) for _, s, e in ad.cities]
    minors: list[tuple[int, int]] = []
    ages: list[tuple[int, int]] = []
    young: list[tuple[int, int]] = []
    if ad.view_runs:
        for age, start, end in find_ages(ad.view.text, ad.view_runs):
            span = ad.view.to_parent(start, end)
            ages.append(span)
            if age < ADULT_AGE:
                minors.append(span)
            elif age <= ADULT_AGE + 1:
                young.append(span)
    prices = [ad.view.to_parent(start, end) for _, start, end in find_prices(ad.view.text, ad.view_runs)] \
        if ad.view_runs else []
    return [cities, cities, sorted(minors), sorted(ages), sorted(young), sorted(prices)]


def _crosses_sentence(lowered: str, start: int, end: int, ends: str = _SENTENCE_ENDS) -> bool:
    return any(lowered.find(ch, start, end) >= 0 for ch in ends)


def _near(hits: list[tuple[int, int]], lo: int, hi: int,
          apart_from: tuple[int, int] = (0, 0)) -> tuple[int, int] | None:
    """The first hit lying inside [lo, hi) that does not overlap `apart_from`."""
    k = bisect_left(hits, (lo, -1))
    while k < len(hits) and hits[k][1] <= hi:
        if hits[k][1] <= apart_from[0] or hits[k][0] >= apart_from[1]:
            return hits[k]
        k += 1
    return None


def _match_all(rule: Rule, terms: list[list[tuple[int, int]]], lowered: str) -> list[tuple[int, int]]:
    order = sorted(range(len(terms)), key=lambda i: len(terms[i]))
    found = []
    for anchor in terms[order[0]]:
        lo, hi = anchor[1] - rule.window, anchor[0] + rule.window
        start, end = anchor
        ok = True
        for i in order[1:]:
            hit = _near(terms[i], max(lo, 0), hi, anchor)
            if hit is None:
                ok = False
                break
            start, end = min(start, hit[0]), max(end, hit[1])
        if ok and (rule.window >= 30 * CHARS_PER_WORD or not _crosses_sentence(lowered, start, end - 1)):
            found.append((start, end))
    return found


def _match_seq(rule: Rule, terms: list[list[tuple[int, int]]], lowered: str) -> list[tuple[int, int]]:
    found = []
    for first in terms[0]:
        start, end = first
        ok = True
        for hits in terms[1:]:
            hit = _near(hits, end, end + rule.window)
            if hit is None or _crosses_sentence(lowered, end, hit[0]):
                ok = False
                break
            end = hit[1]
        if ok:
            found.append((start, end))
    return found


def _match_count(rule: Rule, terms: list[list[tuple[int, int]]]) -> list[tuple[int, int]]:
    """A stretch of `window` characters holding at least two hits of each term and `count_min`
    hits in all ("Jax tonight, Savannah Thurs, Charleston on the weekend")."""
    merged = sorted((hit, i) for i, hits in enumerate(terms) for hit in hits)
    found = []
    for k, (first, _) in enumerate(merged):
        per_term = [0] * len(terms)
        end = first[1]
        total = 0
        for hit, i in merged[k:]:
            if hit[0] > first[0] + rule.window:
                break
            per_term[i] += 1
            total += 1
            end = max(end, hit[1])
        if total >= rule.count_min and min(per_term) >= rule.count_each:
            found.append((first[0], end))
            break
    return found


def _negated(negations: list[tuple[int, int]], start: int, lowered: str) -> bool:
    k = bisect_left(negations, (start, -1)) - 1
    while k >= 0 and negations[k][1] >= start - NEGATION_REACH:
        if negations[k][1] <= start and not _crosses_sentence(lowered, negations[k][1], start, _CLAUSE_ENDS):
            return True
        k -= 1
    return False


def _near_benign(lowered: str, hit: tuple[int, int], benign: list[tuple[int, int]]) -> bool:
    """A benign span within BENIGN_REACH characters of `hit`, in the same sentence."""
    for start, end in benign:
        if end <= hit[0] - BENIGN_REACH or start >= hit[1] + BENIGN_REACH:
            continue
        lo, hi = (end, hit[0]) if end <= hit[0] else (hit[1], start)
        if lo >= hi or not _crosses_sentence(lowered, lo, hi):
            return True
    return False


def _outermost(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, end in sorted(spans, key=lambda s: (s[0], -s[1])):
        if out and start < out[-1][1]:
            continue
        out.append((start, end))
    return out


def match_grammar(title: object, body: object, *, grammar: Grammar | None = None,
                  commercial_cues: list[tuple[int, int]] | None = None,
                  benign: list[tuple[int, int]] | None = None) -> list[dict]:
    """Indicators found by the grammar: [{id, category, weight, evidence, layer, context?}],
    one per rule id (rules sharing an id are alternatives). `commercial_cues`: spans of
    commercial-sex cues the caller found itself (the lexicon's adult-services context, emoji
    included), counted as `commercial_sex` concept hits; `benign`: spans of everyday-business
    words ("for sale", "nursery"): a commercial cue in their sentence ("rose sale") does not count."""
    grammar = grammar or default_grammar()
    ad = analyse_ad(title, body)
    lowered = ad.norm.lower
    spans = concept_spans(ad, len(grammar.concepts.names))
    entities: list[list[tuple[int, int]]] | None = None
    if benign:
        c = grammar.commercial[0]  # sex_work_cue stays: a minor's age next to it is never benign
        spans[c] = [hit for hit in spans[c] if not _near_benign(lowered, hit, benign)]
    if commercial_cues:
        spans[grammar.commercial[0]] = sorted(spans[grammar.commercial[0]] + commercial_cues)
    commercial = any(spans[c] for c in grammar.commercial)
    negations = spans[grammar.negation]
    found: dict[str, tuple[Rule, list[tuple[int, int]]]] = {}
    self_cue: tuple[int, int] | None = None
    for rule in grammar.rules:
        if rule.id in found and rule.weight <= found[rule.id][0].weight:
            continue
        if any(term >= 0 and not spans[term] for term in rule.terms):
            continue  # a concept without hits: no need to look for the entities (cities, ages)
        terms: list[list[tuple[int, int]]] = []
        for term in rule.terms:
            if term < 0:
                if entities is None:
                    entities = entity_spans(ad)
                hits = entities[-1 - term]
                if term == -2:  # "@place": a city or a place abbreviation
                    hits = sorted(hits + spans[grammar.place_abbreviation])
            else:
                hits = spans[term]
            if not hits:
                break
            terms.append(hits)
        if len(terms) < len(rule.terms):
            continue
        if rule.mode == "any":
            matches = [hit for hits in terms for hit in hits]
        elif rule.count_min:
            matches = _match_count(rule, terms)
        elif rule.mode == "seq":
            matches = _match_seq(rule, terms, lowered)
        else:
            matches = _match_all(rule, terms, lowered)
        kept = []
        for start, end in matches:
            if rule.negatable and negations and _negated(negations, start, lowered):
                continue
            if rule.unless and any(
                _near(spans[u], max(start - rule.window, 0), end + rule.window) for u in rule.unless
            ):
                continue
            kept.append((start, end))
        if kept:
            found[rule.id] = (rule, _outermost(kept))
    if not commercial:  # a rule whose match is itself a commercial-sex cue ("no limits", "no cops")
        cue_rule = next((kept for rule, kept in found.values() if rule.commercial), None)
        if cue_rule:
            commercial = True
            self_cue = cue_rule[0]
    results = []
    if commercial:
        cue = next((hits[0] for c in grammar.commercial for hits in (spans[c],) if hits), None)
        if cue is None and self_cue is not None:
            cue = self_cue
        results.append({"id": CONTEXT_ID, "category": "context", "weight": 0.0, "layer": "grammar",
                        "evidence": [ad.evidence(*cue)] if cue else []})
    for rule, kept in found.values():
        weight = rule.weight
        indicator: dict = {"id": rule.id, "category": rule.category}
        if rule.context and not commercial:
            weight *= grammar.context_factor
            indicator["context"] = "no commercial-sex cue in the ad: weight lowered"
        indicator["weight"] = round(weight, 4)
        indicator["layer"] = "grammar"
        indicator["evidence"] = [ad.evidence(start, end) for start, end in kept[:MAX_EVIDENCE]]
        results.append(indicator)
    return results
