"""Phones: every obfuscation style the extractor handles, and numbers it must not invent.

All numbers are fictional (NXX-555-01xx) or random digits checked only against the library.
"""

from __future__ import annotations

import random

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.text.entities import extract_entities
from detectors.text.phones import extract_phones, is_fiction_nsn, is_valid_nsn
from detectors.text.placeholders import template_text

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
        number = phonenumbers.parse(e164)
        assert phonenumbers.is_valid_number(number) or is_fiction_nsn(
            number.country_code, phonenumbers.national_significant_number(number)
        )


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



# --- styles issue 12 found missed (each is a named style of the labelled set too) -------------


@pytest.mark.parametrize(
    "written",
    [
        # a price right after the number
        "702-555-0123 $150",
        "702 555 0123 $150/hr",
        "(702) 555-0123 $200 hh",
        # groupings other than 3-3-4
        "702 5550-123",
        "7025-5501-23",
        "7025 550 123",
        "1 702 5550 123",
        # spelled digits split by symbols
        "seven/0/two-five five five-0one2three",
        "SEVEN-0-TWO . FIVE-5-FIVE . ZERO-1-TWO-THREE",
        "seven.oh.two - five.five.five - zero.one.two.three",
        "7-oh-2 / five5five / 0-1-2-3",
        "seven+0+two + five+five+five + 0+1+two+three",
        # homophones next to clear digits
        "seven oh to five five five oh won to tree",
        "7 oh too, 555, o won to 3",
        "seven oh two five five five oh won to tree",
        "seven oh two fife fife fife oh won two tree",  # radio digits
        "7 0 2 - 5 5 5 - 0 1 2 3",
        # compound number words
        "sevenohtwofivefivefivezeroonetwothree",
        "sevenoh2 fivefive5 0onetwothree",
        # symbols and doubled brackets as separators
        "702$555$0123",
        "702$$555$$0123",
        "702@555@0123",
        "702!!555!!0123",
        "702#555#0123",
        "702 & 555 & 0123",
        "702 ; 555 ; 0123",
        "((702))555;0123",
        "{{702}} 555@0123",
        # single digits mixed with two-digit groups
        "7 02 55 501 23",
        "70 2 5 55 01 23",
    ],
)
def test_styles_issue_12_found_missed_read_as_the_number(written: str) -> None:
    text = f"Sweet and fun, call {written} tonight"
    found = extract_phones(text, "US")
    assert [e164 for e164, _, _ in found] == [E164]
    _, start, end = found[0]
    assert text[start:end] and text[start:end] in written


def test_other_drama_ranges_read_in_a_gb_ad() -> None:
    assert [e for e, _, _ in extract_phones("ring 0115 496 0123 or 01632 960123", "GB")] == [
        "+441154960123", "+441632960123"
    ]


def test_a_digit_glued_to_thousand_ends_the_number() -> None:
    assert [e for e, _, _ in extract_phones("call 702 555 2th0usand", "US")] == ["+17025552000"]
    assert [e for e, _, _ in extract_phones("702 555 twothousand", "US")] == ["+17025552000"]


@pytest.mark.parametrize(
    "text",
    [
        # prices and sizes written like the new styles
        "Rates 100$ 150$ 200$ 300$ 450$",
        "Everything $150$200$250 today only",
        "Sizes 6 to 8, 10 to 12, 14 to 16 in stock",
        "Kids 5 to 10, ages 6 to 9, 7 to 12, teens welcome",
        "2 for 1 specials: 150 for 60, 200 for 90, 250 for 120",
        "I won 2 tickets for 4 shows and ate at 8",
        "Open 9 to 5; Sat 10 to 2; Sun 12 to 4",
        "Dates 3/4/2025 and 5.6.2025 at 10:30!",
        "Lottery 7 14 21 28 35 42 again",
        "Scores 21;14 35;20 7;3",
        "Measurements 34-24-36 @ 125 lbs ! 5'6",
        "Serial no. 4471-0082-3391; part 2065-5501-30",
        "Apartment 1204, 555 Main St, Reno NV 89501 $1,250/mo",
        "Dimensions 120 x 45 x 30 cm; 2 thousand pieces",
        "Order 7025-5501-23 shipped",
        "Lottery 31 26 33 23 8 4 19 again",  # ten digits from its start, but the draw goes on
        "Lottery 37 5 20 7 25 29 39 again",  # ten digits from its second number
        "Scores 9;20 36;14 27;6 this season",  # ";" between one- and two-digit numbers
    ],
)
def test_look_alikes_of_the_new_styles_are_not_phones(text: str) -> None:
    assert extract_phones(text, "US") == []


# --- the ad's own country as the default region --------------------------------------------


