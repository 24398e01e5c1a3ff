"""Policy floor `minor_age_stated`: a stated age under 18 next to a commercial-sex cue is critical,
whatever the model says; the same ages in babysitting, tutoring, team and job ads are not flagged.

Plain test strings: a stated age and a commercial cue word, nothing more (that pairing is what
the detector must catch)."""

from __future__ import annotations

import pytest

from detectors.scoring.scorer import score_ad
from detectors.text.entities import extract_entities
from detectors.text.indicators import match_indicators

MINOR_WITH_COMMERCIAL_CUE = [
    "incall, text me. I am 16 years old.",
    "16yo, donations only",
    "im 16, text me for fun",
    "age: 16. rates by text",
    "sixteen and new, generous men only",
    "tengo 16 años, $80 la hora",
    "16 añitos, incall en la zona",
    "l6 and sweet, outcall only, roses first",
    "Girl aged 1 6, hh and qv specials",
    "jus turned 17, new friends only, $ for the hour",
    "💗 15 💗 🌹🌹 per hr",
    "she 16 and real cool, hit me to set a time & price",
    "only 16 pls, generous guys only",
    "17, free anytime, $$ for an hour of my time",
    "hi im 15. lookin for generous guys to hang w, $100 for the hr",
    "HS junior, donations only",
    "seventeen year old, incall, text only",
    "16 y/o, car dates, cash",
]

MINOR_IN_BENIGN_AD = [
    "Responsible 16 y/o babysitter, Red Cross certified. $15/hr, my mom can text you first.",
    "16yo math tutor, I tutor fractions at the library, $15/hr, parents welcome.",
    "U16 girls soccer tryouts, ages 14-16, bring cleats, free to attend.",
    "Teen job fair, ages 16-19, bring a parent-signed work permit.",
    "hey im 17 and saving for a truck. i mow lawns, $30 for most yards.",
    "Tengo 17 años y doy clases particulares de matemáticas, 12 € la hora.",
    "dog walker l6 yrs old, $12 a walk, parents can call my mom.",
    "Lifeguard certification class, must be 1 5 or older, parent signature required.",
    "Summer jobs for 16-year-olds at the amusement park, paid every Friday.",
    "Youth choir auditions, ages 12-15, parents welcome to stay.",
    "Driver's ed for 15 y/o permit holders, 30-hour class.",
    "Custom birthday cakes for your sixteen year old, order two weeks ahead.",
]


def _score(text: str):
    indicators = match_indicators("", text)
    return score_ad(indicators=indicators, model_probability=None, link=None, bank_matches=[]), indicators


@pytest.mark.parametrize("text", MINOR_WITH_COMMERCIAL_CUE)
def test_a_minor_age_next_to_a_commercial_cue_is_critical(text):
    ages = [a["value"] for a in extract_entities("", text)["ages"]]
    score, indicators = _score(text)
    assert score.severity == "critical", (text, ages, [i["id"] for i in indicators])
    floor = [r for r in score.reasons if r.code == "floor:minor_age_stated"]
    assert floor and floor[0].family == "policy" and floor[0].evidence


@pytest.mark.parametrize("text", MINOR_WITH_COMMERCIAL_CUE)
def test_no_model_can_veto_the_floor(text):
    indicators = match_indicators("", text)
    score = score_ad(indicators=indicators, model_probability=0.000001, link=None, bank_matches=[])
    assert score.severity == "critical"


@pytest.mark.parametrize("text", MINOR_IN_BENIGN_AD)
def test_the_same_ages_in_benign_ads_are_not_flagged(text):
    score, indicators = _score(text)
    assert score.severity == "none", (text, score.severity, [(i["id"], i["weight"]) for i in indicators])
    assert not any(r.code.startswith("floor:") for r in score.reasons)


def test_the_written_forms_are_read_as_minor_ages():
    forms = {"16yo": 16, "im 16": 16, "age: 16": 16, "sixteen ": 16, "tengo 16 años": 16,
             "16 añitos": 16, "l6 yrs old": 16, "aged 1 6": 16, "jus turned 17": 17, "she 16 and": 16,
             "💗 15 💗": 15, "hiring 1five and up": 15, "ages 13-17": 13}
    for text, age in forms.items():
        assert age in [a["value"] for a in extract_entities("", text)["ages"]], text


def test_years_of_experience_are_not_an_age():
    assert extract_entities("", "Señora con 15 años de experiencia")["ages"] == []
