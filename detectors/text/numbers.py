"""The numeric view of a text: number words and look-alike letters become digits.

`numeric_view(norm)` turns number words in English and Spanish ("seven oh two",
"fourfourseven", "treinta y dos", "2th0usand"), homophones inside a run that is clearly a
number ("tree oh won") and letters standing for digits inside numbers ("7O2", "Ol23") into
digits, keeping the map back to the original text; `digit_runs` finds the digit runs every
numeric extractor (phones, ages, prices) starts from.
"""

from __future__ import annotations

import re

from detectors.text.automata import number_word_automaton
from detectors.text.normalise import Normalised, Segments, rewrite
from detectors.text.wordlists import HUNDREDS, NUMBER_WORDS, REPEAT, TEENS, TENS, UNITS

_WORD_ALT = "|".join(sorted((re.escape(w.strip()) for w in NUMBER_WORDS), key=len, reverse=True))
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

# words that sound like digits ("tree oh won", "for", "ate"; radio's "niner", "fife", "fower"):
# read as digits only inside a run that is clearly a number (see `_homophone_edits`); a lone "o"
# or "oh" there is a zero
HOMOPHONES = {"to": "2", "too": "2", "for": "4", "fore": "4", "won": "1", "ate": "8",
              "tree": "3", "o": "0", "oh": "0", "niner": "9", "fife": "5", "fower": "4"}
_HOMOPHONE_ALT = "too|to|fore|for|fower|fife|won|ate|tree|niner|oh|o"
_SEP_CHARS = " -,./_*|;:!+~"
_RUN_SEP = r"[ \-,./_*|;:!+~]{1,3}"
# a homophone next to a digit or a number word: the cheap test before the run regex
_HOMOPHONE_AFTER = re.compile(rf"{_RUN_SEP}(?:{_HOMOPHONE_ALT})(?![a-z])")
# what follows a homophone for it to be part of a number: a separator and a token ("to late" is
# not, "to 5" and "to tree" are, and so is the end of a phone: "seven to, hmu")
_TOKEN_AFTER = re.compile(rf"{_RUN_SEP}(?:[0-9]|{_WORD_ALT}|{_HOMOPHONE_ALT})(?![a-z])|[ ]?[,.;!)]|$")
_HOMOPHONE_BEFORE = re.compile(rf"(?<![a-z])(?:{_HOMOPHONE_ALT}){_RUN_SEP}$")
_RUN_TOKEN = rf"(?:[0-9]+|(?:{_WORD_ALT}))+|{_HOMOPHONE_ALT}"
_TOKEN_PIECE = re.compile(rf"[0-9]+|(?:{_WORD_ALT})+")
_SOUNDING_RUN = re.compile(
    rf"(?<![a-z0-9])(?:{_RUN_TOKEN})(?:{_RUN_SEP}(?:{_RUN_TOKEN})){{3,40}}(?![a-z0-9])"
)
_TOKEN = re.compile(_RUN_TOKEN)
# "to" and "for" that begin or end a run are words when prose goes on beside them
_PROSE_HOMOPHONES = frozenset({"to", "too", "for"})
_PROSE_BEFORE = re.compile(r"[a-z] $")
_PROSE_AFTER = re.compile(r" [a-z]")  # on the text as written: " Ask" begins a sentence
MIN_SOUNDING_DIGITS = 7
_MAX_RUN_TOKENS = 40
# a digit or a digit word glued to "thousand" ("2th0usand", "twothousand"): that digit and 000
_THOUSAND = re.compile(
    r"(?<![a-z0-9])(?P<digit>[0-9]|zero|one|two|three|four|five|six|seven|eight|nine)"
    r"th[o0]us[a4]nd(?![a-z])"
)


def digit_runs(text: str) -> list[tuple[int, int]]:
    """(start, end) of every run of ASCII digits in `text`."""
    return [m.span() for m in _DIGIT_RUN_RE.finditer(text)]


