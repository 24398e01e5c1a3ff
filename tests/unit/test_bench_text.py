"""`vigil bench text` on the independent phone sets: counts against phonenumbers, per style for
the dev half, aggregates only for the locked half."""

from __future__ import annotations

from streams.bench.text import evaluate_phone_set, phone_set_report

RECORDS = [
    {"id": "a", "group": "positive", "style": "symbol_separators", "country": "US", "title": "Hi",
     "body": "Text 305!!555!!0125 tonight", "expected": {"phones": ["+13055550125"]}},
    {"id": "b", "group": "positive", "style": "price_after", "country": "US", "title": "Hi",
     "body": "call 702-555-0123 $150", "expected": {"phones": ["+17025550123"]}},
    {"id": "c", "group": "positive", "style": "national_non_us", "country": "GB", "title": "Soho",
     "body": "ring 07700 900123", "expected": {"phones": ["+447700900123"]}},
    {"id": "d", "group": "negative", "style": "measurements", "country": "US", "title": "Me",
     "body": "34C-26-38, 130 lbs, size 6", "expected": {"phones": []}},
    {"id": "e", "group": "positive", "style": "wrong_label", "country": "US", "title": "Hi",
     "body": "call 702-555-0199", "expected": {"phones": ["+17025550198"]}},
]


def test_a_phone_set_is_scored_against_its_labels_and_the_library() -> None:
    result = evaluate_phone_set(RECORDS)
    assert (result.rows, result.negatives) == (5, 1)
    assert (result.vigil.tp, result.vigil.fp, result.vigil.fn) == (3, 1, 1)
    # the plain matcher reads the plain dash (found, and wrongly labelled here) and misses the
    # "!!" separators and the UK drama-range number, which its metadata calls invalid
    assert (result.baseline.tp, result.baseline.fp, result.baseline.fn) == (1, 1, 3)
    assert result.styles["symbol_separators"] == [1, 1, 0]
    assert result.styles["price_after"] == [1, 1, 1]


def test_the_locked_half_is_reported_as_aggregates_only() -> None:
    result = evaluate_phone_set(RECORDS)
    locked = "\n".join(phone_set_report("locked", result, per_style=False))
    dev = "\n".join(phone_set_report("dev", result, per_style=True))
    assert "symbol_separators" in dev and "symbol_separators" not in locked
    for record in RECORDS:  # no snippet, number or id of a locked row is printed
        for phone in record["expected"]["phones"]:
            assert phone not in locked and phone not in dev
        assert record["body"] not in locked
    assert "precision" in locked and "0.750" in locked