def test_national_numbers_of_the_ads_country_are_read_in_that_country() -> None:
    uk_body = "New in Camden, text 07700 900123 after 6"
    assert [p["value"] for p in extract_entities("", uk_body, country="GB")["phones"]] == [
        "+447700900123"
    ]
    assert extract_entities("", uk_body, country=None)["phones"] == []  # US by default
    mx_body = "Nueva en Monterrey, llama al 81 1234 5678 o al 81-2345-6789"
    assert [p["value"] for p in extract_entities("", mx_body, country="mx")["phones"]] == [
        "+528112345678",
        "+528123456789",
    ]
    assert extract_entities("", mx_body, country="US")["phones"] == []
    assert [p["value"] for p in extract_entities("", "702-555-0123", country=None)["phones"]] == [
        E164
    ]


def test_fiction_ranges_are_read_only_where_they_are_reserved() -> None:
    assert is_fiction_nsn(44, "7700900123") and is_fiction_nsn(44, "1632960123")
    assert not is_fiction_nsn(44, "7700901123") and not is_fiction_nsn(1, "7700900123")


def test_the_template_text_reads_phones_in_the_ads_country() -> None:
    body = "Nueva en Monterrey, llama al 81 1234 5678, besos"
    assert "<phone>" in template_text("Hola", body, "MX")
    assert "<phone>" not in template_text("Hola", body)
    assert template_text("Hola", body, "MX") == template_text("Hola", body.replace("1234", "9876"), "MX")


def test_the_pipeline_reads_a_gb_ads_phones_in_gb_and_links_them() -> None:
    from streams.scoring.runtime import batch_pipeline

    pipeline = batch_pipeline()
    ads = [
        {"ad_id": f"gb-{k}", "source": "test", "posted_at": "2026-11-20T10:00:00Z",
         "title": "Manchester", "body": f"Visiting this week, ring 07700 900{k}55 or text",
         "location": {"city": "Manchester", "region": None, "country": "GB"}}
        for k in (1, 1, 2)
    ]
    ads[1]["ad_id"] = "gb-1b"
    scored = [pipeline.process(ad) for ad in ads]
    assert [s["entities"]["phones"] for s in scored] == [
        ["+447700900155"], ["+447700900155"], ["+447700900255"]
    ]
    assert scored[1]["cluster"]["cluster_id"] == scored[0]["cluster"]["cluster_id"]


def test_to_and_for_beside_prose_stay_words() -> None:
    text = "Text 41 6 5 55 0 19 4 for downtown bookings"
    assert [e for e, _, _ in extract_phones(text, "CA")] == ["+14165550194"]
    text = "seven oh to five five five oh won one for Ask about specials"  # a new sentence
    assert [e for e, _, _ in extract_phones(text, "US")] == ["+17025550114"]


def test_a_state_before_a_number_is_a_zip_only_in_a_north_american_ad() -> None:
    assert [e for e, _, _ in extract_phones("Llámame al 07700-900743 hoy", "GB")] == [
        "+447700900743"
    ]
    assert extract_phones("Mobile AL 36602 1234", "US") == []


def test_a_phone_separated_by_at_signs_is_no_handle() -> None:
    entities = extract_entities("", "For appointments 949@@555@@0131 (text first)")
    assert [p["value"] for p in entities["phones"]] == ["+19495550131"]
    assert entities["handles"] == []


@pytest.mark.parametrize(("text", "region"), [
    ("Package: basic salary AED 2,800-3,400, staff accommodation", "AE"),
    ("Salary QAR 1,800-2,400 + accommodation, transport", "QA"),
    ("Pay SAR 1,500 a month, food provided", "SA"),
])
def test_an_amount_after_a_currency_code_is_not_a_national_number(text: str, region: str) -> None:
    assert extract_phones(text, region) == []
    # the same ad's number still reads
    found = extract_phones(f"{text}. WhatsApp +974 5555 0123", region)
    assert found == [("+97455550123", len(text) + 11, len(text) + 25)]


@pytest.mark.parametrize(("text", "region"), [
    ("Licensed by the National Employment Authority, Reg. No. NEA/PEA/2025/0417.", "KE"),
    ("Permit ref DOLE/POEA/2024/1123 on file", "PH"),
])
def test_digits_inside_a_slash_joined_reference_code_are_not_a_phone(text: str, region: str) -> None:
    assert extract_phones(text, region) == []
    # numbers written with slashes, and after a contact word, still read
    assert [p for p, _, _ in extract_phones("call/text/702/555/0123", "US")] == ["+17025550123"]
    assert [p for p, _, _ in extract_phones("seven/0/two-555-0123", "US")] == ["+17025550123"]
