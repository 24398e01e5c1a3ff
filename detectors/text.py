"""Text normalisation (minimal): HTML entities, NFKC, zero-width removal, template text."""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass

MAX_TEXT_CHARS = 100_000
_ZERO_WIDTH = re.compile("[\u200b-\u200f\u2060-\u2064\ufeff\u00ad]")
_PLACEHOLDERS = [
    (re.compile(r"\S+@\S+"), " <email> "),
    (re.compile(r"https?://\S+|www\.\S+"), " <url> "),
    (re.compile(r"[\d][\d\s().\-/]{5,}\d"), " <phone> "),
    (re.compile(r"\d+"), " <num> "),
]


@dataclass(frozen=True)
class Normalised:
    text: str
    truncated: bool = False


def normalise(text: str) -> Normalised:
    truncated = len(text) > MAX_TEXT_CHARS
    text = text[:MAX_TEXT_CHARS]
    text = unicodedata.normalize("NFKC", html.unescape(text))
    return Normalised(_ZERO_WIDTH.sub("", text), truncated)


def template_text(title: str, body: str) -> str:
    text = normalise(f"{title}\n{body}").text.lower()
    for pattern, placeholder in _PLACEHOLDERS:
        text = pattern.sub(placeholder, text)
    return text
