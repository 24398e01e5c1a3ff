"""`vigil bank` against the real Redis: add a directory, list, match re-posts, export, remove."""

import json

import redis
from PIL import Image, ImageOps
from skimage import data

from streams.banks.store import BankStore
from streams.cli import main
from streams.config import load_settings, redis_prefix


def test_bank_commands_round_trip(stack, topic_prefix, tmp_path, capsys):
    bank_dir, ads = tmp_path / "bank", tmp_path / "ads"
    bank_dir.mkdir()
    ads.mkdir()
    Image.fromarray(data.chelsea()).save(bank_dir / "cat.png")
    Image.fromarray(data.coffee()).save(bank_dir / "cup.jpg", quality=90)
    Image.new("RGB", (200, 200), (90, 90, 90)).save(bank_dir / "grey.png")
    ImageOps.mirror(Image.fromarray(data.chelsea())).save(ads / "repost.jpg", quality=60)
    Image.fromarray(data.rocket()).save(ads / "other.jpg")
    (ads / "page.jpg").write_bytes(b"<html>not an image</html>")

    assert main(["bank", "add", "missing_children", str(bank_dir), "--case-id", "CASE-3",
                 "--source", "test"]) == 0
    out, err = capsys.readouterr()
    assert "3 entries added" in out and "grey has too little detail" in err

    assert main(["bank", "list"]) == 0
    assert "missing_children\tcat\tcase=CASE-3" in capsys.readouterr().out

    assert main(["bank", "match", str(ads / "repost.jpg"), str(ads / "other.jpg"),
                 str(ads / "page.jpg")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{ads / 'repost.jpg'}\tmatch\tmissing_children/cat\tcase=CASE-3")
    assert "\tno match" in lines[1]
    assert "\terror\t" in lines[2] and "not_an_image" in lines[2]

    export = tmp_path / "banks.jsonl"
    assert main(["bank", "export", str(export)]) == 0
    records = [json.loads(line) for line in export.read_text().splitlines()]
    assert sorted(r["entry_id"] for r in records) == ["cat", "cup", "grey"]
    assert main(["bank", "match", "--banks", str(export), str(ads / "repost.jpg")]) == 0

    assert main(["bank", "remove", "missing_children", "cat"]) == 0
    assert main(["bank", "remove", "missing_children", "cat"]) == 2  # a clear error, not a crash
    capsys.readouterr()
    assert main(["bank", "match", str(ads / "repost.jpg")]) == 1


def test_a_malformed_stored_record_is_skipped_not_fatal(stack, topic_prefix):
    client = redis.Redis.from_url(stack.redis_url)
    store = BankStore(client, redis_prefix(load_settings()))
    client.hset(store.key, "x/broken", b"{not json")
    client.hset(store.key, "x/nohash", json.dumps({"bank": "x", "entry_id": "nohash",
                                                   "variants": [{"pdq": "ab"}]}))
    client.hset(store.key, "x/ok", json.dumps({"bank": "x", "entry_id": "ok", "variants": []}))
    assert [e.entry_id for e in store.load_entries()] == ["ok"]
