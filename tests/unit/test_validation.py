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
