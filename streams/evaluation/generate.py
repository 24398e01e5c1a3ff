"""`vigil generate`: a synthetic, labelled corpus of raw ads as JSON lines.

The ads, their actors and their ground truth come from detectors/synthetic.py (pure); this
module attaches the photos (streams/photo_pool.py: package photographs, JPEG-encoded once per
variant and re-used), writes the lines, and writes the bank manifest for the planted
missing-children photos (`--bank-out DIR`, loadable with `vigil bank add missing_children DIR`).
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from pathlib import Path

from streams.errors import CliError
from streams.evaluation.photo_pool import BANK_SOURCES, encoded, source_photo
from streams.evaluation.synthetic import (
    BANK_PHOTOS,
    DIFFICULTIES,
    SyntheticAd,
    harmless_looking_org,
    synthetic_ads,
)

assert set(BANK_PHOTOS) == set(BANK_SOURCES), "bank photo lists disagree"

BANK_CASE_DATE = "2026-01-15"


def with_images(item: SyntheticAd, images: bool) -> dict:
    """The raw ad, with its photos inline (`images[].data_b64`) unless `images` is false."""
    ad = item.ad
    if images and item.photos:
        ad = {**ad, "images": [{"data_b64": encoded(ref)} for ref in item.photos]}
        ad["ground_truth"] = ad.pop("ground_truth")  # keep ground truth last, for readers
    return ad


def generate_ads(n: int, seed: int = 1, difficulty: str = "easy",
                 images: bool = True, hubs: bool = False) -> Iterator[dict]:
    """`n` labelled raw ads in time order, deterministic for (n, seed, difficulty, hubs);
    without images the ads are the same apart from their `images` field."""
    for item in synthetic_ads(n, seed, difficulty, hubs):
        yield with_images(item, images)


def make_harmless_looking_org(n_ads: int = 40, n_cities: int = 5, seed: int = 0,
                              images: bool = True) -> list[dict]:
    """An organisation whose ads each look like a plain adult ad but share phones, a template
    and a photo across `n_cities` cities (label trafficking, one org_id)."""
    return [with_images(item, images) for item in harmless_looking_org(n_ads, n_cities, seed)]


def write_bank_manifest(directory: Path, seed: int = 1) -> Path:
    """The bank photos as PNG files plus manifest.csv (entry_id, case_id, source, date, file).

    The bank is the same for every seed (planted ads of any corpus match it); `seed` is kept
    for callers that pass one."""
    del seed
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    manifest = directory / "manifest.csv"
    with open(manifest, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["entry_id", "case_id", "source", "date", "file"])
        for i, name in enumerate(BANK_PHOTOS):
            path = directory / f"{name}.png"
            source_photo(name).save(path)
            writer.writerow([f"syn-mc-{i + 1:03d}", f"SYN-CASE-{1001 + i}", "synthetic",
                             BANK_CASE_DATE, path.name])
    return manifest


def _cmd_generate(args) -> int:
    if args.ads <= 0:
        raise CliError("--ads must be a positive number")
    to_stdout = args.out in (None, "-")
    try:
        out = sys.stdout if to_stdout else open(args.out, "w", encoding="utf-8")  # noqa: SIM115
    except OSError as exc:
        raise CliError(f"cannot write {args.out}: {exc.strerror}") from exc
    counts: dict[str, int] = {}
    try:
        for ad in generate_ads(args.ads, seed=args.seed, difficulty=args.difficulty,
                               images=args.images == "inline", hubs=args.hubs):
            out.write(json.dumps(ad, ensure_ascii=False) + "\n")
            label = ad["ground_truth"]["label"]
            counts[label] = counts.get(label, 0) + 1
    finally:
        if not to_stdout:
            out.close()
    summary = ", ".join(f"{label} {count}" for label, count in sorted(counts.items()))
    print(f"generate: {args.ads} ads ({summary})", file=sys.stderr)
    if args.bank_out:
        manifest = write_bank_manifest(Path(args.bank_out))
        print(f"generate: bank photos and manifest in {manifest}", file=sys.stderr)
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("generate", help="write synthetic labelled ads as JSON lines")
    p.add_argument("--ads", type=int, default=1000, help="how many ads (default 1000)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--difficulty", choices=DIFFICULTIES, default="easy",
                   help="hard adds benign look-alikes and indicator-light organisations")
    p.add_argument("--images", choices=["inline", "none"], default="inline",
                   help="inline: photos as data_b64 (default); none: no images field")
    p.add_argument("--hubs", action="store_true",
                   help="add identifiers unrelated advertisers share (motel front desks, booking "
                        "e-mails) to a fifth of independents' and organisations' ads")
    p.add_argument("--out", help="output file, or - for stdout (default)")
    p.add_argument("--bank-out", metavar="DIR",
                   help="also write the planted missing-children photos and manifest.csv here")
    p.set_defaults(func=_cmd_generate)
