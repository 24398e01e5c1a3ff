"""Hash banks in Redis (minimal): add/list/remove/match, and a live copy every worker refreshes."""

from __future__ import annotations

import csv
import json
import logging
import threading
from pathlib import Path

import redis
from PIL import Image, ImageOps

from detectors.banks import BankEntry, BankSet
from detectors.images import decode_image, hash_image
from streams.errors import CliError

log = logging.getLogger(__name__)


def dihedral_pdq(img: Image.Image) -> tuple[str, ...]:
    variants = []
    for base in (img, ImageOps.mirror(img)):
        for angle in (0, 90, 180, 270):
            variants.append(hash_image(base.rotate(angle, expand=True))["pdq"])
    return tuple(dict.fromkeys(variants))


def entries_from_path(bank: str, path: Path) -> list[BankEntry]:
    path = Path(path)
    if path.is_dir():
        manifest = path / "manifest.csv"
        if manifest.exists():
            return entries_from_path(bank, manifest)
        rows = [{"entry_id": p.stem, "file": p.name} for p in sorted(path.iterdir()) if p.is_file()]
        base = path
    elif path.suffix == ".csv":
        with open(path, newline="") as fh:
            rows = list(csv.DictReader(fh))
        base = path.parent
    else:
        raise CliError(f"{path}: give a directory of images or a CSV manifest")
    entries = []
    for row in rows:
        img = decode_image((base / row["file"]).read_bytes())
        entries.append(BankEntry(bank, row["entry_id"], row.get("case_id"), row.get("source"),
                                 row.get("date"), dihedral_pdq(img)))
    return entries


class BankStore:
    def __init__(self, client: redis.Redis, prefix: str = "vigil:") -> None:
        self.client, self.key, self.version_key = client, f"{prefix}banks", f"{prefix}banks:version"

    def add_entries(self, entries: list[BankEntry]) -> int:
        for e in entries:
            self.client.hset(self.key, f"{e.bank}/{e.entry_id}", json.dumps(e.__dict__))
        self.client.incr(self.version_key)
        return len(entries)

    def add_from_path(self, bank: str, path) -> int:
        return self.add_entries(entries_from_path(bank, Path(path)))

    def remove(self, bank: str, entry_id: str) -> bool:
        removed = self.client.hdel(self.key, f"{bank}/{entry_id}")
        self.client.incr(self.version_key)
        return bool(removed)

    def version(self) -> int:
        return int(self.client.get(self.version_key) or 0)

    def load_all(self) -> BankSet:
        entries = []
        for raw in self.client.hvals(self.key):
            d = json.loads(raw)
            d["pdq_variants"] = tuple(d["pdq_variants"])
            entries.append(BankEntry(**d))
        return BankSet(entries)


class LiveBanks:
    """A BankSet kept current: reloaded within a second of any change, no restart."""

    def __init__(self, client: redis.Redis, prefix: str = "vigil:", interval_s: float = 1.0) -> None:
        self.store, self.interval_s = BankStore(client, prefix), interval_s
        self._version = -1
        self.current = BankSet([])
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def refresh(self) -> None:
        version = self.store.version()
        if version != self._version:
            self.current = self.store.load_all()
            self._version = version
            log.info("hash banks reloaded: %d entries (version %d)", len(self.current.entries), version)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.refresh()
            except redis.RedisError:
                log.warning("hash banks: Redis unavailable, keeping the last copy")

    def start(self) -> None:
        self.refresh()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="vigil-banks")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()


def load_bank_file(path: str) -> BankSet:
    """Banks for `vigil score`: a JSON lines export of entries."""
    entries = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                d = json.loads(line)
                d["pdq_variants"] = tuple(d["pdq_variants"])
                entries.append(BankEntry(**d))
    return BankSet(entries)
