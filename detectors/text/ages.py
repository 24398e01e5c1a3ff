"""Stated ages: "19yo", "age: 19", "I'm 19", "19 years young", "tengo 19 años", "she 16", "she is 16",
"only 16".

`find_ages(view_text, runs)` looks at two-digit runs of the numeric view (so "nineteen" and
"1five" are already "19" and "15", "l6" is "16") and keeps those with an age word after them
("yo", "y/o", "years old", "años", "añitos", "and up", "or older", "+"), an introduction before
them ("age", "aged", "turned", "desde", "I'm", "she", "girl", "only", "barely" ...), or standing
alone between separators ("💗 16 💗", "16, just got here"); "1 6" (a digit apart) counts as 16
next to an age word, and a range ("ages 13-17", "de 16 a 20 años") gives both ends. Never a
height, weight, time, price or measurement.
"""

from __future__ import annotations

import re

from detectors.text.words import char_after, char_before, previous_word, previous_words

_AGE_AFTER = re.compile(
    r"\s{0,2}(?:yo|y/o|y\.o\.?|yr\.? ?old|yrs? old|years? old|years? young|years? of age|anos|anitos"
    r"|ans|yrs?|and up|or older|and older|y mas|o mas|\+)(?![a-z])"
)
_AGE_INTRO = frozenset({"age", "aged", "ages", "edad", "edades", "tengo", "turned", "turning", "desde",
                        "cumplidos", "girl", "girls", "chica", "chicas", "chavas", "muchachas", "kids",
                        "teen", "teens", "boys", "hostesses", "she", "she's", "shes", "he's", "hes"})
_SPACED_INTRO = frozenset({"age", "aged", "ages", "edad"})
_I_AM = frozenset({"i'm", "im", "i'am", "soy", "iam"})
_AGE_FILLER = frozenset({"only", "just", "a", "barely", "jus", "solo"})
_IS_SUBJECT = frozenset({"she", "he", "girl", "daughter", "sister", "cousin", "niece", "friend"})
"""Who may be "is 16": "she is 16", "my girl is 16" (not "the rate is 60")."""
_ALONE_FILLER = frozenset({"only", "just", "barely", "jus"})
_NOT_AGE_AFTER = re.compile(
    r"[0-9'\"]|[./:,][0-9]|\s{0,2}(?:ft|feet|inch(?:es)?|lbs?|kg|cm|min(?:ute)?s?|hours?|hrs?|miles?"
    r"|percent|%|k|minutos|horas|kilos?|dollars?|bucks|usd|pesos|euros|qv|hh|roses|each|left|off"
    r"|spots?|people|ads|days?|weeks?|months?|am|pm)(?![a-z])"
    r"|\s{0,2}[$\u20ac\u00a3\u00a5\u20b9\u20b1\u20a6\u20a9]"  # a price: "15€/h", "15 £"
)
# what may follow a number that stands alone as an age ("16, just got here", "💗 16 💗", "17 & chill")
_ALONE_AFTER = re.compile(
    r"\s{0,2}(?:$|[,&!|\n\u2014\u2013]|-\s|[^\x00-\x7f]|(?:pls|please|and|n|but|so|lol)(?![a-z]))"
)
_ALONE_BEFORE_OK = frozenset("\n,!|\u2014\u2013")
_RANGE = re.compile(r"\s{0,2}(?:-|\u2013|\u2014|to|a|or|o|y|and|&|/)\s{0,2}([0-9]{2}|1 [0-9])(?![0-9])")
_EXPERIENCE = re.compile(r"\s{0,2}(?:of |de |in )?(?:experience|experiencia|in business|in practice|serving|en el)")
_BARE_YEARS = re.compile(r"\s{0,2}(?:yrs?|years?|ans|anos)(?![a-z])(?!\s{0,2}(?:old|young|of age))")
_TRADE_BEFORE = frozenset({"reliable", "experienced", "insured", "licensed", "bonded", "trusted",
                           "established", "certified", "professional", "over", "for", "since",
                           "exp", "experience", "serving", "qualified", "trained"})
"""Words before a bare "15 yrs" that make it years of work ("Reliable, 15 yrs.", "over 20 years")."""
MIN_AGE, MAX_AGE = 12, 79