def _numeric_edits(
    lowered: str,
    runs: list[tuple[int, int]] | None = None,
    word_hits: list[tuple[int, int]] | None = None,
    cased: str | None = None,
) -> list[tuple[int, int, str | Segments]]:
    """Edits turning number words, homophones in numbers, "2thousand" and look-alike letters
    inside numbers into digits.

    `runs` are the digit runs of `lowered` and `word_hits` its number words as
    `number_word_automaton().iter(lowered)` gives them, when the caller has them already;
    `cased` is `lowered` before lowercasing (same offsets)."""
    edits: list[tuple[int, int, str | Segments]] = []
    covered = -1
    if word_hits is None:
        word_hits = list(number_word_automaton().iter(lowered))
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
    if word_hits or runs is None or runs:
        edits = _merge_edits(
            edits, _homophone_edits(lowered, runs, word_hits, lowered if cased is None else cased)
        )
    if "usand" in lowered or "us4nd" in lowered:
        edits = _merge_edits(edits, [
            (m.start(), m.end(), UNITS.get(m.group("digit"), m.group("digit")) + "000")
            for m in _THOUSAND.finditer(lowered)
        ])
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


def _merge_edits(
    edits: list[tuple[int, int, str | Segments]], extra: list[tuple[int, int, str | Segments]]
) -> list[tuple[int, int, str | Segments]]:
    """`edits` plus those of `extra` that overlap none of them, in order of start (both lists
    are in order of start and free of overlaps within themselves)."""
    if not extra:
        return edits
    kept: list[tuple[int, int, str | Segments]] = []
    k = 0
    for edit in extra:
        while k < len(edits) and edits[k][1] <= edit[0]:
            k += 1
        if k == len(edits) or edits[k][0] >= edit[1]:
            kept.append(edit)
    return sorted(edits + kept, key=lambda e: e[0]) if kept else edits


def _homophone_hints(lowered: str, spans: list[tuple[int, int]]) -> list[int]:
    """Where a homophone is written next to one of these digit or number-word spans (the
    span's start), in order; number words inside longer words ("someone") are no spans."""
    hints: list[int] = []
    n = len(lowered)
    for start, end in spans:
        if start > 0 and lowered[start - 1].isalpha():
            continue
        # cheap tests first: a separator, then a homophone's first (after) or last (before) letter
        after = end
        while after < n and after - end < 3 and lowered[after] in _SEP_CHARS:
            after += 1
        if after > end and after < n and lowered[after] in "tfwaon":
            homophone = _HOMOPHONE_AFTER.match(lowered, end)
            if homophone is not None and _TOKEN_AFTER.match(lowered, homophone.end()):
                hints.append(start)
                continue
        before = start - 1
        while before >= 0 and start - before <= 3 and lowered[before] in _SEP_CHARS:
            before -= 1
        if before < start - 1 and before >= 0 and lowered[before] in "oernh" and (
            _HOMOPHONE_BEFORE.search(lowered, max(0, start - 8), start)
        ):
            hints.append(start)
    hints.sort()
    return hints


def _run_start(lowered: str, pos: int, floor: int) -> int:
    """Where the run of digit tokens (digits, number words, homophones) that `pos` begins a
    token of starts, not before `floor`: walk back over separators and whole tokens (anchored
    matches only; the run regex scanned over the text would cost ~100 us an ad)."""
    for _ in range(_MAX_RUN_TOKENS):
        sep = pos
        while sep > floor and pos - sep < 3 and lowered[sep - 1] in _SEP_CHARS:
            sep -= 1
        if sep == pos:
            return pos
        word = sep
        while word > floor and sep - word < 40 and lowered[word - 1].isalnum():
            word -= 1
        if word == sep or (word > 0 and lowered[word - 1].isalnum()):
            return pos
        if _TOKEN.fullmatch(lowered, word, sep) is None:
            return pos
        pos = word
    return pos


