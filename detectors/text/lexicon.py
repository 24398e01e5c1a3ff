"""The indicator lexicon (detectors/text/lexicon.yaml) compiled for matching.

`load_lexicon(yaml_text)` checks every entry (id, category, weight, source, contexts, regexes)
and compiles all phrases, emoji and regex anchors of the lexicon into one Aho-Corasick
automaton; `default_lexicon()` is the packaged one. Matching is in `indicators`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

import ahocorasick
import yaml

from detectors.text.normalise import normalise


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
    regexes: list[tuple[int, re.Pattern]] = []
    seen_ids = set()
    for idx, raw in enumerate(data.get("indicators") or []):
        try:
            ind = Indicator(
                id=str(raw["id"]),
                category=str(raw["category"]),
                weight=float(raw["weight"]),
                source=str(raw["source"]),
                requires=raw.get("requires"),
                benign_near=raw.get("benign_near"),
                negatable=bool(raw.get("negatable", True)),
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
            if isinstance(pattern, dict):
                anchors = [_normal_key(a) for a in pattern.get("anchors") or []]
                if "regex" not in pattern or not all(anchors) or not anchors:
                    raise ValueError(f"lexicon entry {ind.id}: a regex needs literal anchors")
                try:
                    compiled = re.compile(str(pattern["regex"]))
                except re.error as exc:
                    raise ValueError(f"lexicon entry {ind.id}: bad regex ({exc})") from exc
                for anchor in anchors:
                    add(anchor, ("rx", len(regexes)))
                regexes.append((idx, compiled))
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
    return load_lexicon(resources.files("detectors.text").joinpath("lexicon.yaml").read_text("utf-8"))
