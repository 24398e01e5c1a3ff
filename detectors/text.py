"""Text normalisation that undoes ad obfuscation, with a map back to the original offsets.

`normalise(text)` decodes HTML entities and drops tags, folds Unicode (NFKD compatibility forms,
accents, circled / full-width / keycap digits, homoglyphs), removes zero-width and control
characters and joins spaced-out letters ("N E W  I N  T O W N" -> "NEW IN TOWN").
`numeric_view(norm)` goes one step further for numbers: number words in English and Spanish
("seven oh two", "fourfourseven", "treinta y dos") and letters standing for digits inside numbers
("7O2", "Ol23") become digits. Every step records which original characters each output
character came from, so `Normalised.span(start, end)` returns the original slice of any match.
"""

from __future__ import annotations

import html
import re
import unicodedata
from bisect import bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache

import ahocorasick

from detectors.wordscan import WordHits, scan_words

MAX_FIELD_CHARS = 100_000
"""Longer fields are cut to this many characters (and flagged) before any matching."""

Segments = list[tuple[str, int, int]]
"""A replacement given piecewise: (output text, start, end) relative to the match start."""


@dataclass(slots=True)
class Normalised:
    """A rewritten text and how each stretch of it maps back to the text it was made from.

    `text` keeps case but `text.lower()` always has the same length; `original` is the text
    that was rewritten (for a `numeric_view`, the original of its parent). Treat it as
    immutable: it is not frozen only because a frozen dataclass costs four times as much to
    build, and several are built per ad.
    """

    text: str
    original: str
    _out_starts: list[int] = field(default_factory=list, repr=False)
    _src_starts: list[int] = field(default_factory=list, repr=False)
    _src_ends: list[int] = field(default_factory=list, repr=False)
    _linear: list[bool] = field(default_factory=list, repr=False)
    _parent: Normalised | None = field(default=None, repr=False)
    _lowered: str | None = field(default=None, repr=False, compare=False)

    @property
    def identity(self) -> bool:
        return (
            not self._out_starts and self._parent is None and len(self.text) == len(self.original)
        )

    @property
    def lower(self) -> str:
        """`text.lower()`, computed once."""
        if self._lowered is None:
            self._lowered = _lower(self.text)
        return self._lowered

    def _map_local(self, start: int, end: int) -> tuple[int, int]:
        """Map [start, end) of this text to the text this one was rewritten from."""
        if not self._out_starts:
            return start, end
        if end <= start:
            k = max(bisect_right(self._out_starts, start) - 1, 0)
            src = self._src_starts[k] + (start - self._out_starts[k] if self._linear[k] else 0)
            src = min(src, self._src_ends[k])
            return src, src
        k = max(bisect_right(self._out_starts, start) - 1, 0)
        src_start = self._src_starts[k] + (start - self._out_starts[k] if self._linear[k] else 0)
        j = max(bisect_right(self._out_starts, end - 1) - 1, 0)
        linear_end = self._src_starts[j] + (end - self._out_starts[j])
        src_end = linear_end if self._linear[j] else self._src_ends[j]
        return src_start, max(src_end, src_start)

    def to_parent(self, start: int, end: int) -> tuple[int, int]:
        """Map [start, end) one step back: onto the text this one was rewritten from."""
        return self._map_local(start, end)

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The [start, end) of the original text that produced text[start:end]."""
        start = min(max(start, 0), len(self.text))
        end = min(max(end, start), len(self.text))
        node: Normalised | None = self
        while node is not None:
            if node._out_starts:  # a node without a map keeps offsets as they are
                start, end = node._map_local(start, end)
            node = node._parent
        n = len(self.original)
        start = min(max(start, 0), n)
        return start, min(max(end, start), n)

    def original_slice(self, start: int, end: int) -> str:
        s, e = self.span(start, end)
        return self.original[s:e]


def _lower(text: str) -> str:
    return text.lower()


# --- the rewriting engine -------------------------------------------------------------------


def rewrite(
    source: str,
    edits: Iterable[tuple[int, int, str | Segments]],
    *,
    original: str | None = None,
    parent: Normalised | None = None,
) -> Normalised:
    """Apply non-overlapping, ordered edits (start, end, replacement) to `source`.

    A replacement is a string (the whole output maps to the whole [start, end)) or segments
    (output, rel_start, rel_end) for finer maps. Untouched stretches map one to one.
    """
    chunks: list[str] = []
    out_starts: list[int] = []
    src_starts: list[int] = []
    src_ends: list[int] = []
    linear: list[bool] = []
    out_pos = 0
    src_pos = 0

    def copy(upto: int) -> None:
        nonlocal out_pos, src_pos
        if upto > src_pos:
            chunks.append(source[src_pos:upto])
            out_starts.append(out_pos)
            src_starts.append(src_pos)
            src_ends.append(upto)
            linear.append(True)
            out_pos += upto - src_pos
        src_pos = max(src_pos, upto)

    changed = False
    for start, end, replacement in edits:
        if start < src_pos:
            continue
        copy(start)
        if isinstance(replacement, str):
            if replacement == source[start:end]:
                copy(end)
                continue
            changed = True
            if replacement:
                chunks.append(replacement)
                out_starts.append(out_pos)
                src_starts.append(start)
                src_ends.append(end)
                linear.append(len(replacement) == end - start)
                out_pos += len(replacement)
        else:
            changed = True
            for out, rel_start, rel_end in replacement:
                if not out:
                    continue
                chunks.append(out)
                out_starts.append(out_pos)
                src_starts.append(start + rel_start)
                src_ends.append(start + rel_end)
                linear.append(len(out) == rel_end - rel_start)
                out_pos += len(out)
        src_pos = end
    if not changed:
        return Normalised(source, original if original is not None else source, _parent=parent)
    copy(len(source))
    return Normalised(
        "".join(chunks),
        original if original is not None else source,
        out_starts,
        src_starts,
        src_ends,
        linear,
        parent,
    )


def _chain(step: Normalised, previous: Normalised) -> Normalised:
    """`step` rewrote previous.text; give it previous as parent (skipping identity steps)."""
    if step.text == previous.text and not step._out_starts:
        return previous
    return Normalised(
        step.text,
        previous.original,
        step._out_starts,
        step._src_starts,
        step._src_ends,
        step._linear,
        None if previous.identity else previous,
    )


def apply(
    previous: Normalised, pattern: re.Pattern, replace: Callable[[re.Match], str | Segments | None]
) -> Normalised:
    """Rewrite previous.text at every match of `pattern` (replace returns str, segments or None)."""
    edits: list[tuple[int, int, str | Segments]] = []
    for match in pattern.finditer(previous.text):
        replacement = replace(match)
        if replacement is not None:
            edits.append((match.start(), match.end(), replacement))
    if not edits:
        return previous
    return _chain(rewrite(previous.text, edits), previous)


# --- step 1: HTML ---------------------------------------------------------------------------

_INLINE_TAGS = frozenset(
    [
        "a",
        "b",
        "i",
        "u",
        "s",
        "em",
        "strong",
        "span",
        "font",
        "small",
        "big",
        "sub",
        "sup",
        "mark",
        "abbr",
        "code",
    ]
)
_HTML = re.compile(
    r"&(?:#[0-9]{1,7};?|#[xX][0-9a-fA-F]{1,6};?|[a-zA-Z][a-zA-Z0-9]{1,31};)"
    r"|<(/?)([a-zA-Z][a-zA-Z0-9]{0,15})(?:\s[^<>]{0,300})?/?>"
)


def _html_replacement(match: re.Match) -> str:
    token = match.group(0)
    if token[0] == "&":
        decoded = html.unescape(token)
        return decoded if decoded != token else token
    tag = (match.group(2) or "").lower()
    return "" if tag in _INLINE_TAGS else " "


# --- step 2: characters ---------------------------------------------------------------------

_CONFUSABLES = {
    # Cyrillic and Greek letters that look like Latin ones (subset of Unicode TR39 confusables)
    "а": "a",
    "в": "b",
    "е": "e",
    "ё": "e",
    "к": "k",
    "м": "m",
    "н": "h",
    "о": "o",
    "р": "p",
    "с": "c",
    "т": "t",
    "у": "y",
    "х": "x",
    "і": "i",
    "ї": "i",
    "ј": "j",
    "ѕ": "s",
    "ԁ": "d",
    "ԛ": "q",
    "ԝ": "w",
    "ɡ": "g",
    "ɩ": "i",
    "ı": "i",
    "ο": "o",
    "α": "a",
    "ε": "e",
    "ι": "i",
    "κ": "k",
    "ν": "v",
    "ρ": "p",
    "τ": "t",
    "υ": "u",
    "χ": "x",
    "ѡ": "w",
    "ɑ": "a",
    "А": "A",
    "В": "B",
    "Е": "E",
    "К": "K",
    "М": "M",
    "Н": "H",
    "О": "O",
    "Р": "P",
    "С": "C",
    "Т": "T",
    "Х": "X",
    "І": "I",
    "Ј": "J",
    "Ѕ": "S",
    "Α": "A",
    "Β": "B",
    "Ε": "E",
    "Ζ": "Z",
    "Η": "H",
    "Ι": "I",
    "Κ": "K",
    "Μ": "M",
    "Ν": "N",
    "Ο": "O",
    "Ρ": "P",
    "Τ": "T",
    "Υ": "Y",
    "Χ": "X",
    "ß": "ss",
    # punctuation that stands in for ASCII
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201b": "'",
    "\u2032": "'",
    "\u00b4": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u2033": '"',
    "\u2010": "-",
    "\u2011": "-",
    "\u2012": "-",
    "\u2013": "-",
    "\u2014": "-",
    "\u2015": "-",
    "\u2212": "-",
    "\u2043": "-",
    "\u00b7": "\u00b7",
    "\u2044": "/",
    "\u2215": "/",
    "\U0001f51f": "10",  # keycap ten
    "\u20e3": "",  # combining enclosing keycap
}
_KEEP_SYMBOLS = frozenset("\u00b7\u2022")


@lru_cache(maxsize=8192)
def fold_char(ch: str) -> str:
    """What one non-ASCII character becomes: ASCII where it has an ASCII look-alike."""
    if ch in _CONFUSABLES:
        return _CONFUSABLES[ch]
    if ch in _KEEP_SYMBOLS:
        return ch
    category = unicodedata.category(ch)
    if category in ("Mn", "Me", "Cf", "Cs", "Co", "Cn") or 0xFE00 <= ord(ch) <= 0xFE0F:
        return ""
    if category == "Cc":
        return " " if ch in "\t\n\r\x0b\x0c\x85" else ""
    if category in ("Zs",):
        return " "
    if category in ("Zl", "Zp"):
        return "\n"
    decomposed = unicodedata.normalize("NFKD", ch)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    if stripped and stripped != ch:
        folded = "".join(c if c.isascii() else fold_char(c) if c != ch else c for c in stripped)
        if folded and (folded.isascii() or len(folded) <= 3):
            return _lower_safe(folded)
    digit = unicodedata.digit(ch, None)
    if digit is not None:
        return str(digit)
    return _lower_safe(ch)


def _lower_safe(text: str) -> str:
    """Keep `text`, unless lowercasing it would change its length (then lowercase it now)."""
    return text if len(text.lower()) == len(text) else text.lower()


_SPECIAL_CHARS = re.compile(r"[^\x09\x0a\x0d\x20-\x7e]")


def _char_replacement(match: re.Match) -> str | None:
    ch = match.group(0)
    folded = fold_char(ch)
    return None if folded == ch else folded


# --- step 3: spaced-out letters ---------------------------------------------------------------

_SPACED = re.compile(
    r"(?<![^\W_])[^\W_](?:(?:[ .*_\-]|  {1,3}| ?[/|] ?)[^\W_](?![^\W_])){2,200}(?![^\W_])"
)
_SINGLE_SEP = re.compile(r"[ .*_\-]")
# cheap tests that a text may hold spaced-out letters ("N E W", "c.a.l.l"), before the real regex
_SPACED_HINT_SPACES = re.compile(r" [^\W_] {1,4}[^\W_] ")
_SPACED_HINT_MARKS = re.compile(r"[.*_\-/|][^\W_][.*_\-/|][^\W_]")


# ASCII text as character classes ("a" letter or digit, " " space, "m" one of the marks of
# _SPACED_HINT_MARKS, "x" anything else): the hints become a few literal searches
_HINT_CLASSES = bytes(
    ord("a") if chr(b).isalnum() else ord(" ") if b == 32 else ord("m") if chr(b) in ".*_-/|" else ord("x")
    for b in range(256)
)
# the same for any text, each non-ASCII character encoded as "?": "?" may stand for a letter, so
# these classes can only find more hints than there are (then the regexes decide), never fewer
_LOOSE_HINT_CLASSES = _HINT_CLASSES[: ord("?")] + b"a" + _HINT_CLASSES[ord("?") + 1 :]
def _has_hint(classes: bytes) -> bool:
    """Marks hint ("mama") or spaces hint (" a", one to four spaces, "a ") in a class string."""
    if b"mama" in classes:
        return True
    at = classes.find(b" a ")  # a one-character word; is another one 0 to 3 more spaces on?
    while at != -1:
        nxt = at + 3
        while nxt < at + 6 and classes.startswith(b" ", nxt):
            nxt += 1
        if classes.startswith(b"a ", nxt):
            return True
        at = classes.find(b" a ", at + 1)
    return False


def _spaced_hint(text: str) -> bool:
    """`_SPACED_HINT_SPACES` on " " + text + " " (without copying the text) or the marks hint."""
    if text.isascii():
        return _has_hint(b" " + text.encode("ascii").translate(_HINT_CLASSES) + b" ")
    if not _has_hint(b" " + text.encode("ascii", "replace").translate(_LOOSE_HINT_CLASSES) + b" "):
        return False
    if len(text) <= 16:
        return bool(_SPACED_HINT_SPACES.search(" " + text + " ") or _SPACED_HINT_MARKS.search(text))
    if _SPACED_HINT_SPACES.search(text) or _SPACED_HINT_MARKS.search(text):
        return True
    # a hint spans at most 8 characters: at the edges, put the padding spaces on short slices
    return bool(_SPACED_HINT_SPACES.match(" " + text[:8]) or _SPACED_HINT_SPACES.search(text[-8:] + " "))


def _spaced_replacement(match: re.Match) -> Segments | None:
    run = match.group(0)
    segments: Segments = []
    i = 0
    n = len(run)
    while i < n:
        ch = run[i]
        if ch.isalnum():
            segments.append((ch, i, i + 1))
            i += 1
            continue
        j = i
        while j < n and not run[j].isalnum():
            j += 1
        if j - i > 1 or not _SINGLE_SEP.fullmatch(run[i:j]):
            segments.append((" ", i, j))
        i = j
    return segments


def normalise(raw: object) -> Normalised:
    """Undo HTML, Unicode and spacing obfuscation; see the module docstring (None becomes "",
    any other non-string its str())."""
    text = raw if isinstance(raw, str) else "" if raw is None else str(raw)
    norm = Normalised(text, text)
    if "&" in text or "<" in text:
        for _ in range(2):  # double-encoded entities ("&amp;#55;")
            before = norm.text
            norm = apply(norm, _HTML, _html_replacement)
            if norm.text == before or "&" not in norm.text:
                break
    if not norm.text.isascii() or _has_controls(norm.text):
        norm = apply(norm, _SPECIAL_CHARS, _char_replacement)
    if _spaced_hint(norm.text):
        norm = apply(norm, _SPACED, _spaced_replacement)
    return norm


_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


_CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])
_NOT_CONTROL_BYTES = bytes(b for b in range(128) if b not in _CONTROL_BYTES)


def _has_controls(text: str) -> bool:
    """Does `text` hold a control character `_CONTROLS` would find?"""
    if text.isascii():  # deleting every other byte in C is cheaper than a regex scan
        return bool(text.encode("ascii").translate(None, _NOT_CONTROL_BYTES))
    return _CONTROLS.search(text) is not None


# --- numbers: words and look-alike letters become digits -------------------------------------

_UNITS = {
    "zero": "0",
    "oh": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "cero": "0",
    "uno": "1",
    "dos": "2",
    "tres": "3",
    "cuatro": "4",
    "cinco": "5",
    "seis": "6",
    "siete": "7",
    "ocho": "8",
    "nueve": "9",
}
_TEENS = {
    "ten": "10",
    "eleven": "11",
    "twelve": "12",
    "thirteen": "13",
    "fourteen": "14",
    "fifteen": "15",
    "sixteen": "16",
    "seventeen": "17",
    "eighteen": "18",
    "nineteen": "19",
    "diez": "10",
    "doce": "12",
    "trece": "13",
    "catorce": "14",
    "quince": "15",
    "dieciseis": "16",
    "diecisiete": "17",
    "dieciocho": "18",
    "diecinueve": "19",
    "veinte": "20",
    "veintiuno": "21",
    "veintidos": "22",
    "veintitres": "23",
    "veinticuatro": "24",
    "veinticinco": "25",
    "veintiseis": "26",
    "veintisiete": "27",
    "veintiocho": "28",
    "veintinueve": "29",
}
_TENS = {
    "twenty": "2",
    "thirty": "3",
    "forty": "4",
    "fourty": "4",
    "fifty": "5",
    "sixty": "6",
    "seventy": "7",
    "eighty": "8",
    "ninety": "9",
    "treinta": "3",
    "cuarenta": "4",
    "cincuenta": "5",
    "sesenta": "6",
    "setenta": "7",
    "ochenta": "8",
    "noventa": "9",
}
_HUNDREDS = {
    "cien": "1",
    "ciento": "1",
    "doscientos": "2",
    "trescientos": "3",
    "cuatrocientos": "4",
    "quinientos": "5",
    "seiscientos": "6",
    "setecientos": "7",
    "ochocientos": "8",
    "novecientos": "9",
}
_REPEAT = {"double": 2, "triple": 3, "doble": 2}
_NUMBER_WORDS = {**_UNITS, **_TEENS, **_TENS, **_HUNDREDS, "hundred": "", **_REPEAT}
_WORD_ALT = "|".join(sorted((re.escape(w.strip()) for w in _NUMBER_WORDS), key=len, reverse=True))
_WORD_SPLIT = re.compile(_WORD_ALT)
_NUMBER_RUN = re.compile(
    rf"(?<![a-z])(?:{_WORD_ALT}){{1,16}}"
    rf"(?:(?:[ \-]{{1,3}}|[ \-]{{0,2}}\b(?:and|y|o)\b[ \-]{{1,2}})(?:{_WORD_ALT}){{1,16}}){{0,24}}"
    rf"(?![a-z])"
)
_LEET_DIGITS = {"o": "0", "l": "1", "i": "1"}
_LEET_CHARS = frozenset("0123456789oli")
_LEET_TOKEN = re.compile(r"[0-9oli]{1,40}(?![a-z0-9])")
# "[0-9][0-9]*" rather than "[0-9]+": sre skips to a leading character set with a fast scan,
# which it does not do for a leading repeat (twice the speed on ad-length text, same matches)
_DIGIT_RUN_RE = re.compile(r"[0-9][0-9]*")


@lru_cache(maxsize=1)
def _number_word_automaton() -> ahocorasick.Automaton:
    automaton = ahocorasick.Automaton()
    for word in _NUMBER_WORDS:
        automaton.add_word(word, len(word))
    automaton.make_automaton()
    return automaton


def digit_runs(text: str) -> list[tuple[int, int]]:
    """(start, end) of every run of ASCII digits in `text`."""
    return [m.span() for m in _DIGIT_RUN_RE.finditer(text)]


def _numeric_edits(
    lowered: str,
    runs: list[tuple[int, int]] | None = None,
    word_hits: list[tuple[int, int]] | None = None,
) -> list[tuple[int, int, str | Segments]]:
    """Edits turning number words and look-alike letters inside numbers into digits.

    `runs` are the digit runs of `lowered` and `word_hits` its number words as
    `_number_word_automaton().iter(lowered)` gives them, when the caller has them already."""
    edits: list[tuple[int, int, str | Segments]] = []
    covered = -1
    if word_hits is None:
        word_hits = list(_number_word_automaton().iter(lowered))
    for end_index, length in word_hits:
        start = end_index + 1 - length
        if start < covered or (start > 0 and lowered[start - 1].isalpha()):
            continue
        match = _NUMBER_RUN.match(lowered, start)
        if match is None:
            continue
        covered = match.end()
        run = match.group(0)
        if run in ("o", "oh"):
            continue  # a lone "o" or "oh" is a word, not a zero
        edits.append((start, match.end(), _words_to_digits(run)))
    if any(c in lowered for c in "oli"):
        covered = -1
        n = len(lowered)
        for start, end in digit_runs(lowered) if runs is None else runs:
            if start < covered:
                continue
            if (start == 0 or lowered[start - 1] not in "oli") and (end == n or lowered[end] not in "oli"):
                continue
            first = start
            while start > 0 and first - start <= 40 and lowered[start - 1] in _LEET_CHARS:
                start -= 1
            if start > 0 and lowered[start - 1] in _LEET_CHARS:  # a token too long for a number
                stop = end
                while stop < n and lowered[stop] in _LEET_CHARS:
                    stop += 1
                covered = stop
                continue
            if start > 0 and lowered[start - 1].isalpha():
                continue
            token = _LEET_TOKEN.match(lowered, start)
            if token is None:
                continue
            covered = token.end()
            edits.append(
                (start, token.end(), "".join(_LEET_DIGITS.get(c, c) for c in token.group(0)))
            )
    if len(edits) > 1:
        edits.sort(key=lambda e: e[0])
    return edits


_WORD_OR_SEP = re.compile(rf"(?P<w>{_WORD_ALT})|(?P<sep>[^a-z]+|\b(?:and|y|o)\b)")


def _words_to_digits(run: str) -> Segments:
    """Turn a run of number words (with their separators) into digit segments."""
    tokens = [
        (m.group(0), m.start(), m.end(), m.lastgroup == "w") for m in _WORD_OR_SEP.finditer(run)
    ]
    out: Segments = []

    def following(k: int) -> tuple[int, str] | None:
        """The token index of the next word after token k and the gap text before it."""
        j = k + 1
        gap = ""
        while j < len(tokens) and not tokens[j][3]:
            gap += tokens[j][0]
            j += 1
        return (j, gap.strip(" -")) if j < len(tokens) else None

    k = 0
    while k < len(tokens):
        text, start, end, is_word = tokens[k]
        if not is_word:
            out.append(("0" if text == "o" else text, start, end))
            k += 1
            continue
        nxt = following(k)
        nxt_word = tokens[nxt[0]][0] if nxt else ""
        joined = nxt is not None and nxt[1] in ("", "y", "and")
        if nxt is None:  # `joined` is false: only the last branches below apply
            nxt = (len(tokens), "")
        if text in _REPEAT and joined and nxt_word in _UNITS:
            out.append((_UNITS[nxt_word] * _REPEAT[text], start, tokens[nxt[0]][2]))
            k = nxt[0] + 1
        elif text in _TENS:
            if joined and nxt_word in _UNITS and _UNITS[nxt_word] != "0":
                out.append((_TENS[text] + _UNITS[nxt_word], start, tokens[nxt[0]][2]))
                k = nxt[0] + 1
            else:
                out.append((_TENS[text] + "0", start, end))
                k += 1
        elif text in _UNITS and joined and nxt_word == "hundred" and _UNITS[text] != "0":
            value, stop, k = int(_UNITS[text]) * 100, tokens[nxt[0]][2], nxt[0] + 1
            rest = following(nxt[0])
            if rest is not None and rest[1] in ("", "and"):
                word = tokens[rest[0]][0]
                if word in _TEENS:
                    value, stop, k = value + int(_TEENS[word]), tokens[rest[0]][2], rest[0] + 1
                elif word in _TENS:
                    value, stop, k = value + 10 * int(_TENS[word]), tokens[rest[0]][2], rest[0] + 1
                    unit = following(rest[0])
                    if unit is not None and unit[1] == "" and tokens[unit[0]][0] in _UNITS:
                        value += int(_UNITS[tokens[unit[0]][0]])
                        stop, k = tokens[unit[0]][2], unit[0] + 1
                elif word in _UNITS and rest[1] == "and":
                    value, stop, k = value + int(_UNITS[word]), tokens[rest[0]][2], rest[0] + 1
            out.append((str(value), start, stop))
        elif text in _HUNDREDS:
            out.append((_HUNDREDS[text] + "00", start, end))
            k += 1
        else:
            out.append((_UNITS.get(text) or _TEENS.get(text) or text, start, end))
            k += 1
    return out


def numeric_view(norm: Normalised) -> Normalised:
    """Lowercase view of `norm` with number words and digit look-alikes turned into digits.

    The view's parent is `norm` lowercased (same offsets as `norm.text`), so `to_parent` maps
    a view span onto `norm.text` and `span` onto the original text.
    """
    return _numeric_view_runs(norm)[0]


def _numeric_view_runs(
    norm: Normalised, word_hits: list[tuple[int, int]] | None = None
) -> tuple[Normalised, list[tuple[int, int]]]:
    """`numeric_view(norm)` and the digit runs of its text (found once for every detector);
    `word_hits` as for `_numeric_edits`."""
    lowered = Normalised(
        norm.lower,
        norm.original,
        norm._out_starts,
        norm._src_starts,
        norm._src_ends,
        norm._linear,
        norm._parent,
    )
    runs = digit_runs(lowered.text)
    edits = _numeric_edits(lowered.text, runs, word_hits)
    if not edits:  # the usual case: the view is the lowered text, one to one
        return Normalised(lowered.text, norm.original, [], [], [], [], lowered), runs
    step = rewrite(lowered.text, edits)
    runs = digit_runs(step.text)
    view = Normalised(
        step.text,
        norm.original,
        step._out_starts,
        step._src_starts,
        step._src_ends,
        step._linear,
        lowered,
    )
    return view, runs


# --- one ad: title and body analysed together ------------------------------------------------

FIELD_SEPARATOR = "\n" * 6
"""Joins title and body: more line breaks than any entity, phrase or phone chain can span."""


@dataclass(slots=True)
class AdText:
    """An ad's title and body (each cut to MAX_FIELD_CHARS) normalised as one text.

    `norm` and `view` (its numeric view) cover title + FIELD_SEPARATOR + body; `view_runs` are
    the digit runs of `view.text`, `words` the word-list hits in `norm.lower` (one scan for
    number words, platform names and the lexicon); `evidence` turns a span of norm or view back into
    {field, start, end, text} on the original field. Treat it as immutable (not frozen: see
    `Normalised`); `analyse_ad` hands the same instance to every detector.
    """

    title: str
    body: str
    norm: Normalised
    view: Normalised
    truncated: bool
    view_runs: list[tuple[int, int]]
    words: WordHits

    @property
    def body_offset(self) -> int:
        return len(self.title) + len(FIELD_SEPARATOR)

    def _evidence(self, start: int, end: int) -> dict:
        offset = self.body_offset
        if start >= offset or end > len(self.title):
            field, text = "body", self.body
            start, end = max(start - offset, 0), max(end - offset, 0)
        else:
            field, text = "title", self.title
        end = min(max(end, start), len(text))
        start = min(start, end)
        return {"field": field, "start": start, "end": end, "text": text[start:end]}

    def evidence(self, start: int, end: int) -> dict:
        """Evidence for norm.text[start:end]."""
        return self._evidence(*self.norm.span(start, end))

    def view_evidence(self, start: int, end: int) -> dict:
        """Evidence for view.text[start:end]."""
        return self._evidence(*self.view.span(start, end))


def _field(value: object) -> tuple[str, bool]:
    if value is None:
        return "", False
    text = value if isinstance(value, str) else str(value)
    if len(text) > MAX_FIELD_CHARS:
        return text[:MAX_FIELD_CHARS], True
    return text, False


@lru_cache(maxsize=64)
def analyse_ad(title: object, body: object) -> AdText:
    """Normalise an ad once for every detector (cached: the pipeline asks several times)."""
    title, title_cut = _field(title)
    body, body_cut = _field(body)
    norm = normalise(title + FIELD_SEPARATOR + body)
    words = scan_words(norm.lower)
    view, runs = _numeric_view_runs(norm, words.number_words)
    return AdText(title, body, norm, view, title_cut or body_cut, runs, words)


# --- template text -----------------------------------------------------------------------------

_SPACES = re.compile(r"\s+")
_DIGIT_RUN = re.compile(r"[0-9]+(?:[.,][0-9]+)*")


def template_text(title: object, body: object) -> str:
    """Normalised, lowercased title and body with contacts and numbers replaced by placeholders.

    Phones become <phone>, emails <email>, handles <handle>, URLs <url> and any other number
    <num>, so ads posted from one template under different contacts share their words.
    """
    from detectors.entities import placeholder_spans  # late: entities builds on this module

    ad = analyse_ad(title, body)
    lowered = ad.norm.lower
    pieces = []
    pos = 0
    for start, end, label in placeholder_spans(ad.norm, ad.view):
        if start < pos:
            continue
        pieces.append(lowered[pos:start])
        pieces.append(f" <{label}> ")
        pos = end
    pieces.append(lowered[pos:])
    text = _DIGIT_RUN.sub(" <num> ", "".join(pieces))
    return _SPACES.sub(" ", text).strip()


def previous_word(
    text: str, pos: int, skip: str = " ", max_len: int = 20
) -> tuple[str, int] | None:
    """The word (letters, digits, ' and /) ending just before `pos`, after skipping up to four
    `skip` characters, with its start; None when there is none within `max_len` characters."""
    end = pos
    while end > 0 and pos - end < 4 and text[end - 1] in skip:
        end -= 1
    start = end
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] in "'/"):
        start -= 1
        if end - start > max_len:
            return None
    if start == end:
        return None
    return text[start:end], start


def previous_words(text: str, pos: int, count: int, skip: str = " ") -> list[tuple[str, int]]:
    """Up to `count` words before `pos`, nearest first (see `previous_word`)."""
    words: list[tuple[str, int]] = []
    for _ in range(count):
        found = previous_word(text, pos, skip)
        if found is None:
            break
        words.append(found)
        pos = found[1]
    return words
