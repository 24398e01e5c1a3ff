"""How records become store rows, and that the migrations build exactly the tables the code reads."""

from __future__ import annotations

import json

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from hypothesis import given
from hypothesis import strategies as st

from streams.store.db import head_revision, make_engine, migrate
from streams.store.rows import BadRecord, alert_row, dhash_bands, scored_ad_rows, timestamp
from streams.store.schema import metadata

SCORED = {
    "schema_version": 1, "ad_id": "ad-1", "source": "synthetic", "url": "https://x.example/1",
    "posted_at": "2026-10-18T13:50:55Z", "location": {"city": "Fresno", "region": "CA", "country": "US"},
    "title": "Sweet Aria", "body": "Call 520 555 0176",
    "entities": {"phones": ["+15205550176", "+15205550176"], "emails": ["Aria@Example.org"],
                 "handles": ["ig:Aria"], "urls": [], "ages": [18], "prices": [], "locations": ["Fresno"]},
    "indicators": [], "images": [{"index": 0, "ref": "inline:ab", "pdq": "f" * 64, "pdq_quality": 90,
                                  "phash": "0" * 16, "dhash": "8000000000000001"}],
    "image_matches": [], "link": {"template_id": "tpl-1"},
    "cluster": {"cluster_id": "tpl:ad-0", "size": 3, "phones": ["+15205550176"], "cities": ["Fresno"],
                "first_seen": "2026-10-07T03:17:54Z", "last_seen": "2026-10-18T13:50:55Z", "ad_ids": ["ad-0", "ad-1"]},
    "risk": 0.93, "severity": "high", "alert": True, "reasons": [], "scored_at": 1_790_000_000.0,
}


def test_a_scored_ad_gives_its_rows():
    rows = scored_ad_rows(SCORED, stored_at=5.0)
    assert rows.ad["ad_id"] == "ad-1" and rows.ad["severity_rank"] == 3 and rows.ad["title"] == "Sweet Aria"
    assert rows.ad["posted_ts"] == timestamp("2026-10-18T13:50:55Z")
    assert "title" not in json.loads(rows.ad["record"]) and "body" not in json.loads(rows.ad["record"])
    assert [(r["kind"], r["value"]) for r in rows.identifiers] == [
        ("phone", "+15205550176"), ("email", "aria@example.org"), ("handle", "ig:aria")]
    assert rows.images[0]["band0"] == 0b1000000000000 and rows.images[0]["band4"] == 1
    assert rows.cluster["size"] == 3 and json.loads(rows.cluster["phones"]) == ["+15205550176"]
    assert {r["ad_id"] for r in rows.cluster_ads} == {"ad-0", "ad-1"}


def test_a_hubs_regroup_on_the_record_becomes_moves_for_the_store():
    record = {**SCORED, "link": {"template_id": "tpl-1", "regrouped": [
        {"from": "A", "cluster_id": "B", "size": 2, "ad_ids": ["ad-3", "ad-4", 7, "x" * 201],
         "phones": ["+17025550100", 3], "cities": ["Reno"], "first_seen": "2026-10-07T03:17:54Z"}]}}
    assert scored_ad_rows(record, stored_at=5.0).regrouped == [  # unusable ids and phones dropped
        {"from": "A", "cluster_id": "B", "size": 2, "ad_ids": ["ad-3", "ad-4"], "phones": '["+17025550100"]',
         "cities": '["Reno"]', "first_ts": timestamp("2026-10-07T03:17:54Z"), "last_ts": None}]
    assert scored_ad_rows(SCORED, stored_at=5.0).regrouped == []


def test_the_same_record_gives_the_same_rows():
    assert scored_ad_rows(SCORED, stored_at=5.0) == scored_ad_rows(json.loads(json.dumps(SCORED)), stored_at=5.0)


@pytest.mark.parametrize(("change", "says"), [
    ({"ad_id": None}, "ad_id is missing"),
    ({"ad_id": "x" * 201}, "longer than 200"),
    ({"severity": "urgent"}, "severity 'urgent'"),
    ({"risk": 1.5}, "risk 1.5"),
    ({"entities": "none"}, "entities is missing"),
    ({"link": {"regrouped": ["A"]}}, "link.regrouped holds something other than an object"),
    ({"link": {"regrouped": [{"from": "A", "cluster_id": "B", "size": "3"}]}}, "size \\(an integer\\)"),
])
def test_a_bad_scored_record_says_what_is_wrong(change, says):
    with pytest.raises(BadRecord, match=says):
        scored_ad_rows({**SCORED, **change}, stored_at=0)


def test_an_alert_row_starts_new_and_a_bad_alert_is_refused():
    alert = {"schema_version": 1, "alert_id": "al_1", "ad_id": "ad-1", "severity": "high", "risk": 0.9,
             "reasons": [], "created_at": 1_790_000_000.0, "cluster": {"cluster_id": "c", "size": 4},
             "location": {"city": "Fresno"}}
    row = alert_row(alert)
    assert row["status"] == "new" and row["cluster_size"] == 4 and row["city"] == "Fresno"
    with pytest.raises(BadRecord, match="created_at"):
        alert_row({**alert, "created_at": "yesterday"})


@given(st.integers(0, 2**64 - 1), st.lists(st.integers(0, 63), max_size=4, unique=True))
def test_dhashes_within_distance_four_share_a_band(code, flips):
    other = code
    for bit in flips:
        other ^= 1 << bit
    a, b = dhash_bands(f"{code:016x}"), dhash_bands(f"{other:016x}")
    assert any(x == y for x, y in zip(a, b, strict=True))


def test_dhash_bands_of_a_bad_hash_are_empty():
    assert dhash_bands("xyz") == [None] * 5 and dhash_bands(None) == [None] * 5


def test_the_migrations_build_the_tables_the_code_reads(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    assert migrate(engine) == head_revision()
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    # the FTS5 table and its shadow tables are the migration's own (text search on SQLite)
    diff = [d for d in diff if not (d[0] == "remove_table" and d[1].name.startswith("ads_fts"))]
    assert diff == []
    assert migrate(engine) == head_revision()  # a second run is a no-op
