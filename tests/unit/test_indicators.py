"""The indicator lexicon: what lights up, what must not, and where the evidence points."""

from __future__ import annotations

from importlib import resources

import pytest
import yaml

from detectors.text.indicators import match_indicators
from detectors.text.lexicon import default_lexicon, load_lexicon

CATEGORIES = {
    "youth",
    "new_arrival_movement",
    "third_party_control",
    "restricted_movement",
    "multiple_workers",
    "availability_24_7",
    "foreign_limited_language",
    "coded_emoji",
    "payment",
    "law_enforcement_avoidance",
    "illicit_massage",
    "risky_services",
}
STRONG = 0.5


def ids(title: str, body: str) -> set[str]:
    return {ind["id"] for ind in match_indicators(title, body)}


def strong_ids(title: str, body: str) -> set[str]:
    return {ind["id"] for ind in match_indicators(title, body) if ind["weight"] >= STRONG}


def test_every_lexicon_entry_is_complete() -> None:
    raw = yaml.safe_load(resources.files("detectors.text").joinpath("lexicon.yaml").read_text("utf-8"))
    lexicon = default_lexicon()
    assert len(lexicon.indicators) == len(raw["indicators"]) >= 15
    for entry in raw["indicators"]:
        assert entry["category"] in CATEGORIES, entry["id"]
        assert 0 < entry["weight"] <= 1, entry["id"]
        assert entry["source"].strip(), entry["id"]
        assert entry["patterns"], entry["id"]
    assert {ind.category for ind in lexicon.indicators} == CATEGORIES


def test_a_trafficking_style_ad_lights_its_indicators_with_evidence() -> None:
    title = "NEW girl \U0001f352 just arrived"
    body = (
        "Sweet Candy, young and fresh, in town until Friday. Incall only, ask for my manager "
        "to book. Many girls available 24/7, roses only, no cops. Little english. "
        "\U0001f339\U0001f339"
    )
    found = {ind["id"]: ind for ind in match_indicators(title, body)}
    assert {
        "youth_coded",
        "new_in_town",
        "short_stay_touring",
        "incall_only",
        "manager_books",
        "multiple_workers",
        "available_24_7",
        "coded_payment",
        "law_enforcement_avoidance",
        "limited_english",
        "coded_emoji_money",
    } <= set(found)
    for ind in found.values():
        for ev in ind["evidence"]:
            source = title if ev["field"] == "title" else body
            assert source[ev["start"] : ev["end"]] == ev["text"]
    assert [ev["text"] for ev in found["manager_books"]["evidence"]] == ["ask for my manager"]


@pytest.mark.parametrize(
    "body",
    [
        "N E W  I N  T O W N, discreet incall, generous gentlemen",
        "n\u0435w \u0456n t\u043ewn! discreet incall, generous gentlemen",  # Cyrillic look-alikes
        "new&nbsp;in&nbsp;town! discreet incall, generous gentlemen",
        "new\u200b in town! discreet incall, generous gentlemen",
    ],
)
def test_obfuscated_phrases_still_match(body: str) -> None:
    found = [ind for ind in match_indicators("", body) if ind["id"] == "new_in_town"]
    assert found
    ev = found[0]["evidence"][0]
    assert body[ev["start"] : ev["end"]] == ev["text"]
    assert ev["text"].lower().startswith("n")


@pytest.mark.parametrize(
    ("title", "body"),
    [
        (
            "Licensed massage therapist",
            "LMT with 10 years of experience. Deep tissue and sports massage, "
            "young at heart, new clients welcome, insurance accepted. Open late on Thursdays.",
        ),
        (
            "Farmers market this Saturday",
            "Fresh cherries \U0001f352, young greens, new potatoes and "
            "fresh bread. Open 24 hours of fun for the family.",
        ),
        (
            "New dental office",
            "New in town! Our new dental office welcomes patients. Young and "
            "friendly staff, open late. Just arrived: new equipment.",
        ),
        ("Puppies for sale", "Young puppies, fresh from the litter, first time owners welcome."),
        (
            "Job: now hiring",
            "New girls and boys welcome to apply for our summer camp staff, 24/7 support.",
        ),
    ],
)
def test_benign_look_alikes_do_not_light_strong_indicators(title: str, body: str) -> None:
    assert strong_ids(title, body) == set()


def test_negation_switches_a_phrase_off() -> None:
    body = "Discreet incall for generous gentlemen. Not new in town, been here for years."
    assert "new_in_town" not in ids("", body)
    assert "new_in_town" in ids("", "Discreet incall for generous gentlemen. New in town!")


def test_phrases_that_carry_their_own_negation_still_count() -> None:
    assert "law_enforcement_avoidance" in ids("", "No cops, no LE. Discreet incall.")


def _weights(title: str, body: str) -> dict[str, float]:
    return {ind["id"]: ind["weight"] for ind in match_indicators(title, body)}


def test_context_lowers_the_weight_of_ambiguous_words_but_keeps_the_evidence() -> None:
    garden = match_indicators("", "Fresh and young ideas for your garden")
    youth = [ind for ind in garden if ind["id"] == "youth_coded"]
    assert youth and "weight lowered" in youth[0]["context"] and youth[0]["evidence"]
    assert youth[0]["weight"] < 0.6 / 2
    assert _weights("", "Fresh and young, discreet incall for generous gentlemen")["youth_coded"] == 0.6


def test_words_inside_other_words_do_not_match() -> None:
    assert "coded_payment" not in ids("", "Primroses and rosewood, discreet incall")
    assert "youth_coded" not in ids("", "Youngstown is lovely, discreet incall")


def test_regex_patterns_run_around_their_anchors() -> None:
    found = {
        ind["id"] for ind in match_indicators("", "She is ready, 16 yo, discreet incall, hh 100")
    }
    assert {"minor_age_commercial", "third_person_ad", "short_session_rates"} <= found


def test_one_result_per_indicator_with_bounded_evidence() -> None:
    body = "roses " * 50 + "discreet incall"
    found = [ind for ind in match_indicators("", body) if ind["id"] == "coded_payment"]
    assert len(found) == 1
    assert 1 <= len(found[0]["evidence"]) <= 5


@pytest.mark.parametrize(
    "text",
    [
        "indicators: [{id: a, category: youth, weight: 1.5, patterns: [x], source: s}]",
        "indicators: [{id: a, category: youth, weight: 0.5, patterns: [x]}]",
        "indicators: [{id: a, category: youth, weight: 0.5, patterns: [{regex: '(x'}], source: s}]",
        "indicators: [{id: a, category: youth, weight: 0.5, patterns: [x], source: s,"
        " requires: nope}]",
    ],
)
def test_malformed_lexicons_are_refused_with_a_clear_error(text: str) -> None:
    with pytest.raises(ValueError, match="lexicon entry"):
        load_lexicon(text)


def test_a_custom_lexicon_can_be_injected() -> None:
    lexicon = load_lexicon(
        "indicators: [{id: test_phrase, category: payment, weight: 0.4,"
        " patterns: ['cash app'], source: s}]"
    )
    found = match_indicators("", "Cash App only", lexicon=lexicon, layers=("lexicon",))
    assert [(ind["id"], ind["evidence"][0]["text"]) for ind in found] == [
        ("test_phrase", "Cash App")
    ]
