"""Concept classes (concepts.yaml): the vocabulary the indicator grammar is written in.

The grammar (`grammar`) is written over concepts ("a third party", "an action of control",
"a held document"), not over phrases, so "my friend sets up dates", "daddy handles the
appointments" and "mi amiga maneja mi agenda" fall under one rule.

Stemming without a per-word cost: `load_concepts` expands every term into the inflected forms
whose Snowball stem (snowballstemmer, English or Spanish; PyStemmer's C code when installed)
equals the term's own ("handle" -> handle, handles, handled, handling; "maneja" -> maneja,
manejan, manejo, manejar ...), and every word of a term of several words likewise. The forms go
into the one Aho-Corasick scan of an ad (`automata`), so matching a concept costs nothing per
word of the ad; `grammar` reads the hits. Terms under `exact` (slang, misspellings, other
languages) are matched as written. Keys are normalised like the text (accents folded).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from itertools import product

import snowballstemmer
import yaml

from detectors.text.normalise import normalise

KEY_KINDS = ("en", "es", "exact")
MAX_FORMS_PER_TERM = 64
SHORT_STEM = (3, 4)
"""Stems this short (English, Spanish) inflect only with a plural -s: their other forms would
collide with unrelated words of the other language."""
"""A term of several words expands to at most this many surface forms (the rest are dropped)."""

_REGULAR_ENDINGS = ("s",)
"""A term written with a plural or third-person -s ("travels", "takes") also matches its bare
stem ("travel", "take"): the stem is a word when that -s was all the stemmer removed."""
# endings tried on a word; a form is kept only when the stemmer gives it the word's stem
_EN_ENDINGS = ("", "s", "es", "ed", "d", "ing", "er", "ers", "ies", "ied", "ying")
_ES_ENDINGS = ("", "s", "a", "as", "o", "os", "e", "es", "an", "en", "amos", "emos", "imos",
               "ar", "er", "ir", "ado", "ada", "ados", "adas", "ido", "ida", "idos", "idas",
               "ando", "iendo", "ita", "itas", "ito", "itos", "aba", "aban", "ia", "ian", "o")


@dataclass(frozen=True)
class Concepts:
    """The vocabulary indexed for matching: concept names, and every surface form (as the
    normalised, lowercased text would have it) with the concepts it belongs to."""

    names: tuple[str, ...]
    forms: dict[str, tuple[int, ...]]

    def index(self, name: str) -> int:
        """The id of a concept (ValueError when there is none of that name)."""
        if name not in self.names:
            raise ValueError(f"unknown concept {name!r}")
        return self.names.index(name)


@cache
def _stemmers() -> tuple[object, object]:
    return snowballstemmer.stemmer("english"), snowballstemmer.stemmer("spanish")


def _normal_key(text: str) -> str:
    return " ".join(normalise(text).lower.split())


def word_forms(word: str, kind: int) -> list[str]:
    """`word` and its inflections that share its Snowball stem (kind 0 English, 1 Spanish,
    2 as written)."""
    if kind == 2 or not word.isalpha():
        return [word]
    stemmer = _stemmers()[kind]
    stem = stemmer.stemWord(word)  # type: ignore[attr-defined]
    if len(stem) <= SHORT_STEM[kind]:  # "placa" -> "plac" would also make "place"
        return sorted({word, word + "s"})
    bases = {word, stem}
    if kind == 0:
        if word.endswith("e"):
            bases.add(word[:-1])
        if word.endswith("y"):
            bases.add(word[:-1])
        if len(word) > 2 and word[-1] not in "aeiouwxy" and word[-2] in "aeiou":
            bases.add(word + word[-1])  # stop -> stopping
    else:
        if word[-1] in "aeiou":
            bases.add(word[:-1])
    endings = _EN_ENDINGS if kind == 0 else _ES_ENDINGS
    forms = {word}
    for base in bases:
        for ending in endings:
            form = base + ending
            if form == stem and stem != word and not (kind == 0 and any(word == stem + e for e in _REGULAR_ENDINGS)):
                continue  # a bare stem ("messag") is no word; "travel" of "travels" is one
            if form.replace("'", "").isalpha() and stemmer.stemWord(form) == stem:  # type: ignore[attr-defined]
                forms.add(form)
    return sorted(forms)


def term_forms(term: str, kind: int) -> list[str]:
    """Every surface form of a (possibly several-word) term."""
    words = _normal_key(term).split()
    if not words:
        return []
    # the first and the last word inflect ("takes my calls", "set things up"); the rest as written
    options = [word_forms(w, kind) if i in (0, len(words) - 1) else [w] for i, w in enumerate(words)]
    out: list[str] = []
    for combination in product(*options):
        out.append(" ".join(combination))
        if len(out) >= MAX_FORMS_PER_TERM:
            break
    return out


def load_concepts(text: str) -> Concepts:
    """Index the vocabulary of concepts.yaml (ValueError on a malformed entry)."""
    data = yaml.safe_load(text) or {}
    raw = data.get("concepts")
    if not isinstance(raw, dict) or not raw:
        raise ValueError("concepts: no `concepts` mapping")
    names = tuple(str(name) for name in raw)
    forms: dict[str, list[int]] = {}
    for concept_id, name in enumerate(names):
        entry = raw[name]
        if not isinstance(entry, dict) or not set(entry) <= set(KEY_KINDS):
            raise ValueError(f"concept {name}: expected a mapping of {', '.join(KEY_KINDS)}")
        for kind, kind_name in enumerate(KEY_KINDS):
            for term in entry.get(kind_name) or []:
                for form in term_forms(str(term), kind):
                    owners = forms.setdefault(form, [])
                    if concept_id not in owners:
                        owners.append(concept_id)
    return Concepts(names, {form: tuple(ids) for form, ids in forms.items()})


@cache
def default_concepts() -> Concepts:
    return load_concepts(resources.files("detectors.text").joinpath("concepts.yaml").read_text("utf-8"))
