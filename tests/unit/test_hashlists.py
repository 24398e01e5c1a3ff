"""Hash lists without photos: PDQ CSV and HMA signal files read and written (no Redis here)."""

from __future__ import annotations

import csv
import io

import pytest
from PIL import Image, ImageOps
from skimage import data

from detectors.images.banks import BankSet
from detectors.images.hashing import query_variants
from detectors.images.hashlists import Defaults, hma_lines, parse_hma, parse_pdq_csv, pdq_csv_rows
from streams.banks.store import entry_for_image

PDQ = "f8f8f0f0e0e0c0c08080000011112222333344445555666677778888999900aa"
PDQ2 = "0" * 63 + "1"


def photos() -> dict[str, Image.Image]:
    return {name: Image.fromarray(getattr(data, name)()).convert("RGB")
            for name in ("chelsea", "coffee", "rocket", "astronaut")}


def csv_text(rows: list[list[str]]) -> list[str]:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().splitlines(keepends=True)


def test_pdq_csv_round_trip_rebuilds_every_entry_and_matches_identically():
    entries = [entry_for_image("missing_children", name, img, case_id=f"C-{i}", source="ngo", date="2026-11-30")
               for i, (name, img) in enumerate(photos().items())]
    back, errors = parse_pdq_csv(csv_text(pdq_csv_rows(entries)), "missing_children")
    assert errors == []
    assert back == entries
    original, imported = BankSet(entries), BankSet(back)
    for img in photos().values():
        for query in (img, ImageOps.mirror(img), img.resize((300, 200)), img.rotate(90, expand=True)):
            queries = query_variants(query)
            assert imported.match(*queries) == original.match(*queries) != []


def test_bad_rows_are_reported_each_with_its_line_and_reason():
    lines = ["pdq,quality,case_id,source,date,entry_id\n",
             f"{PDQ},100,C1,ngo,2026-11-30,e1\n",
             "# a comment\n",
             f"{PDQ[:-1]},100,C1,ngo,2026-11-30,e2\n",         # 63 digits
             f"{PDQ2},101,C1,ngo,2026-11-30,e3\n",             # quality out of range
             f"{PDQ2},90,C1,ngo,30/11/2026,e4\n",              # not an ISO date
             f"{'z' * 64},90,C1,ngo,,e5\n",                    # not hex
             f"{PDQ},100,C2,ngo,2026-11-30,e1\n",              # same entry, other metadata... and same hash
             f"{PDQ2},50,C1,ngo,2026-11-30,e6,extra\n",        # too many cells
             "\n"]
    entries, errors = parse_pdq_csv(lines, "b")
    assert [e.line for e in errors] == [4, 5, 6, 7, 8, 9]
    reasons = [e.reason for e in errors]
    assert "64 hex digits" in reasons[0] and "63 characters" in reasons[0]
    assert "0-100" in reasons[1]
    assert "ISO date" in reasons[2] and "30/11/2026" in reasons[2]
    assert "64 hex digits" in reasons[3]
    assert "e1" in reasons[4] and "line 2" in reasons[4]
    assert "7 cells but 6 columns" in reasons[5]
    assert str(errors[0]).startswith("line 4: ")


def test_the_reference_hasher_output_without_a_header_and_defaults_for_missing_metadata():
    entries, errors = parse_pdq_csv([f"{PDQ},87,/photos/cat.jpg\n", f"{PDQ2.upper()},40\n"], "b",
                                    Defaults(case_id="K-9", source="partner", date="2026-12-01"))
    assert errors == []
    assert [(e.entry_id, e.case_id, e.source, e.date, e.quality) for e in entries] == [
        ("/photos/cat.jpg", "K-9", "partner", "2026-12-01", 87),
        (f"pdq-{PDQ2[:16]}", "K-9", "partner", "2026-12-01", 40)]
    assert entries[1].variants[0]["pdq"] == PDQ2  # lower-cased


def test_unknown_columns_and_empty_files_are_refused():
    assert parse_pdq_csv(["pdq,colour\n"], "b")[1][0].reason.startswith("unknown column(s) colour")
    assert parse_pdq_csv(["\n", "# nothing\n"], "b")[1][0].reason == "no hashes in the file"
    assert parse_hma([], "b")[1][0].reason == "no hashes in the file"


def test_hma_signal_files_one_entry_per_distinct_pdq_hash():
    entries, errors = parse_hma([f"pdq {PDQ}\n", f"{PDQ2}\n", f"pdq {PDQ}\n", "\n"], "b", Defaults(case_id="C"))
    assert errors == []
    assert [(e.entry_id, e.case_id, e.quality, len(e.variants)) for e in entries] == [
        (f"pdq-{PDQ[:16]}", "C", 100, 1), (f"pdq-{PDQ2[:16]}", "C", 100, 1)]


def test_hma_rows_of_other_signal_types_or_bad_hashes_are_bad_rows():
    _, errors = parse_hma([f"pdq {PDQ}\n", "video_md5 d41d8cd98f00b204e9800998ecf8427e\n", "pdq abc\n"], "b")
    assert [(e.line, "video_md5" in e.reason or "64 hex" in e.reason) for e in errors] == [(2, True), (3, True)]


def test_hma_export_writes_the_banked_photo_hash_and_unaltered_reposts_still_match():
    images = photos()
    entries = [entry_for_image("b", name, img) for name, img in images.items()]
    lines = hma_lines(entries)
    assert [line.split()[1] for line in lines] == [e.variants[0]["pdq"] for e in entries]
    imported, errors = parse_hma(lines, "b2")
    assert errors == []
    bank = BankSet(imported)
    for entry, img in zip(entries, images.values(), strict=True):
        found = bank.match(*query_variants(img.resize((400, 300))))
        assert [m["entry_id"] for m in found] == [f"pdq-{entry.variants[0]['pdq'][:16]}"]


@pytest.mark.parametrize("value", ["2026-11-30", "2026-11-30T10:00:00Z", ""])
def test_dates_accepted(value):
    entries, errors = parse_pdq_csv(["pdq,date\n", f"{PDQ},{value}\n"], "b")
    assert errors == [] and entries[0].date == (value or None)
