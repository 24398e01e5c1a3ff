"""Normalisation: the obfuscation it undoes, and offsets that lead back to the user's text."""

from __future__ import annotations

import re

import pytest

from detectors.text.adtext import FIELD_SEPARATOR, analyse_ad
from detectors.text.normalise import MAX_FIELD_CHARS, normalise
from detectors.text.numbers import numeric_view
from detectors.text.placeholders import template_text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("call &#55;&#48;&#50; now", "call 702 now"),
        ("&amp;#55;", "7"),  # double-encoded entity
        ("7<b>0</b>2<br>next", "702 next"),
        ("\uff17\uff10\uff12", "702"),  # full-width digits
        ("\u2466\u24ea\u2461", "702"),  # circled digits
        ("\u2790\u24ff\u278b", "702"),  # dingbat digits
        ("7\ufe0f\u20e30\ufe0f\u20e32\ufe0f\u20e3", "702"),  # keycap emoji
        ("7\u200b0\u200d2\u2060", "702"),  # zero-width characters
        ("n\u0435w \u0456n t\u043ewn", "new in town"),  # Cyrillic look-alikes
        ("reci\u00e9n llegada", "recien llegada"),  # accents
        ("\U0001d7d5\U0001d7ce\U0001d7d0", "702"),  # mathematical bold digits
        ("N E W  I N  T O W N", "NEW IN TOWN"),  # spaced-out letters
        ("c.a.l.l me", "call me"),
        ("plain text stays", "plain text stays"),
    ],
)
def test_normalise_undoes_obfuscation(raw: str, expected: str) -> None:
    assert normalise(raw).text == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("seven oh two five five five", "7 0 2 5 5 5"),
        ("siete cero dos", "7 0 2"),
        ("fourfourseven", "447"),
        ("twenty five years", "25 years"),
        ("treinta y dos anos", "32 anos"),
        ("two hundred fifty roses", "250 roses"),
        ("double five", "55"),
        ("call 7O2-555-Ol23", "call 702-555-0123"),
        ("oh my, I love it", "oh my, i love it"),  # a lone "oh" is not a zero
        ("someone often phones", "someone often phones"),  # number words inside words stay
    ],
)
def test_numeric_view_turns_words_and_look_alikes_into_digits(raw: str, expected: str) -> None:
    assert numeric_view(normalise(raw)).text == expected


def test_every_digit_of_the_numeric_view_maps_to_the_text_it_came_from() -> None:
    raw = "Text <i>7</i>O2 &#53;55 fivefive zero one, deux ①②"
    view = numeric_view(normalise(raw))
    pieces = [view.original_slice(m.start(), m.end()) for m in re.finditer(r"[0-9]+", view.text)]
    assert pieces == ["7</i>O2", "&#53;55", "fivefive", "zero", "one", "①②"]


def test_spans_are_clamped_and_empty_spans_stay_empty() -> None:
    norm = normalise("a\u200bb c")
    assert norm.span(-5, 100) == (0, len("a\u200bb c"))
    start, end = norm.span(2, 2)
    assert start == end


def test_lowercase_of_normalised_text_keeps_its_length() -> None:
    norm = normalise("\u0130stanbul \u1e9e STRASSE \u2126")
    assert len(norm.lower) == len(norm.text)


def test_analyse_ad_cuts_long_fields_and_flags_it() -> None:
    ad = analyse_ad("t", "x" * (MAX_FIELD_CHARS + 10))
    assert ad.truncated
    assert len(ad.body) == MAX_FIELD_CHARS
    assert not analyse_ad("t", "short").truncated


def test_evidence_names_the_field_and_offsets_into_it() -> None:
    ad = analyse_ad("New &amp; fresh", "body text here")
    title_start = ad.norm.text.index("fresh")
    body_start = ad.norm.text.index("here")
    assert ad.evidence(title_start, title_start + 5) == {
        "field": "title",
        "start": 10,
        "end": 15,
        "text": "fresh",
    }
    assert ad.evidence(body_start, body_start + 4) == {
        "field": "body",
        "start": 10,
        "end": 14,
        "text": "here",
    }
    assert FIELD_SEPARATOR.strip() == ""


def test_template_text_replaces_contacts_and_numbers() -> None:
    a = template_text("Sweet Amber", "Call 702-555-0123 or amber22@gmail.com, $200 hh, age 21")
    b = template_text(
        "Sweet Amber", "Call seven one three 555 0188 or x9@yahoo.com, $300 hh, age 22"
    )
    assert a == b
    assert "<phone>" in a and "<email>" in a and "<num>" in a
    assert "555" not in a


def test_non_string_input_becomes_text() -> None:
    assert normalise(None).text == ""  # type: ignore[arg-type]
    assert analyse_ad(None, 12345).body == "12345"  # type: ignore[arg-type]
