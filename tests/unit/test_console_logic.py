"""The console's pure parts: evidence highlighting, the case file, the cities-over-time chart."""

from __future__ import annotations

import csv
import io
import re

from hypothesis import given
from hypothesis import strategies as st

from streams.console.casefile import case_csv, case_json, safe_cell
from streams.console.charts import city_timeline_svg
from streams.console.highlight import Span, evidence_spans, highlight, highlighted_fields

BODY = "Many girls available. Call 702 555 0123 <b>now</b>"


def record_with(body: str) -> dict:
    return {
        "entity_evidence": {"phones": [{"value": "+17025550123", "evidence": [
            {"field": "body", "start": 27, "end": 39, "text": body[27:39]}]}]},
        "indicators": [
            {"id": "multiple_workers", "category": "multiple_workers", "weight": 0.5, "evidence": [
                {"field": "body", "start": 0, "end": 10, "text": "Many girls"},
                {"field": "body", "start": 5, "end": 20, "text": "girls available"}]},
            {"id": "bogus", "category": "x", "weight": 0.1, "evidence": [
                {"field": "body", "start": 40, "end": 400, "text": "beyond the end"},
                {"field": "title", "start": 0, "end": 4, "text": "Many"}]},
        ],
    }


def marked_texts(html: str) -> list[str]:
    return re.findall(r"<mark[^>]*>(.*?)</mark>", html)


def test_overlapping_spans_are_cut_and_every_piece_lists_its_spans():
    spans, dropped = evidence_spans(record_with(BODY), "body", BODY)
    assert dropped == 1  # the span past the end of the text
    html = str(highlight(BODY, spans))
    pieces = re.findall(r'<mark[^>]*data-labels="([^"]*)"[^>]*>(.*?)</mark>', html)
    assert pieces[:3] == [("multiple_workers", "Many "), ("multiple_workers; multiple_workers", "girls"),
                          ("multiple_workers", " available")]
    assert ("phone +17025550123", "702 555 0123") in pieces
    # a label after each span's last piece
    assert html.count('class="ev-label') == 3
    # the text outside spans is all there, escaped
    assert "&lt;b&gt;now&lt;/b&gt;" in html and "<b>" not in html


def test_evidence_whose_text_does_not_match_its_offsets_is_dropped_not_shown():
    record = {"indicators": [{"id": "x", "category": "c", "evidence": [
        {"field": "body", "start": 0, "end": 4, "text": "Nope"}]}]}
    spans, dropped = evidence_spans(record, "body", BODY)
    assert spans == [] and dropped == 1


def test_highlight_escapes_labels_and_text():
    html = str(highlight('<script>"x"</script>', [Span(0, 8, 'label"><img src=x>', "entity-emails")]))
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;" in html


@given(st.text(min_size=1, max_size=60), st.lists(st.tuples(st.integers(0, 60), st.integers(1, 20)), max_size=6))
def test_highlighting_never_loses_or_reorders_text(text, raw_spans):
    spans = [Span(s, min(s + n, len(text)), f"l{i}", "k") for i, (s, n) in enumerate(raw_spans) if s < len(text)]
    html = str(highlight(text, [s for s in spans if s.start < s.end]))
    without_labels = re.sub(r'<span class="ev-label[^"]*">.*?</span>', "", html)
    plain = re.sub(r"<[^>]+>", "", without_labels)
    assert plain == str(highlight(text, []))  # the same escaped text, only wrapped


def test_highlighted_fields_cover_title_and_body():
    fields = highlighted_fields(record_with(BODY), "Many", BODY)
    assert [s.label for s in fields["title"]["spans"]] == ["bogus"]
    assert len(fields["body"]["spans"]) == 3


AD = {"ad_id": "a1", "posted_ts": 1_790_000_000.0, "city": "Reno", "region": "NV", "severity": "high", "risk": 0.9,
      "cluster_id": "phone:+17025550123", "template_id": "t1", "url": "https://x.example/a1",
      "title": "=HYPERLINK(\"http://evil\")", "body": "body text",
      "record": {"entities": {"phones": ["+17025550123"], "emails": ["a@b.example"], "handles": []},
                 "indicators": [{"id": "i", "category": "c", "evidence": []}],
                 "reasons": [{"code": "r", "contribution": 1.0, "detail": "d"}]}}


def test_case_file_json_holds_every_ad_with_text_and_identifiers():
    case = case_json("phone:+17025550123", None, [AD, {**AD, "ad_id": "a0", "posted_ts": 1_789_000_000.0}],
                     exported_by="ana", exported_at=1_790_000_100.0)
    assert [a["ad_id"] for a in case["ads"]] == ["a0", "a1"]  # oldest first
    assert case["phones"] == ["+17025550123"] and case["emails"] == ["a@b.example"]
    assert case["exported_by"] == "ana" and case["size"] == 2 and case["cities"] == ["Reno"]
    assert case["ads"][0]["body"] == "body text" and case["ads"][0]["reasons"][0]["code"] == "r"


def test_case_file_json_shows_each_shared_template_with_its_slots():
    ads = [{**AD, "ad_id": f"a{i}", "posted_ts": 1_790_000_000.0 + i, "body": f"Ask for {name} at the front desk"}
           for i, name in enumerate(["Ana", "Bea", "Cat"])]
    ads.append({**AD, "ad_id": "solo", "template_id": "t2", "body": "something else"})
    case = case_json("c", None, ads, exported_by="ana", exported_at=0)
    (form,) = case["template_forms"]  # t2 has one ad: no form
    assert form["template_id"] == "t1" and form["ads"] == 3
    assert form["text"] == "Ask for [Cat | Bea | Ana] at the front desk"  # newest first
    assert form["slots"] == [{"values": ["Cat", "Bea", "Ana"], "distinct": 3}]


def test_case_file_csv_defuses_spreadsheet_formulas():
    case = case_json("c", None, [AD], exported_by="ana", exported_at=0)
    rows = list(csv.DictReader(io.StringIO(case_csv(case))))
    assert rows[0]["ad_id"] == "a1"
    assert rows[0]["title"].startswith("'=")
    assert rows[0]["phones"] == "'+17025550123"
    assert safe_cell("plain") == "plain" and safe_cell(None) == "" and safe_cell("@x") == "'@x"


def test_timeline_draws_one_dot_per_ad_and_one_row_per_city():
    timeline = [{"ad_id": a, "city": c, "posted_ts": t} for a, c, t in (
        ("a", "Reno", 100.0), ("b", "Las Vegas", 200.0), ("c", "Reno", 300.0), ("d", "<Fresno>", 400.0))]
    svg = str(city_timeline_svg(timeline))
    assert svg.count("<circle") == 4
    assert svg.count('class="city"') == 3
    assert "&lt;Fresno&gt;" in svg and "<Fresno>" not in svg
    assert "No posting times" in str(city_timeline_svg([]))
