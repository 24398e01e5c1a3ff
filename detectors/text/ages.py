"""Stated ages: "19yo", "age: 19", "I'm 19", "19 years young", "tengo 19 años".

`find_ages(view_text, runs)` looks at two-digit runs of the numeric view (so "nineteen" is
already "19") and keeps those with an age word after them or an introduction before them,
never a height, weight, time or measurement.
"""

from __future__ import annotations

import re

from detectors.text.words import char_after, char_before, previous_word, previous_words

_AGE_AFTER = re.compile(
    r"\s{0,2}(?:yo|y/o|y\.o\.?|yr\.? ?old|yrs? old|years? old|years? young|anos|anitos|ans)"
    r"(?![a-z])"
)
_AGE_INTRO = frozenset({"age", "aged", "edad", "tengo", "turned"})
_I_AM = frozenset({"i'm", "im", "i'am", "soy", "iam"})
_AGE_FILLER = frozenset({"only", "just", "a"})
_NOT_AGE_AFTER = re.compile(
    r"[0-9'\"]|[./:,][0-9]|\s{0,2}(?:ft|feet|inch(?:es)?|lbs?|kg|cm|min(?:ute)?s?|hours?|hrs?|miles?"
    r"|percent|%|k|minutos|horas|kilos?)(?![a-z])"
)
MIN_AGE, MAX_AGE = 12, 79


def find_ages(text: str, runs: list[tuple[int, int]]) -> list[tuple[int, int, int]]:
    out = []
    for start, end in runs:
        if end - start != 2 or text[start] == "0":
            continue
        after_char = char_after(text, end)
        before_char = char_before(text, start)
        if not (after_char.isalpha() or before_char.isalpha() or before_char == "'"):
            continue
        age = int(text[start:end])
        if not MIN_AGE <= age <= MAX_AGE:
            continue
        after = _AGE_AFTER.match(text, end)
        if after is not None:
            out.append((age, start, after.end()))
            continue
        before = _age_words_before(text, start)
        if before is None:
            continue
        intro_start, is_i_am = before
        if is_i_am and _NOT_AGE_AFTER.match(text, end):
            continue
        out.append((age, intro_start, end))
    return out


def _words_before(text: str, start: int, count: int, skip: str = " :=-") -> list[tuple[str, int]]:
    return previous_words(text, start, count, skip)


def _age_words_before(text: str, start: int) -> tuple[int, bool] | None:
    """(start of the introducing words, whether they were "I am"), for "age: 19", "I'm 19"."""
    first = previous_word(text, start, " :=-")
    if first is None or not (
        first[0] in _AGE_INTRO or first[0] in _I_AM or first[0] in _AGE_FILLER or first[0] == "am"
    ):
        return None
    words = _words_before(text, start, 4)
    if not words:
        return None
    if words[0][0] in _AGE_INTRO:
        return words[0][1], False
    k = 0
    while k < len(words) - 1 and k < 2 and words[k][0] in _AGE_FILLER:
        k += 1
    word, word_start = words[k]
    if word in _I_AM:
        return word_start, True
    if word == "am" and k + 1 < len(words) and words[k + 1][0] == "i":
        return words[k + 1][1], True
    return None

