"""Ingest: keys come from ad_id; the HTTP body parser accepts objects, arrays and JSON lines."""

import json

from streams.ingest.http import parse_http_body
from streams.ingest.producer import key_of
from streams.jsonlines import read_lines

AD = {"ad_id": "h1", "source": "t", "posted_at": "2026-11-01T00:00:00Z", "title": "t", "body": "b",
      "location": {"city": "Reno", "region": "NV", "country": "US"}}


def test_key_is_ad_id_or_none():
    assert key_of(json.dumps(AD).encode()) == b"h1"
    assert key_of(b"not json") is None
    assert key_of(b'{"ad_id": 5}') is None


def test_read_lines_drops_blank_lines_and_line_endings():
    assert list(read_lines([b"a\r\n", b"\n", b"  \n", b"b"])) == [b"a", b"b"]


def test_http_body_object_array_and_json_lines():
    for body, ctype in [
        (json.dumps(AD).encode(), "application/json"),
        (json.dumps([AD, {**AD, "ad_id": "h2"}]).encode(), "application/json"),
        ((json.dumps(AD) + "\n" + json.dumps({**AD, "ad_id": "h2"})).encode(), "application/x-ndjson"),
    ]:
        accepted, rejected = parse_http_body(body, ctype)
        assert rejected == []
        assert [a["ad_id"] for a in accepted][:1] == ["h1"]


def test_http_body_rejections_say_which_record_and_why():
    bad = {**AD, "ad_id": "h3", "title": 7}
    accepted, rejected = parse_http_body(json.dumps([AD, bad]).encode(), "application/json")
    assert [a["ad_id"] for a in accepted] == ["h1"]
    assert rejected == [{"index": 1, "ad_id": "h3", "error": "wrong_type",
                         "reason": rejected[0]["reason"]}]
    assert "title" in rejected[0]["reason"]
    _, rejected = parse_http_body(b"{nope", "application/json")
    assert rejected[0]["error"] == "not_json"