def _homophone_edits(
    lowered: str, runs: list[tuple[int, int]] | None, word_hits: list[tuple[int, int]],
    cased: str,
) -> list[tuple[int, int, str | Segments]]:
    """Homophones read as digits ("call tree won too 555 o won for won"), only in a run that is
    clearly a number: at least seven digits in all, some written as digits or digit words, and
    each homophone between single digits on every side it has one, or next to a single digit
    spelled out (a word or another homophone), so "5 to 10, 11 to 15" or "2 for 1" stay words."""
    spans = digit_runs(lowered) if runs is None else runs
    spans = spans + [(end + 1 - length, end + 1) for end, length in word_hits]
    hints = _homophone_hints(lowered, spans)
    if not hints:
        return []
    out: list[tuple[int, int, str | Segments]] = []
    covered = -1
    for hint in hints:
        if hint < covered:
            continue
        run = _SOUNDING_RUN.match(lowered, _run_start(lowered, hint, max(covered, 0)))
        if run is None:
            continue
        covered = run.end()
        tokens = []  # (start, end, digits, weak, spelled)
        for token in _TOKEN.finditer(lowered, run.start(), run.end()):
            text = token.group(0)
            weak = text in HOMOPHONES
            if weak:
                digits = HOMOPHONES[text]
            else:
                digits = "".join(
                    piece.group(0) if piece.group(0)[0].isdigit()
                    else "".join(d for d, _, _ in _words_to_digits(piece.group(0)))
                    for piece in _TOKEN_PIECE.finditer(text)
                )
            tokens.append((token.start(), token.end(), digits, weak, not text[0].isdigit()))
        if sum(len(t[2]) for t in tokens) < MIN_SOUNDING_DIGITS or all(t[3] for t in tokens):
            continue
        single = [len(t[2]) == 1 for t in tokens]
        for k, (start, end, digits, weak, _) in enumerate(tokens):
            if not weak:
                continue
            if lowered[start:end] in _PROSE_HOMOPHONES and (
                (k == 0 and _PROSE_BEFORE.search(lowered, max(0, start - 3), start))
                or (k + 1 == len(tokens) and _PROSE_AFTER.match(cased, end))
            ):
                continue  # "text 7 0 2 ... 4 for tonight", "call for 7 ...": the word
            before, after = tokens[k - 1] if k else None, tokens[k + 1] if k + 1 < len(tokens) else None
            if ((before is None or single[k - 1]) and (after is None or single[k + 1])) or any(
                t is not None and t[4] and len(t[2]) == 1 for t in (before, after)
            ):
                out.append((start, end, digits))
    return out


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
        if text in REPEAT and joined and nxt_word in UNITS:
            out.append((UNITS[nxt_word] * REPEAT[text], start, tokens[nxt[0]][2]))
            k = nxt[0] + 1
        elif text in TENS:
            if joined and nxt_word in UNITS and UNITS[nxt_word] != "0":
                out.append((TENS[text] + UNITS[nxt_word], start, tokens[nxt[0]][2]))
                k = nxt[0] + 1
            else:
                out.append((TENS[text] + "0", start, end))
                k += 1
        elif text in UNITS and joined and nxt_word == "hundred" and UNITS[text] != "0":
            value, stop, k = int(UNITS[text]) * 100, tokens[nxt[0]][2], nxt[0] + 1
            rest = following(nxt[0])
            if rest is not None and rest[1] in ("", "and"):
                word = tokens[rest[0]][0]
                if word in TEENS:
                    value, stop, k = value + int(TEENS[word]), tokens[rest[0]][2], rest[0] + 1
                elif word in TENS:
                    value, stop, k = value + 10 * int(TENS[word]), tokens[rest[0]][2], rest[0] + 1
                    unit = following(rest[0])
                    if unit is not None and unit[1] == "" and tokens[unit[0]][0] in UNITS:
                        value += int(UNITS[tokens[unit[0]][0]])
                        stop, k = tokens[unit[0]][2], unit[0] + 1
                elif word in UNITS and rest[1] == "and":
                    value, stop, k = value + int(UNITS[word]), tokens[rest[0]][2], rest[0] + 1
            out.append((str(value), start, stop))
        elif text in HUNDREDS:
            out.append((HUNDREDS[text] + "00", start, end))
            k += 1
        else:
            out.append((UNITS.get(text) or TEENS.get(text) or text, start, end))
            k += 1
    return out


def numeric_view(norm: Normalised) -> Normalised:
    """Lowercase view of `norm` with number words and digit look-alikes turned into digits.

    The view's parent is `norm` lowercased (same offsets as `norm.text`), so `to_parent` maps
    a view span onto `norm.text` and `span` onto the original text.
    """
    return numeric_view_and_runs(norm)[0]


def numeric_view_and_runs(
    norm: Normalised, word_hits: list[tuple[int, int]] | None = None
) -> tuple[Normalised, list[tuple[int, int]]]:
    """`numeric_view(norm)` and the digit runs of its text (found once for every detector);
    `word_hits` as for `_numeric_edits`."""
    lowered = norm.lowercased()
    runs = digit_runs(lowered.text)
    edits = _numeric_edits(lowered.text, runs, word_hits, norm.text)
    if not edits:  # the usual case: the view is the lowered text, one to one
        return Normalised(lowered.text, norm.original, _parent=lowered), runs
    step = rewrite(lowered.text, edits)
    runs = digit_runs(step.text)
    return step.rewritten_from(lowered), runs

