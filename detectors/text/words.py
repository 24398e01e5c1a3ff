"""Words and characters next to a position in a text: the context the extractors look at.

`previous_word` / `previous_words` read the words before a number ("age: 19", "hh 100", "ISBN
…"), `char_before` / `char_after` the nearest meaningful character on either side.
"""

from __future__ import annotations


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


def char_before(text: str, start: int, skip: str = " :=-") -> str:
    """The nearest character before `start` that is not in `skip` (looking 4 back at most)."""
    pos = start - 1
    while pos >= 0 and start - pos <= 4 and text[pos] in skip:
        pos -= 1
    return text[pos] if pos >= 0 else ""


def char_after(text: str, end: int) -> str:
    pos = end
    while pos < len(text) and pos - end < 2 and text[pos] == " ":
        pos += 1
    return text[pos] if pos < len(text) else ""
