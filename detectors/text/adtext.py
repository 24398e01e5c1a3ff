"""One ad's title and body analysed once for every text detector.

`analyse_ad(title, body)` normalises title and body as one text, scans it once for every word
list (`automata.scan_words`) and builds its numeric view (`numbers`); the extractors, the
indicators and the template text all read the same `AdText`, with `evidence` mapping any span
back to the original field.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from detectors.text.automata import WordHits, scan_words
from detectors.text.normalise import MAX_FIELD_CHARS, Normalised, normalise
from detectors.text.numbers import numeric_view_and_runs

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
    cities: list[tuple[str, int, int]] | None = None
    """The cities of `norm` once an extractor has looked for them (`places.find_cities`), so the
    grammar does not scan for them again."""

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
    view, runs = numeric_view_and_runs(norm, words.number_words)
    return AdText(title, body, norm, view, title_cut or body_cut, runs, words)

