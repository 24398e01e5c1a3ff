"""Hardening: random and adversarial Unicode never crashes the text detectors, evidence always
points inside the input, and 100 KB of hostile text finishes in bounded time (no regex
backtracking blow-ups); longer bodies are cut and flagged."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detectors.text.adtext import analyse_ad
from detectors.text.entities import extract_entities
from detectors.text.indicators import match_indicators
from detectors.text.normalise import MAX_FIELD_CHARS, normalise
from detectors.text.numbers import numeric_view
from detectors.text.placeholders import template_text

# characters the normaliser treats specially, mixed into random text
TRICKY = list(
    "0123456789oOlI@.:/-_*()[]&#;<> \n\t$\u20ac\u00a3"
    "\u200b\u200c\u200d\u2060\ufeff\ufe0f\u20e3\u00ad"
    "\u2460\u2466\u24ea\u2790\uff17\uff10\u0430\u0435\u043e\u0456\u00e9\u0301\u0130\u1e9e"
    "\U0001d7d5\U0001f48b\U0001f339\U0001f352\U0001f47b\u00b6"
) + ["&#55;", "&amp;", "<b>", "</b>", " at ", " dot ", "seven ", "oh ", "four", "fresh ", "incall "]
tricky_text = st.lists(st.sampled_from(TRICKY) | st.text(max_size=3), max_size=80).map("".join)
any_text = st.text(max_size=300) | tricky_text

FAST = settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.too_slow])


def check_evidence(result: list[dict], title: str, body: str) -> None:
    for item in result:
        for ev in item["evidence"]:
            source = title if ev["field"] == "title" else body
            assert 0 <= ev["start"] <= ev["end"] <= len(source)
            assert source[ev["start"] : ev["end"]] == ev["text"]


@FAST
@given(any_text, any_text)
def test_extract_entities_never_raises_and_evidence_is_inside_the_input(
    title: str, body: str
) -> None:
    entities = extract_entities(title, body, country="US")
    for kind in ("phones", "emails", "handles", "urls", "ages", "prices", "locations"):
        check_evidence(entities[kind], title, body)
    for phone in entities["phones"]:
        assert phone["value"].startswith("+")


@FAST
@given(any_text, any_text)
def test_match_indicators_never_raises_and_evidence_is_inside_the_input(
    title: str, body: str
) -> None:
    check_evidence(match_indicators(title, body), title, body)


@FAST
@given(any_text)
def test_normalised_spans_stay_inside_the_original(text: str) -> None:
    view = numeric_view(normalise(text))
    n = len(view.text)
    for start in range(0, n + 1, max(1, n // 7)):
        for end in (start, min(n, start + 1), min(n, start + 5), n):
            s, e = view.span(start, end)
            assert 0 <= s <= e <= len(text)
    assert isinstance(template_text(text, text), str)


@FAST
@given(st.text(max_size=50), st.sampled_from(["US", "GB", "MX", None, "", "ZZ", "us"]))
def test_any_country_value_is_accepted(body: str, country: str | None) -> None:
    extract_entities("", body + " 702-555-0123", country=country)


HOSTILE_100KB = {
    "digits": "7" * MAX_FIELD_CHARS,
    "digit groups": "702 " * (MAX_FIELD_CHARS // 4),
    "letters": "a" * MAX_FIELD_CHARS,
    "number words": "fourfour" * (MAX_FIELD_CHARS // 8),
    "spelled digits": "seven oh " * (MAX_FIELD_CHARS // 9),
    "homophones": "won 5 for 5 " * (MAX_FIELD_CHARS // 12),
    "homophone runs": "seven oh to " * (MAX_FIELD_CHARS // 12),
    "symbol separators": "702$$555!!" * (MAX_FIELD_CHARS // 10),
    "thousands": "2th0usand " * (MAX_FIELD_CHARS // 10),
    "leet": "0lO1" * (MAX_FIELD_CHARS // 4),
    "at signs": "a@" * (MAX_FIELD_CHARS // 2),
    "spelled at": "x at " * (MAX_FIELD_CHARS // 5),
    "dots": "a." * (MAX_FIELD_CHARS // 2),
    "spaced letters": "a " * (MAX_FIELD_CHARS // 2),
    "entities": "&#55;" * (MAX_FIELD_CHARS // 5),
    "tags": "<b>" * (MAX_FIELD_CHARS // 3),
    "zero width": "7\u200b" * (MAX_FIELD_CHARS // 2),
    "emoji": "\U0001f48b7" * (MAX_FIELD_CHARS // 2),
    "phrases": "new in town incall roses " * (MAX_FIELD_CHARS // 25),
    "prices": "$1 " * (MAX_FIELD_CHARS // 3),
    "handles": "snap: a " * (MAX_FIELD_CHARS // 8),
    "urls": "www.a.com/" * (MAX_FIELD_CHARS // 10),
    "cities": "Denver " * (MAX_FIELD_CHARS // 7),
    "moving cities": "leaving for Denver then Omaha " * (MAX_FIELD_CHARS // 30),
    "bare domains": "a.com " * (MAX_FIELD_CHARS // 6),
    "dotted hosts": "a.b.c.d.e" * (MAX_FIELD_CHARS // 9) + ".com",
    "emails": "ab@cd.com " * (MAX_FIELD_CHARS // 10),
    "comments": "<!--" * (MAX_FIELD_CHARS // 4),
    "benign next to phrases": "fresh cherries incall " * (MAX_FIELD_CHARS // 22),
    "context words": "roses donation " * (MAX_FIELD_CHARS // 15),
    "negations": "not new in town " * (MAX_FIELD_CHARS // 16),
    "regex anchors": "she is ready 16 yo hh 100 " * (MAX_FIELD_CHARS // 26),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_100KB))
def test_hostile_100kb_bodies_finish_in_bounded_time(name: str) -> None:
    body = HOSTILE_100KB[name]
    assert len(body) <= MAX_FIELD_CHARS + 10
    analyse_ad.cache_clear()
    started = time.process_time()
    entities = extract_entities("title", body)
    match_indicators("title", body)
    elapsed = time.process_time() - started
    # generous: a 100 KB body is ~170 ordinary ads; backtracking would take minutes
    assert elapsed < 10.0, f"{name}: {elapsed:.1f}s"
    check_evidence(entities["phones"] + entities["emails"], "title", body)


def test_bodies_over_100kb_are_cut_with_a_flag_and_stay_fast() -> None:
    body = "call 702-555-0123 " + "7 " * MAX_FIELD_CHARS
    started = time.process_time()
    entities = extract_entities("", body)
    assert time.process_time() - started < 10.0
    assert entities["flags"] == ["truncated"]
    assert [p["value"] for p in entities["phones"]] == ["+17025550123"]
