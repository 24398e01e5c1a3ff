"""Phones: every obfuscation style the extractor handles, and numbers it must not invent.

All numbers are fictional (NXX-555-01xx) or random digits checked only against the library.
"""

from __future__ import annotations

import random

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.text.phones import extract_phones, is_valid_nsn

E164 = "+17025550123"


@pytest.mark.parametrize(
    "written",
    [
        "702-555-0123",
        "(702) 555-0123",
        "702.555.0123",
        "702 555 0123",
        "+1 702 555 0123",
        "1-702-555-0123",
        "17025550123",
        "seven zero two five five five zero one two three",
        "seven oh two, five five five, oh one two three",
        "siete cero dos cinco cinco cinco cero uno dos tres",
        "sevenohtwo fivefivefive zeroonetwothree",
        "702 five five five 0123",
        "seven oh two fifty-five five oh one twenty three",
        "seven oh two double five five zero one two three",
        "\u2466\u24ea\u2461 \u2464\u2464\u2464 \u24ea\u2460\u2461\u2462",
        "\u2790\u24ff\u278b\u278e\u278e\u278e\u24ff\u278a\u278b\u278c",
        "\uff17\uff10\uff12-\uff15\uff15\uff15-\uff10\uff11\uff12\uff13",
        "7\ufe0f\u20e30\ufe0f\u20e32\ufe0f\u20e3 5\ufe0f\u20e35\ufe0f\u20e35\ufe0f\u20e3 "
        "0\ufe0f\u20e31\ufe0f\u20e32\ufe0f\u20e33\ufe0f\u20e3",
        "7O2-555-Ol23",
        "7o2 555 OI23",
        "702_555_0123",
        "702*555*0123",
        "702/555/0123",
        "7/0/2/5/5/5/0/1/2/3",
        "7\U0001f48b0\U0001f48b2\U0001f48b5\U0001f48b5\U0001f48b5\U0001f48b0\U0001f48b1\U0001f48b2\U0001f48b3",
        "7\u200b0\u200c2-5\u200d55-0\u20601\ufeff23",
        "&#55;&#48;&#50;-555-&#48;123",
        "<b>702</b>-<span>555</span>-<i>0123</i>",
        "7 0 2 5 5 5 0 1 2 3",
        "7 0 2 - 5 5 5 - 0 1 2 3",
        "\U0001d7d5\U0001d7ce\U0001d7d0-\U0001d7d3\U0001d7d3\U0001d7d3-\U0001d7ce\U0001d7cf\U0001d7d0\U0001d7d1",
    ],
)
def test_every_style_reads_as_the_same_number(written: str) -> None:
    text = f"Sweet and fun, call {written} tonight"
    found = extract_phones(text, "US")
    assert [e164 for e164, _, _ in found] == [E164]
    _, start, end = found[0]
    assert text[start:end] and text[start:end] in written


@pytest.mark.parametrize(
    "text",
    [
        "Open house 12/25/2024 at 10:30am, 2024-03-15 and 15.03.2024",
        "Asking $1,250 or best offer; 450 roses; 300 USD; 150/hr; \u20ac200",
        "Measurements 34-24-36, 5'6\", 125 lbs, 170 cm, 12x18 in, 1200 sq ft",
        "Las Vegas, NV 89109-1234 and Reno NV 89501",
        "VIN 1HGCM82633A004352, 2015 Honda, 120,000 miles",
        "ISBN 978-0-306-40615-7 and ISBN 0-306-40615-2",
        "Order #7025550123 shipped; invoice 702-555-0124; tracking 1Z9999999999999999",
        "Meeting 9:45 - 11:30, room 204, 2 3 4 5 6 floors",
        "Year 2024 2025 2026, scores 21-14 17-10",
        "Population 1,234,567 in 2020, area 702 square miles",
    ],
)
def test_other_numbers_are_not_phones(text: str) -> None:
    assert extract_phones(text, "US") == []


