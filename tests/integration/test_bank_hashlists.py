"""`vigil bank import/export --format pdq-csv|hma` against the real Redis: a bank built from
photos, exported and imported under another name, matches the same query images identically;
a list with bad rows is refused whole."""

from __future__ import annotations

import redis
from PIL import Image, ImageOps
from skimage import data

from streams.banks.store import BankStore
from streams.cli import main
from streams.config import load_settings, redis_prefix

PDQ = "f8f8f0f0e0e0c0c08080000011112222333344445555666677778888999900aa"


def store(stack) -> BankStore:
    return BankStore(redis.Redis.from_url(stack.redis_url), redis_prefix(load_settings()))


def matches(bank_store: BankStore, bank: str, images: list[Image.Image]) -> list[list[tuple]]:
    from detectors.images.banks import BankSet
    from detectors.images.hashing import query_variants

    banks = BankSet(bank_store.bank_entries(bank))
    return [[(m["entry_id"], m["case_id"], m["source"], m["hash_type"], m["distance"])
             for m in banks.match(*query_variants(img))] for img in images]


def test_pdq_csv_round_trip_through_redis_gives_identical_matches(stack, topic_prefix, tmp_path, capsys):
    bank_dir = tmp_path / "bank"
    bank_dir.mkdir()
    photos = {name: Image.fromarray(getattr(data, name)()).convert("RGB")
              for name in ("chelsea", "coffee", "rocket")}
    for name, img in photos.items():
        img.save(bank_dir / f"{name}.png")
    assert main(["bank", "add", "missing_children", str(bank_dir), "--case-id", "CASE-7", "--source", "ngo"]) == 0
    exported = tmp_path / "mc.csv"
    assert main(["bank", "export", "missing_children", str(exported), "--format", "pdq-csv"]) == 0
    assert "3 entries written" in capsys.readouterr().out
    assert exported.read_text().splitlines()[0] == "pdq,quality,case_id,source,date,entry_id,part,dhash,phash"
    assert main(["bank", "import", "partner_list", str(exported), "--format", "pdq-csv"]) == 0
    assert "3 entries imported" in capsys.readouterr().out

    queries = [edit(img) for img in [*photos.values(), Image.fromarray(data.astronaut())]
               for edit in (lambda i: i, ImageOps.mirror, lambda i: i.resize((320, 240)),
                            lambda i: i.rotate(90, expand=True))]
    original = matches(store(stack), "missing_children", queries)
    assert original == matches(store(stack), "partner_list", queries)
    assert sum(bool(m) for m in original) == 12 and not any(original[12:])  # the astronaut is in neither


def test_hma_export_import_matches_reposts_of_the_banked_photos(stack, topic_prefix, tmp_path, capsys):
    bank_dir = tmp_path / "bank"
    bank_dir.mkdir()
    cat = Image.fromarray(data.chelsea()).convert("RGB")
    cat.save(bank_dir / "cat.png")
    assert main(["bank", "add", "flagged", str(bank_dir)]) == 0
    signals = tmp_path / "flagged.txt"
    assert main(["bank", "export", "flagged", str(signals), "--format", "hma"]) == 0
    assert signals.read_text().startswith("pdq ") and len(signals.read_text().splitlines()) == 1
    assert main(["bank", "import", "from_hma", str(signals), "--format", "hma", "--case-id", "K-1",
                 "--source", "partner", "--date", "2026-11-30"]) == 0
    capsys.readouterr()
    [[(entry_id, case_id, source, hash_type, _)]] = matches(store(stack), "from_hma", [cat.resize((400, 300))])
    assert (entry_id.startswith("pdq-"), case_id, source, hash_type) == (True, "K-1", "partner", "pdq")


def test_a_list_with_bad_rows_is_refused_whole_naming_each_line(stack, topic_prefix, tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text(f"pdq,quality,case_id,entry_id\n{PDQ},90,C1,e1\n{PDQ[:40]},90,C1,e2\n"
                   f"{PDQ.replace('f', '0')},900,C1,e3\n{PDQ.replace('8', '1')},90,C1,e4\n")
    assert main(["bank", "import", "partner_list", str(bad), "--format", "pdq-csv"]) == 2
    err = capsys.readouterr().err
    assert "2 bad row(s), nothing imported" in err
    assert f"{bad} line 3: pdq must be 64 hex digits" in err and f"{bad} line 4: quality must be 0-100" in err
    assert store(stack).bank_entries("partner_list") == []
    version = store(stack).version()
    hma = tmp_path / "bad.txt"
    hma.write_text(f"pdq {PDQ}\nmd5 0123\n")
    assert main(["bank", "import", "partner_list", str(hma), "--format", "hma"]) == 2
    assert "line 2: signal type 'md5'" in capsys.readouterr().err
    assert store(stack).bank_entries("partner_list") == [] and store(stack).version() == version
