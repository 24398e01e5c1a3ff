"""Text normalisation that undoes ad obfuscation, with a map back to the original offsets.

`normalise(text)` decodes HTML entities and drops tags, folds Unicode (NFKD compatibility forms,
accents, circled / full-width / keycap digits, homoglyphs), removes zero-width and control
characters and joins spaced-out letters ("N E W  I N  T O W N" -> "NEW IN TOWN"). Every step
records which original characters each output character came from, so
`Normalised.span(start, end)` returns the original slice of any match. The bottom layer of the
text package: it imports nothing of vigil's (numbers, the word scan and every extractor build on it).
"""

from __future__ import annotations

import html
import re
import unicodedata
from bisect import bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache

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

    def lowercased(self) -> Normalised:
        """This text lowercased, with the same map (lowercasing keeps every offset)."""
        return Normalised(self.lower, self.original, self._out_starts, self._src_starts,
                          self._src_ends, self._linear, self._parent)

    def rewritten_from(self, parent: Normalised) -> Normalised:
        """This rewrite of `parent.text`, chained onto `parent` (so `span` reaches the original)."""
        return Normalised(self.text, parent.original, self._out_starts, self._src_starts,
                          self._src_ends, self._linear, parent)

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


