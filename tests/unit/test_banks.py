"""Bank matching: thresholds, the quality gate, closest hash type, records in and out."""

import numpy as np
import pytest
from PIL import Image, ImageOps
from skimage import data

from detectors.images.banks import THRESHOLDS, BankEntry, BankSet, unmatchable
from detectors.images.hashing import bank_variants, decode_image, hash_image, query_variants


def flip_hex(hex_code: str, bits: int) -> str:
    """The hash with its first `bits` bits inverted (distance exactly `bits`)."""
    raw = bytearray(bytes.fromhex(hex_code))
    for bit in range(bits):
        raw[bit // 8] ^= 0x80 >> (bit % 8)
    return raw.hex()


def entry(entry_id: str = "e1", pdq: str = "ab" * 32, dhash: str = "12" * 8,
          quality: int = 100, bank: str = "missing_children") -> BankEntry:
    variant = {"pdq": pdq, "pdq_quality": quality, "phash": "00" * 8, "dhash": dhash}
    return BankEntry(bank, entry_id, f"CASE-{entry_id}", "test", "2026-01-01", (variant,))


def query(pdq: str = "ab" * 32, dhash: str = "ff" * 8, quality: int = 100) -> dict:
    return {"pdq": pdq, "pdq_quality": quality, "phash": "00" * 8, "dhash": dhash}


def test_pdq_matches_up_to_its_threshold_and_not_one_bit_further():
    bank = BankSet([entry()])
    at = bank.match(query(pdq=flip_hex("ab" * 32, THRESHOLDS["pdq"])))
    assert [(m["entry_id"], m["hash_type"], m["distance"]) for m in at] == \
        [("e1", "pdq", THRESHOLDS["pdq"])]
    assert bank.match(query(pdq=flip_hex("ab" * 32, THRESHOLDS["pdq"] + 1))) == []


def test_dhash_alone_can_match_and_the_closest_type_is_reported():
    bank = BankSet([entry()])
    by_dhash = bank.match(query(pdq="00" * 32, dhash=flip_hex("12" * 8, 2)))
    assert [(m["hash_type"], m["distance"]) for m in by_dhash] == [("dhash", 2)]
    both = bank.match(query(pdq=flip_hex("ab" * 32, 20), dhash=flip_hex("12" * 8, 1)))
    assert [(m["hash_type"], m["distance"]) for m in both] == [("dhash", 1)]  # 1/64 < 20/256


def test_low_quality_queries_and_bank_photos_never_match():
    assert BankSet([entry()]).match(query(quality=49)) == []
    flat = entry(quality=10)
    assert BankSet([flat]).match(query()) == []
    assert unmatchable([flat, entry("e2")]) == [flat]


def test_several_query_variants_give_one_row_per_entry_closest_first():
    bank = BankSet([entry("near"), entry("far", pdq=flip_hex("ab" * 32, 25))])
    rows = bank.match(query(pdq=flip_hex("ab" * 32, 10)), query(pdq=flip_hex("ab" * 32, 3)))
    assert [(m["entry_id"], m["distance"]) for m in rows] == [("near", 3), ("far", 15)]
    assert rows[0]["case_id"] == "CASE-near" and rows[0]["bank"] == "missing_children"


def test_malformed_query_hashes_match_nothing_instead_of_raising():
    bank = BankSet([entry()])
    assert bank.match({"pdq": "zz" * 32, "pdq_quality": 100, "dhash": None}) == []
    assert bank.match({"pdq": "ab", "pdq_quality": 100}) == []
    assert bank.match({}) == []
    assert BankSet([]).match(query()) == []


def test_records_round_trip_and_bad_records_are_refused():
    original = entry()
    assert BankEntry.from_record(original.as_record()) == original
    with pytest.raises(ValueError, match="entry_id"):
        BankEntry.from_record({"bank": "x"})
    with pytest.raises(ValueError, match="64 hex"):
        BankEntry.from_record({"bank": "x", "entry_id": "1", "variants": [{"pdq": "ab"}]})


def test_from_codes_builds_the_same_matcher_as_entries():
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 256, (40, 32), dtype=np.uint8)
    dhashes = rng.integers(0, 256, (40, 8), dtype=np.uint8)
    entries = [BankEntry("b", f"e{i}") for i in range(20)]
    labels = np.repeat(np.arange(20), 2)
    bank = BankSet.from_codes(entries, {("pdq", "full"): (codes, labels),
                                        ("dhash", "centre"): (dhashes, labels)})
    rows = bank.match(query(pdq=codes[7].tobytes().hex(), dhash="00" * 8))
    assert rows[0]["entry_id"] == "e3" and rows[0]["distance"] == 0


def test_real_photo_bank_matches_its_reposts_and_not_other_photos():
    photo = Image.fromarray(data.chelsea())
    bank = BankSet([BankEntry("missing_children", "cat", "CASE-9", "test", None,
                              tuple(bank_variants(photo)))])
    rotated = photo.rotate(90, expand=True)
    banner = photo.copy()
    banner.paste((20, 20, 20), (0, int(photo.height * 0.9), photo.width, photo.height))
    for repost in (ImageOps.mirror(photo), rotated, banner, photo.resize((110, 75))):
        assert bank.match(*query_variants(repost))[0]["case_id"] == "CASE-9"
    for other in (data.coffee(), data.rocket(), data.astronaut()):
        assert bank.match(*query_variants(Image.fromarray(other))) == []


def test_a_flat_bank_photo_is_reported_unmatchable():
    grey = Image.new("RGB", (300, 200), (128, 128, 128))
    flat = BankEntry("b", "grey", variants=tuple(bank_variants(grey)))
    assert unmatchable([flat]) == [flat]
    assert hash_image(decode_image(_png(grey)))["pdq_quality"] < 50


def _png(img: Image.Image) -> bytes:
    import io

    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()
