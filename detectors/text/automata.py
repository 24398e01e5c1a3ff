"""The text detectors' shared Aho-Corasick automata, and the one word scan of an ad.

Number words (`wordlists`, for `numbers`), platform names (`wordlists`, for handles in
`contacts`), the default lexicon's phrases and anchors (`lexicon`, for `indicators`) and the
surface forms of the concept classes (`concepts`, for `grammar`) go into one merged automaton,
so that an ad's text is walked once instead of four times (each walk costs about as much as
the others). Every detector gets exactly the hits its own automaton
would give, in the same order: all keys ending at a position are reported longest first in
both, and each list keeps only its own keys. The per-list automata stay for a detector called
on a bare text (without `adtext.analyse_ad`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

import ahocorasick

from detectors.text.concepts import default_concepts
from detectors.text.lexicon import default_lexicon
from detectors.text.wordlists import ALIAS_TO_PLATFORM, BOUNDARY_CHARS, NUMBER_WORDS

_NUMBER, _PLATFORM, _LEXICON, _CONCEPT = 0, 1, 2, 3

# characters roughly by how often they occur in ad text (English letter frequency)
_COMMON_FIRST = " etaoinsrhldcumfpgwybvkxjqz0123456789.,'-\n!?:;/()"
_RANK = {ch: i for i, ch in enumerate(_COMMON_FIRST)}


def insertion_order(key: str) -> list[int]:
    """Sort key for the keys of an automaton: common characters first, at every depth.

    pyahocorasick looks a character up among a node's children one by one, in the order they
    were added; adding keys in this order puts the children a text walks through most often
    first (the walk over an ad then costs a third less). Which keys match is unchanged.
    """
    return [_RANK.get(ch, len(_RANK) + ord(ch)) for ch in key]


@dataclass(slots=True)
class WordHits:
    """What the three automata would have yielded for one text.

    `number_words`: (end index, length) as `number_word_automaton().iter(lowered)`;
    `platforms`: (end index, alias) as `platform_automaton().iter(" " + lowered)`;
    `lexicon`: (end index, value) as `default_lexicon().automaton.iter(lowered)`;
    `concepts`: (end index, (length, concept ids)) of every concept form found (whole words
    or not: `grammar` checks the word boundaries).
    """

    number_words: list[tuple[int, int]]
    platforms: list[tuple[int, str]]
    lexicon: list[tuple[int, Any]]
    concepts: list[tuple[int, tuple[int, tuple[int, ...]]]]


@lru_cache(maxsize=1)
def number_word_automaton() -> ahocorasick.Automaton:
    """Number words (value: the word's length)."""
    automaton = ahocorasick.Automaton()
    for word in NUMBER_WORDS:
        automaton.add_word(word, len(word))
    automaton.make_automaton()
    return automaton


@lru_cache(maxsize=1)
def platform_automaton() -> ahocorasick.Automaton:
    """Platform names as keys preceded by a boundary character (scan " " + text), so that
    "ig" inside "big" or "sc" inside "discreet" never even reach Python (value: the alias)."""
    automaton = ahocorasick.Automaton()
    for alias in ALIAS_TO_PLATFORM:
        prefixes = BOUNDARY_CHARS if alias[0].isalnum() else [""]
        for prefix in prefixes:
            automaton.add_word(prefix + alias, alias)
    automaton.make_automaton()
    return automaton


SHORT_CONCEPT_FORM = 3
"""Concept forms this short ("he", "no", "id") are keyed with a boundary character in front,
so that they are not reported inside every longer word ("the", "know", "side")."""


def concept_keys() -> list[tuple[str, tuple[int, tuple[int, ...]]]]:
    """(automaton key, (form length, concept ids)) of every concept form."""
    keys = []
    for form, ids in default_concepts().forms.items():
        value = (len(form), ids)
        if len(form) <= SHORT_CONCEPT_FORM and form[0].isalnum():
            keys += [(prefix + form, value) for prefix in BOUNDARY_CHARS]
        else:
            keys.append((form, value))
    return keys


@cache
def _automaton() -> ahocorasick.Automaton:
    entries: dict[str, list[tuple[int, Any]]] = {}
    sources = (
        (_NUMBER, number_word_automaton().items()),
        (_PLATFORM, platform_automaton().items()),
        (_LEXICON, default_lexicon().automaton.items()),
        (_CONCEPT, concept_keys()),
    )
    for kind, items in sources:
        for key, value in items:
            # the text is scanned with one leading space (the platform keys need it); a number
            # word or lexicon key that began with a space could match across it
            if kind not in (_PLATFORM, _CONCEPT) and key.startswith(" "):
                raise ValueError(f"a key cannot start with a space: {key!r}")
            entries.setdefault(key, []).append((kind, value))
    merged = ahocorasick.Automaton()
    for key in sorted(entries, key=insertion_order):
        merged.add_word(key, tuple(entries[key]))
    merged.make_automaton()
    return merged


def scan_words(lowered: str) -> WordHits:
    """The hits of all four word lists in `lowered` (an ad's lowercased normalised text)."""
    numbers: list[tuple[int, int]] = []
    platforms: list[tuple[int, str]] = []
    lexicon: list[tuple[int, Any]] = []
    concepts: list[tuple[int, tuple[int, tuple[int, ...]]]] = []
    for end, owners in _automaton().iter(" " + lowered):
        for kind, value in owners:
            if kind == _LEXICON:
                lexicon.append((end - 1, value))
            elif kind == _CONCEPT:
                concepts.append((end - 1, value))
            elif kind == _PLATFORM:
                platforms.append((end, value))
            else:
                numbers.append((end - 1, value))
    return WordHits(numbers, platforms, lexicon, concepts)