def _candidates(text: str, runs: list[tuple[int, int]]) -> list[tuple[int, int, int]]:
    """(value, start, end) of two-digit runs, and of "1 6" (a 1, a space, a digit)."""
    out = []
    for k, (start, end) in enumerate(runs):
        if end - start == 2 and text[start] != "0":
            out.append((int(text[start:end]), start, end))
        elif (end - start == 1 and text[start] == "1" and k + 1 < len(runs)
              and runs[k + 1][0] == end + 1 and runs[k + 1][1] == end + 2 and text[end] == " "):
            out.append((10 + int(text[end + 1]), start, end + 2))
    return out


def find_ages(text: str, runs: list[tuple[int, int]]) -> list[tuple[int, int, int]]:
    out: list[tuple[int, int, int]] = []
    taken: set[int] = set()
    for age, start, end in _candidates(text, runs):
        if start in taken or not MIN_AGE <= age <= MAX_AGE:
            continue
        spaced = end - start == 3
        after_char = char_after(text, end)
        before_char = char_before(text, start)
        found = _age_at(text, start, end, after_char, before_char, spaced)
        if found is None:
            found = _range_age(text, start, end)
        if found is None:
            continue
        out.append((age, found[0], found[1]))
        taken.add(start)
        second = _RANGE.match(text, end)
        if second is not None:
            digits = second.group(1).replace(" ", "")
            other = int(digits)
            if MIN_AGE <= other <= MAX_AGE and other > age:
                out.append((other, second.start(1), second.end(1)))
                taken.add(second.start(1))
    return out


def _age_at(text: str, start: int, end: int, after_char: str, before_char: str,
            spaced: bool) -> tuple[int, int] | None:
    """(start, end) of the age's evidence when the number at [start, end) is a stated age."""
    after = _AGE_AFTER.match(text, end)
    if after is not None:
        if _EXPERIENCE.match(text, after.end()) or (after.group().strip() == "+"
                                                     and _NOT_AGE_AFTER.match(text, after.end())):
            return None  # "10 years of experience", "16+ hour days"
        trade = previous_word(text, start, " ,.:;-")
        if trade is not None and trade[0] in _TRADE_BEFORE and _BARE_YEARS.match(text, end):
            return None
        return start, after.end()
    if spaced:  # "1 6" only with an age word next to it
        first = previous_word(text, start, " :=-(")
        return (first[1], end) if first is not None and first[0] in _SPACED_INTRO else None
    if _NOT_AGE_AFTER.match(text, end):
        return None
    before = _age_words_before(text, start)
    if before is not None:
        return before, end
    if after_char.isalpha() and not _ALONE_AFTER.match(text, end):
        return None
    if before_char == "(" and after_char == ")":
        return start, end  # "Lexi (16)"
    alone_before = (before_char == "" or before_char in _ALONE_BEFORE_OK
                    or (not before_char.isascii() and not before_char.isalnum()))
    if alone_before and _ALONE_AFTER.match(text, end) and text[start - 1:start] != "$":
        return start, end
    return None


def _range_age(text: str, start: int, end: int) -> tuple[int, int] | None:
    """"16 a 20 años", "13 to 17 years old": the first number of a range ended by an age word."""
    second = _RANGE.match(text, end)
    if second is None or _AGE_AFTER.match(text, second.end()) is None:
        return None
    return start, end


def _words_before(text: str, start: int, count: int, skip: str = " :=-") -> list[tuple[str, int]]:
    return previous_words(text, start, count, skip)


def _age_words_before(text: str, start: int) -> int | None:
    """Start of the words introducing an age: "age: 19", "I'm 19", "she 16", "only 16"."""
    first = previous_word(text, start, " :=-(")
    if first is None:
        return None
    word = first[0]
    if word in _AGE_INTRO:
        return first[1]
    if word not in _I_AM and word not in _AGE_FILLER and word not in ("am", "is"):
        return None
    words = _words_before(text, start, 4)
    if not words:
        return None
    if word == "is":
        subject = words[1] if len(words) > 1 else None
        return subject[1] if subject is not None and subject[0] in _IS_SUBJECT else None
    k = 0
    while k < len(words) - 1 and k < 2 and words[k][0] in _AGE_FILLER:
        k += 1
    word, word_start = words[k]
    if word in _I_AM or word in _AGE_INTRO:
        return word_start
    if word == "am" and k + 1 < len(words) and words[k + 1][0] == "i":
        return words[k + 1][1]
    if words[0][0] in _ALONE_FILLER and _ALONE_AFTER.match(text, start + 2):
        return words[0][1]
    return None
