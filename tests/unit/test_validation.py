"""Bad input is rejected with a stable code and a reason that says what and where."""

import json

import pytest

from detectors.validation import Invalid, parse_raw_ad


def good_ad(**overrides) -> dict:
    ad = {
        "ad_id": "a1",
        "source": "test",
        "posted_at": "2026-11-01T10:00:00Z",
        "title": "Sofa for sale",
        "body": "Blue sofa, good condition.",
        "location": {"city": "Denver", "region": "CO", "country": "US"},
    }
    ad.update(overrides)
    return ad


def test_valid_ad_is_returned_as_dict():
    parsed = parse_raw_ad(json.dumps(good_ad()).encode())
    assert isinstance(parsed, dict)
    assert parsed["ad_id"] == "a1"


@pytest.mark.parametrize(
    ("raw", "code", "needle"),
    [
        (b"not json at all", "not_json", "not JSON"),
        (b"[1, 2, 3]", "not_object", "list"),
        (b"\xff\xfe{}", "invalid_utf8", "byte 0"),
        (json.dumps({k: v for k, v in good_ad().items() if k != "ad_id"}).encode(),
         "missing_field", "'ad_id' is a required property"),
        (json.dumps(good_ad(title=42)).encode(), "wrong_type", "title"),
        (json.dumps(good_ad(schema_version=7)).encode(), "unknown_schema_version", "7"),
        (json.dumps(good_ad(images=[{"path": "/etc/passwd"}])).encode(), "unknown_field", "images/0"),
    ],
)
def test_bad_records_get_a_code_and_a_reason(raw, code, needle):
    result = parse_raw_ad(raw)
    assert isinstance(result, Invalid)
    assert result.code == code
    assert needle in result.reason


def test_ten_megabyte_body_is_too_large_with_the_size_in_the_reason():
    raw = json.dumps(good_ad(body="x" * 10_000_000)).encode()
    result = parse_raw_ad(raw)
    assert isinstance(result, Invalid)
    assert result.code == "too_large"
    assert str(len(raw)) in result.reason


def test_body_over_100k_chars_but_under_byte_cap_is_rejected_by_schema():
    result = parse_raw_ad(json.dumps(good_ad(body="y" * 100_001)).encode())
    assert isinstance(result, Invalid)
    assert result.code == "too_large"


def test_invalid_record_keeps_ad_id_when_readable():
    result = parse_raw_ad(json.dumps(good_ad(title=None)).encode())
    assert isinstance(result, Invalid)
    assert result.ad_id == "a1"


def test_a_line_nested_thousands_deep_is_too_deep_with_the_depth_not_a_recursion_error():
    result = parse_raw_ad(b"[" * 5000 + b"]" * 5000)
    assert isinstance(result, Invalid)
    assert result.code == "too_deep"
    assert "5000 levels" in result.reason


def test_nesting_inside_strings_does_not_count_and_the_depth_limit_holds_in_ground_truth():
    assert isinstance(parse_raw_ad(json.dumps(good_ad(body="[[[[{{{{" * 1000)).encode()), dict)
    nested: object = 1
    for _ in range(40):
        nested = [nested]
    result = parse_raw_ad(json.dumps(good_ad(ground_truth={"kind": "x", "extra": nested})).encode())
    assert isinstance(result, Invalid) and result.code == "too_deep" and result.ad_id == "a1"


@pytest.mark.parametrize("posted_at", ["yesterday", "2026-13-01T10:00:00Z", "2026-02-30T10:00:00Z",
                                       "2026-11-01", "10:00", ""])
def test_a_posted_at_that_is_not_a_date_time_is_rejected_naming_the_field(posted_at):
    result = parse_raw_ad(json.dumps(good_ad(posted_at=posted_at)).encode())
    assert isinstance(result, Invalid)
    assert result.code == "bad_date"
    assert "'posted_at'" in result.reason and repr(posted_at) in result.reason


@pytest.mark.parametrize("posted_at", ["2026-11-01T10:00:00Z", "2026-11-01T10:00:00.5+05:30",
                                       "2026-11-01 10:00:00", "2026-11-01t10:00z"])
def test_rfc3339_date_times_and_naive_ones_pass(posted_at):
    assert isinstance(parse_raw_ad(json.dumps(good_ad(posted_at=posted_at)).encode()), dict)


@pytest.mark.parametrize(("where", "ad"), [
    ("'body'", good_ad(body="hello \ud800")),
    ("'location/city'", good_ad(location={"city": "\udfffReno"})),
    ("'ad_id'", good_ad(ad_id="x\udc00")),
    ("a key at the top level", {**good_ad(), "\ud800": 1}),
])
def test_a_lone_surrogate_anywhere_is_rejected_naming_the_field(where, ad):
    result = parse_raw_ad(json.dumps(ad).encode())  # \\udXXX escapes: valid JSON, not valid text
    assert isinstance(result, Invalid)
    assert result.code == "invalid_unicode"
    assert where in result.reason and "surrogate" in result.reason
    result.reason.encode("utf-8")  # the reason itself is writable
    assert result.ad_id is None or result.ad_id == "a1"


@pytest.mark.parametrize("raw", [b'{"ad_id": "a1", "schema_version": NaN}', b'{"x": Infinity}',
                                 b'{"ad_id": "a1", "schema_version": ' + b"9" * 5000 + b"}"])
def test_nan_infinity_and_numbers_python_cannot_convert_are_not_json(raw):
    result = parse_raw_ad(raw)
    assert isinstance(result, Invalid) and result.code == "not_json"


def test_an_unhashable_schema_version_is_refused_not_a_type_error():
    result = parse_raw_ad(json.dumps(good_ad(schema_version=[1])).encode())
    assert isinstance(result, Invalid) and result.code == "unknown_schema_version"
