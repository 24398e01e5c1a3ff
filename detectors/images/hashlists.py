"""Hash lists exchanged without photos: PDQ CSV and HMA signal files, read into bank entries and
written from them. No I/O here: the shell hands in lines and writes out the rows.

Formats (which columns are followed, and from where):

- `pdq-csv`: the columns of Meta's PDQ reference hasher (`pdq-photo-hasher` prints
  `hash,quality,filename`) first, then vigil's metadata. With a header row (what `vigil bank
  export --format pdq-csv` writes) the columns are named:
  `pdq,quality,case_id,source,date,entry_id,part,dhash,phash`; only `pdq` is required, `hash`
  and `pdq_hash` are read as `pdq`, `pdq_quality` as `quality`, `filename` as the entry id.
  Without a header the rows are the reference hasher's output: hash, quality, filename.
  Rows sharing an entry id are the variants of one entry (an exported photo entry has ten:
  eight flips and rotations and two centre crops, tagged by `part`), so the round trip
  export → import rebuilds every entry exactly and matches the same query images at the same
  distances.
- `hma`: the signal files of python-threatexchange's local-file exchange, which
  hasher-matcher-actioner (HMA) fetches banks from: one `SIGNAL_TYPE SIGNAL` per line, e.g.
  `pdq 5a3f…`, or a bare signal when the list has one type. It carries no metadata (case id,
  source, date come from the command's options) and one hash per photo; `pdq` is the only
  signal type vigil matches, so any other type is a bad row.

An imported PDQ hash is one hash set, not ten: it matches re-posts of the same photo within PDQ
distance 31 (resizes, re-encodes, light colour changes, small overlays), but not the mirrored,
rotated or cropped re-posts that a photo-built entry's stored variants catch.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from detectors.images.banks import BankEntry

FORMATS = ("pdq-csv", "hma")
PDQ_CSV_COLUMNS = ("pdq", "quality", "case_id", "source", "date", "entry_id", "part", "dhash", "phash")
ALIASES = {"hash": "pdq", "pdq_hash": "pdq", "pdq_quality": "quality", "filename": "entry_id"}
PARTS = ("full", "centre")
DEFAULT_QUALITY = 100  # a shared hash without its quality is taken as a usable one
MAX_TEXT = 200
_HEX = {64: re.compile(r"[0-9a-fA-F]{64}"), 16: re.compile(r"[0-9a-fA-F]{16}")}


@dataclass(frozen=True)
class RowError:
    """A row that cannot be imported: its line in the file and why."""

    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass(frozen=True)
class Defaults:
    """Metadata for rows that carry none (every HMA row; CSV rows with empty cells)."""

    case_id: str | None = None
    source: str | None = None
    date: str | None = None
    quality: int = DEFAULT_QUALITY


def _hex(value: str, digits: int, name: str) -> str:
    if not _HEX[digits].fullmatch(value):
        shown = value if len(value) <= 80 else value[:77] + "..."
        raise ValueError(f"{name} must be {digits} hex digits, got {shown!r} ({len(value)} characters)")
    return value.lower()


def _quality(value: str, default: int) -> int:
    if not value:
        return default
    try:
        quality = int(value)
    except ValueError:
        raise ValueError(f"quality must be a whole number 0-100, got {value!r}") from None
    if not 0 <= quality <= 100:
        raise ValueError(f"quality must be 0-100, got {quality}")
    return quality


def check_date(value: str | None) -> str | None:
    """An ISO date (2026-11-30) or RFC 3339 date-time, returned as given; ValueError otherwise."""
    if not value:
        return None
    try:
        date.fromisoformat(value)
    except ValueError:
        try:
            datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"date must be an ISO date such as 2026-11-30, got {value!r}") from None
    return value


def _text(value: str | None, name: str) -> str | None:
    if value and len(value) > MAX_TEXT:
        raise ValueError(f"{name} is longer than {MAX_TEXT} characters")
    return value or None


def _entry_id_for(pdq: str) -> str:
    return f"pdq-{pdq[:16]}"


class _Entries:
    """Variants gathered per entry id, with the metadata every row of an entry must agree on."""

    def __init__(self, bank: str) -> None:
        self.bank = bank
        self.meta: dict[str, tuple] = {}
        self.variants: dict[str, list[dict]] = {}
        self.seen: dict[tuple, int] = {}

    def add(self, line: int, entry_id: str, meta: tuple, variant: dict) -> None:
        key = (entry_id, variant["part"], variant["pdq"])
        if key in self.seen:
            raise ValueError(f"entry {entry_id!r} has this {variant['part']} hash already (line {self.seen[key]})")
        if entry_id in self.meta and self.meta[entry_id] != meta:
            raise ValueError(f"entry {entry_id!r} has another case id, source or date on an earlier line")
        self.seen[key] = line
        self.meta.setdefault(entry_id, meta)
        self.variants.setdefault(entry_id, []).append(variant)

    def entries(self) -> list[BankEntry]:
        return [BankEntry(self.bank, entry_id, *self.meta[entry_id], tuple(self.variants[entry_id]))
                for entry_id in self.meta]


def parse_pdq_csv(lines: Iterable[str], bank: str, defaults: Defaults = Defaults()
                  ) -> tuple[list[BankEntry], list[RowError]]:
    """Entries of a PDQ CSV (with a header, or the reference hasher's hash,quality,filename
    rows), and every bad row with its line number. Blank lines and `#` comments are skipped."""
    gathered, errors = _Entries(bank), []
    columns: list[str] | None = None
    for number, row in _numbered_rows(lines):
        if columns is None:
            named = [ALIASES.get(c.strip().lower(), c.strip().lower()) for c in row]
            if "pdq" in named:
                unknown = [c for c in named if c not in PDQ_CSV_COLUMNS]
                if unknown:
                    return [], [RowError(number, f"unknown column(s) {', '.join(unknown)}; known: "
                                                 f"{', '.join(PDQ_CSV_COLUMNS)}")]
                columns = named
                continue
            columns = ["pdq", "quality", "entry_id"]  # the reference hasher's output, no header
        if len(row) > len(columns):
            errors.append(RowError(number, f"{len(row)} cells but {len(columns)} columns"))
            continue
        cells = {name: value.strip() for name, value in zip(columns, row, strict=False)}
        try:
            pdq = _hex(cells.get("pdq", ""), 64, "pdq")
            variant = {"pdq": pdq, "pdq_quality": _quality(cells.get("quality", ""), defaults.quality),
                       "part": cells.get("part") or "full"}
            if variant["part"] not in PARTS:
                raise ValueError(f"part must be one of {', '.join(PARTS)}, got {variant['part']!r}")
            for name in ("dhash", "phash"):
                if cells.get(name):
                    variant[name] = _hex(cells[name], 16, name)
            entry_id = _text(cells.get("entry_id"), "entry_id") or _entry_id_for(pdq)
            meta = (_text(cells.get("case_id"), "case_id") or defaults.case_id,
                    _text(cells.get("source"), "source") or defaults.source,
                    check_date(cells.get("date")) or defaults.date)
            gathered.add(number, entry_id, meta, variant)
        except ValueError as exc:
            errors.append(RowError(number, str(exc)))
    if columns is None and not errors:
        errors.append(RowError(0, "no hashes in the file"))
    return gathered.entries(), errors


def parse_hma(lines: Iterable[str], bank: str, defaults: Defaults = Defaults()
              ) -> tuple[list[BankEntry], list[RowError]]:
    """Entries of an HMA / python-threatexchange signal file (`pdq HEX` per line, or a bare
    HEX), one entry per distinct hash, and every bad row with its line number."""
    gathered, errors, count = _Entries(bank), [], 0
    meta = (defaults.case_id, defaults.source, defaults.date)
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        count += 1
        signal_type, _, signal = line.partition(" ")
        if not signal:
            signal_type, signal = "pdq", signal_type
        try:
            if signal_type != "pdq":
                raise ValueError(f"signal type {signal_type!r} is not one vigil matches (only pdq: "
                                 "PDQ photo hashes)")
            pdq = _hex(signal.strip(), 64, "pdq signal")
            entry_id = _entry_id_for(pdq)
            if (entry_id, "full", pdq) in gathered.seen:
                continue  # a signal list is a set: the same hash twice is one entry
            gathered.add(number, entry_id, meta, {"pdq": pdq, "pdq_quality": defaults.quality, "part": "full"})
        except ValueError as exc:
            errors.append(RowError(number, str(exc)))
    if not count and not errors:
        errors.append(RowError(0, "no hashes in the file"))
    return gathered.entries(), errors


def _numbered_rows(lines: Iterable[str]):
    """(line number, cells) of CSV text, skipping blank lines and # comments."""
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        yield number, next(csv.reader([line]))


def pdq_csv_rows(entries: Iterable[BankEntry]) -> list[list[str]]:
    """The header and one row per stored variant (lossless: import rebuilds the same entries)."""
    rows = [list(PDQ_CSV_COLUMNS)]
    for entry in entries:
        for variant in entry.variants:
            if not variant.get("pdq"):
                continue
            rows.append([variant["pdq"], str(variant.get("pdq_quality", "")), entry.case_id or "",
                         entry.source or "", entry.date or "", entry.entry_id, variant.get("part", "full"),
                         variant.get("dhash") or "", variant.get("phash") or ""])
    return rows


def hma_lines(entries: Iterable[BankEntry]) -> list[str]:
    """One `pdq HEX` line per entry: the hash of the photo as it was banked (its first full
    variant), which is what HMA stores per photo; no metadata travels in this format."""
    lines = []
    for entry in entries:
        full = [v for v in entry.variants if v.get("part", "full") == "full" and v.get("pdq")]
        if full:
            lines.append(f"pdq {full[0]['pdq']}")
    return lines
