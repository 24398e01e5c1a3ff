"""Hash banks in Redis (AOF on), kept live in every worker, and the `vigil bank` commands.

Entries live in one Redis hash per deployment prefix; every change bumps a version counter and
publishes on a channel. `LiveBanks` reloads its in-process index within a second of a change
(pub/sub wakes it; the version is also polled, so a missed message only delays it), without a
restart.
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import sys
import threading
import time
from pathlib import Path

import redis
from PIL import Image

from detectors.images import hashlists
from detectors.images.banks import BankEntry, BankSet, unmatchable
from detectors.images.hashing import ImageFetchError, bank_variants, decode_image
from streams.errors import CliError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff"}


def entry_for_image(bank: str, entry_id: str, img: Image.Image, *, case_id: str | None = None,
                    source: str | None = None, date: str | None = None) -> BankEntry:
    return BankEntry(bank, entry_id, case_id, source, date, tuple(bank_variants(img)))


def entries_from_path(bank: str, path: Path, *, case_id: str | None = None,
                      source: str | None = None) -> list[BankEntry]:
    """Entries from a directory of images (or its manifest.csv) or a CSV manifest with columns
    entry_id, case_id, source, date, file (file relative to the CSV)."""
    path = Path(path)
    if not path.exists():
        raise CliError(f"{path}: no such directory or file")
    if path.is_dir() and (path / "manifest.csv").exists():
        path = path / "manifest.csv"
    if path.is_dir():
        rows = [{"entry_id": p.stem, "file": p.name, "case_id": case_id, "source": source}
                for p in sorted(path.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES]
        base = path
    elif path.suffix.lower() == ".csv":
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        missing = {"entry_id", "file"} - set(rows[0] if rows else {})
        if missing:
            raise CliError(f"{path}: CSV needs columns entry_id and file (missing {missing})")
        base = path.parent
    else:
        raise CliError(f"{path}: give a directory of images or a CSV manifest")
    if not rows:
        raise CliError(f"{path}: no images found")
    entries, seen = [], set()
    for number, row in enumerate(rows, start=1):
        if not row.get("entry_id") or not row.get("file"):
            raise CliError(f"{path} row {number}: entry_id and file must not be empty")
        if row["entry_id"] in seen:
            raise CliError(f"{path} row {number}: entry_id {row['entry_id']} appears twice")
        seen.add(row["entry_id"])
        file = base / row["file"]
        try:
            img = decode_image(file.read_bytes())
        except FileNotFoundError as exc:
            raise CliError(f"{path} row {number}: no such file {file}") from exc
        except ImageFetchError as exc:
            raise CliError(f"{path} row {number}: {file} is not usable: {exc.detail}") from exc
        entries.append(entry_for_image(bank, row["entry_id"], img,
                                       case_id=row.get("case_id") or case_id,
                                       source=row.get("source") or source, date=row.get("date")))
    return entries


class BankStore:
    """CRUD for bank entries in Redis."""

    def __init__(self, client: redis.Redis, prefix: str = "vigil:") -> None:
        self.client = client
        self.key = f"{prefix}banks"
        self.version_key = f"{prefix}banks:version"
        self.channel = f"{prefix}banks:changed"

    def _changed(self) -> None:
        version = self.client.incr(self.version_key)
        self.client.publish(self.channel, version)

    def add_entries(self, entries: list[BankEntry], chunk: int = 10_000) -> int:
        """Store entries (replacing those with the same bank and id) in one MULTI/EXEC
        transaction: a reader sees all of them or none, however many chunks it takes."""
        if entries:
            with self.client.pipeline(transaction=True) as tx:
                for start in range(0, len(entries), chunk):
                    tx.hset(self.key, mapping={f"{e.bank}/{e.entry_id}": json.dumps(e.as_record())
                                               for e in entries[start:start + chunk]})
                tx.incr(self.version_key)
                version = tx.execute()[-1]
            self.client.publish(self.channel, version)
        return len(entries)

    def bank_entries(self, bank: str) -> list[BankEntry]:
        """The entries of one bank, in a stable order."""
        return [entry for entry in self.load_entries() if entry.bank == bank]

    def add_from_path(self, bank: str, path, **kw) -> int:
        return self.add_entries(entries_from_path(bank, Path(path), **kw))

    def remove(self, bank: str, entry_id: str) -> bool:
        removed = bool(self.client.hdel(self.key, f"{bank}/{entry_id}"))
        if removed:
            self._changed()
        return removed

    def version(self) -> int:
        return int(self.client.get(self.version_key) or 0)

    def load_entries(self) -> list[BankEntry]:
        """Every stored entry, in a stable order; a malformed record is logged and skipped."""
        entries = []
        for key, raw in sorted(self.client.hgetall(self.key).items()):
            try:
                entries.append(BankEntry.from_record(json.loads(raw)))
            except (ValueError, TypeError) as exc:  # JSONDecodeError is a ValueError
                log.warning("hash banks: skipping malformed entry %r: %s", key, exc)
        return entries

    def load_all(self) -> BankSet:
        return BankSet(self.load_entries())


class LiveBanks:
    """A BankSet kept current in the background; read `.current` for the latest."""

    def __init__(self, client: redis.Redis, prefix: str = "vigil:", poll_s: float = 1.0) -> None:
        self.store = BankStore(client, prefix)
        self.poll_s = poll_s
        self.current = BankSet([])
        self._version = -1
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def refresh(self) -> bool:
        version = self.store.version()
        if version == self._version:
            return False
        self.current = self.store.load_all()
        self._version = version
        from streams.metrics import set_bank_sizes

        set_bank_sizes(self.current.counts())
        log.info("hash banks reloaded: %s (version %d)", self.current.counts(), version)
        return True

    def _loop(self) -> None:
        """Wake on a change message, or every `poll_s` to compare versions. After a Redis error
        (restart, network) subscribe again with a short back-off, and reload at once: a change
        published while we were away was not heard."""
        pubsub = None
        failures = 0
        next_poll = 0.0
        while not self._stop.is_set():
            try:
                if pubsub is None:
                    pubsub = self.store.client.pubsub(ignore_subscribe_messages=True)
                    pubsub.subscribe(self.store.channel)
                    if failures:
                        log.info("hash banks: Redis is back, subscribed again")
                    failures, next_poll = 0, 0.0
                # short waits, so stop() and the version poll are never far away
                message = pubsub.get_message(timeout=min(1.0, self.poll_s))
                if message is not None or time.monotonic() >= next_poll:
                    self.refresh()
                    next_poll = time.monotonic() + self.poll_s
            except redis.RedisError as exc:
                failures += 1
                log.warning("hash banks: Redis unavailable (%s), keeping the last copy",
                            type(exc).__name__)
                if pubsub is not None:
                    with contextlib.suppress(Exception):
                        pubsub.close()
                    pubsub = None
                self._stop.wait(min(self.poll_s, 0.25 * 2 ** min(failures - 1, 5)))
        if pubsub is not None:
            pubsub.close()

    def start(self) -> None:
        """Load the banks now (Redis errors propagate), then follow changes in a thread."""
        self.refresh()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="vigil-banks")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.poll_s + 2)


def load_bank_file(path: str) -> BankSet:
    """Banks for `vigil score` without Redis: JSON lines of entries (`vigil bank export`)."""
    entries = []
    try:
        with open(path, encoding="utf-8") as fh:
            for number, line in enumerate(fh, start=1):
                if line.strip():
                    try:
                        entries.append(BankEntry.from_record(json.loads(line)))
                    except (ValueError, TypeError) as exc:
                        raise CliError(f"{path} line {number}: not a bank entry ({exc})") from exc
    except FileNotFoundError as exc:
        raise CliError(f"no such bank file: {path}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read bank file {path}: {exc}") from exc
    return BankSet(entries)


# ---------------------------------------------------------------- CLI


def _store() -> BankStore:
    from streams.clients import redis_client
    from streams.config import load_settings, redis_prefix

    settings = load_settings()
    return BankStore(redis_client(settings), redis_prefix(settings))


def _cmd_bank(args) -> int:
    """A bank needs only Redis: the local one is started if it is not up (never with REDIS_URL
    set) and stopped again when the command ends if it started it; `match --banks FILE` needs
    nothing."""
    from streams.config import load_settings
    from streams.stack.launcher import services

    if args.action == "match" and args.banks:
        return _bank_command(args)
    with services(load_settings(), redis=True):
        return _bank_command(args)


def _bank_command(args) -> int:
    if args.action == "add":
        entries = entries_from_path(args.name, Path(args.path), case_id=args.case_id,
                                    source=args.source)
        added = _store().add_entries(entries)
        variants = len(entries[0].variants) if entries else 0
        print(f"bank {args.name}: {added} entries added ({variants} hash variants each: flips, "
              "rotations, centre crop)")
        for entry in unmatchable(entries):
            print(f"warning: {entry.entry_id} has too little detail (PDQ quality "
                  f"{entry.quality} < 50) and will never match", file=sys.stderr)
        return 0
    if args.action == "list":
        banks = _store().load_all()
        for entry in sorted(banks.entries, key=lambda e: (e.bank, e.entry_id)):
            print(f"{entry.bank}\t{entry.entry_id}\tcase={entry.case_id}\tsource={entry.source}"
                  f"\tdate={entry.date}")
        print(f"{len(banks)} entries: {banks.counts()}")
        return 0
    if args.action == "remove":
        if not _store().remove(args.name, args.entry_id):
            raise CliError(f"bank {args.name} has no entry {args.entry_id}")
        print(f"bank {args.name}: removed {args.entry_id}")
        return 0
    if args.action == "export":
        return _export(args)
    if args.action == "import":
        return _import(args)
    from detectors.images.hashing import query_variants

    banks = load_bank_file(args.banks) if args.banks else _store().load_all()
    status = 1
    for image in args.images:
        try:
            queries = query_variants(decode_image(Path(image).read_bytes()))
        except (FileNotFoundError, ImageFetchError) as exc:
            print(f"{image}\terror\t{exc}")
            continue
        matches = banks.match(*queries)
        for m in matches:
            print(f"{image}\tmatch\t{m['bank']}/{m['entry_id']}\tcase={m['case_id']}"
                  f"\t{m['hash_type']} distance {m['distance']}")
        if not matches:
            print(f"{image}\tno match\t(pdq quality {queries[0]['pdq_quality']})")
        status = 0 if matches else status
    return status


def _export(args) -> int:
    """`vigil bank export FILE` (every bank, JSON lines for `vigil score --banks`) or
    `vigil bank export NAME FILE --format pdq-csv|hma` (one bank as a hash list)."""
    if len(args.target) == 1 and args.format in (None, "jsonl"):
        banks = _store().load_all()
        with open(args.target[0], "w", encoding="utf-8") as fh:
            for entry in banks.entries:
                fh.write(json.dumps(entry.as_record()) + "\n")
        print(f"{len(banks)} entries written to {args.target[0]}")
        return 0
    if len(args.target) != 2 or args.format not in hashlists.FORMATS:
        raise CliError("give NAME FILE --format pdq-csv|hma for a hash list, or just FILE for every bank "
                       "as JSON lines")
    name, out = args.target
    entries = _store().bank_entries(name)
    if not entries:
        raise CliError(f"bank {name} has no entries")
    with open(out, "w", encoding="utf-8", newline="") as fh:
        if args.format == "pdq-csv":
            rows = hashlists.pdq_csv_rows(entries)
            csv.writer(fh, lineterminator="\n").writerows(rows)
            print(f"bank {name}: {len(entries)} entries written to {out} as pdq-csv ({len(rows) - 1} hash rows: "
                  "every stored variant)")
        else:
            lines = hashlists.hma_lines(entries)
            fh.writelines(line + "\n" for line in lines)
            print(f"bank {name}: {len(lines)} entries written to {out} as hma signals (one PDQ hash per photo; "
                  "case id, source and date do not travel in this format)")
    return 0


def _import(args) -> int:
    """`vigil bank import NAME FILE --format pdq-csv|hma`: every row checked first; any bad row
    and nothing is written; otherwise every entry goes in in one transaction."""
    try:
        defaults = hashlists.Defaults(case_id=args.case_id, source=args.source,
                                      date=hashlists.check_date(args.date), quality=args.quality)
    except ValueError as exc:
        raise CliError(f"--date: {exc}") from exc
    parse = hashlists.parse_pdq_csv if args.format == "pdq-csv" else hashlists.parse_hma
    try:
        with open(args.file, encoding="utf-8", newline="") as fh:
            entries, errors = parse(fh, args.name, defaults)
    except FileNotFoundError as exc:
        raise CliError(f"no such file: {args.file}") from exc
    except UnicodeDecodeError as exc:
        raise CliError(f"{args.file} is not UTF-8 text (byte {exc.start}): nothing imported") from exc
    if errors:
        shown = "\n".join(f"  {args.file} {error}" for error in errors[:50])
        more = f"\n  … and {len(errors) - 50} more" if len(errors) > 50 else ""
        raise CliError(f"{len(errors)} bad row(s), nothing imported:\n{shown}{more}")
    added = _store().add_entries(entries)
    hashes = sum(len(entry.variants) for entry in entries)
    print(f"bank {args.name}: {added} entries imported from {args.file} ({hashes} PDQ hashes, {args.format})")
    for entry in unmatchable(entries):
        print(f"warning: {entry.entry_id} has PDQ quality {entry.quality} < 50 and will never match",
              file=sys.stderr)
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("bank", help="manage and query photo hash banks")
    sub = p.add_subparsers(dest="action", required=True)
    add = sub.add_parser("add", help="add a directory of images or a CSV manifest to a bank")
    add.add_argument("name", help="bank name, e.g. missing_children")
    add.add_argument("path", help="directory (uses manifest.csv if present) or CSV")
    add.add_argument("--case-id", help="case id for every image of a directory")
    add.add_argument("--source", help="source for every image of a directory")
    match = sub.add_parser("match", help="match image files against the banks")
    match.add_argument("images", nargs="+")
    match.add_argument("--banks", help="an exported bank file instead of Redis")
    sub.add_parser("list", help="list bank entries")
    rm = sub.add_parser("remove", help="remove one entry")
    rm.add_argument("name")
    rm.add_argument("entry_id")
    exp = sub.add_parser("export", help="write every bank as JSON lines (for vigil score --banks), or one "
                                        "bank as a hash list (--format pdq-csv|hma)")
    exp.add_argument("target", nargs="+", metavar="[NAME] FILE",
                     help="FILE alone: every bank as JSON lines; NAME FILE: that bank as a hash list")
    exp.add_argument("--format", choices=["jsonl", *hashlists.FORMATS], default=None)
    imp = sub.add_parser("import", help="add a partner's hash list (PDQ CSV or HMA signals) to a bank, "
                                        "without photos")
    imp.add_argument("name", help="bank name, e.g. missing_children")
    imp.add_argument("file", help="the hash list")
    imp.add_argument("--format", choices=hashlists.FORMATS, required=True)
    imp.add_argument("--case-id", help="case id for rows without one (every hma row)")
    imp.add_argument("--source", help="source for rows without one, e.g. the partner's name")
    imp.add_argument("--date", help="date for rows without one (ISO, e.g. 2026-11-30)")
    imp.add_argument("--quality", type=int, default=hashlists.DEFAULT_QUALITY,
                     help="PDQ quality for hashes shared without it (default 100; under 50 never matches)")
    p.set_defaults(func=_cmd_bank)