def test_several_phones_in_order_with_their_spans() -> None:
    text = "Call 702-555-0123 or (212) 555-0199, again 702.555.0123"
    found = extract_phones(text, "US")
    assert [e for e, _, _ in found] == ["+17025550123", "+12125550199", "+17025550123"]
    assert [text[s:e] for _, s, e in found] == ["702-555-0123", "(212) 555-0199", "702.555.0123"]


def test_a_year_next_to_a_phone_is_not_read_into_it() -> None:
    assert [e for e, _, _ in extract_phones("Available March 7, 2024. 213 555 0124", "US")] == [
        "+12135550124"
    ]


def test_default_region_reads_national_numbers() -> None:
    uk = phonenumbers.format_number(
        phonenumbers.parse("07400 123456", "GB"), phonenumbers.PhoneNumberFormat.E164
    )
    assert [e for e, _, _ in extract_phones("llama 07400 123456", "GB")] == [uk]
    assert [e for e, _, _ in extract_phones("call +44 7400 123456", "US")] == [uk]
    assert extract_phones("call 07400 123456", "US") == []


def test_unknown_region_falls_back_to_us() -> None:
    assert [e for e, _, _ in extract_phones("702-555-0123", "ZZ")] == [E164]


def test_fast_validity_agrees_with_phonenumbers_on_random_numbers() -> None:
    rng = random.Random(7)
    for _ in range(3000):
        nsn = str(rng.randrange(2_000_000_000, 10_000_000_000))
        expected = phonenumbers.is_valid_number(phonenumbers.parse("+1" + nsn))
        assert is_valid_nsn(1, nsn) == expected, nsn
    for cc in (44, 52, 34, 49):
        for _ in range(500):
            digits = str(rng.randrange(10**8, 10**11))
            number = phonenumbers.parse(f"+{cc}{digits}")
            nsn = phonenumbers.national_significant_number(number)
            assert is_valid_nsn(cc, nsn) == phonenumbers.is_valid_number(number), (cc, nsn)


@settings(max_examples=60, deadline=2000)
@given(st.text(alphabet="0123456789 -./()_*+oOlI$:#", max_size=200))
def test_found_phones_are_valid_and_inside_the_text(text: str) -> None:
    for e164, start, end in extract_phones(text, "US"):
        assert 0 <= start < end <= len(text)
        assert phonenumbers.is_valid_number(phonenumbers.parse(e164))


@pytest.mark.parametrize(
    "written",
    [
        "702 dot 555 dot 0123",
        "702 punto 555 punto 0123",
        "702 dash 555 dash 0123",
        "702 gui\u00f3n 555 gui\u00f3n 0123",
        "702 DOT 555 DOT 0123",
        "702(dot)555(dot)0123",
        "702 [dot] 555 [dot] 0123",
        "seven oh two dot five five five dot oh one two three",
        "siete cero dos punto cinco cinco cinco punto cero uno dos tres",
    ],
)
def test_a_separator_written_as_a_word_joins_digit_groups(written: str) -> None:
    text = f"Sweet and fun, call {written} tonight"
    found = extract_phones(text, "US")
    assert [e164 for e164, _, _ in found] == [E164]
    _, start, end = found[0]
    assert text[start:end] == written


@pytest.mark.parametrize(
    "text",
    [
        "I scored 12 dot 5 and the 2024 dash 2025 season was long",
        "version 2 dot 0 dot 1 released",
        "lot 702 dot 555 only",
        "702 dotty 555 dotty 0123",  # not the separator word
        "702dot555dot0123",  # a bare word glued to digits is not a separator
        "from 2019 dash 2024 and then 555 dash 0123",
        "open 9 dash 5, gate 702 dot 555 dot 01",
        "702 dot dot 555 dot 0123",  # two words in a row are prose, not one separator
    ],
)
def test_separator_words_do_not_invent_numbers_from_prose(text: str) -> None:
    assert extract_phones(text, "US") == []

