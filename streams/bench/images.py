"""`vigil bench images`: how perceptual hashes survive re-posting, bank latency, hashing speed.

Photos: the real photographs shipped inside scikit-image and scikit-learn (no download).
Matching is measured exactly as production does it: a bank entry holds `bank_variants(photo)`
and an ad photo is queried with `query_variants(photo)`; the distance of a pair, per hash type,
is the smallest over those variants, and variants with PDQ quality < 50 never match.

False positives: pairs of distinct images. 18 photos give only 153 pairs, far too few to
resolve 1e-4, so each photo is also cut into non-overlapping tiles (2x2, 3x3, 4x4 grids);
pairs are tiles or photos from two different photos, plus tiles of the same photo and grid
(different regions). Tiles of one photo share colour and texture, so these negatives are
harder than random web photos would be, but they are not independent: the FPR resolution
printed (1 / pairs) is optimistic about how well 1e-4 is pinned down.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFont, ImageOps

from detectors.images.banks import (
    BITS,
    MATCH_KINDS,
    PARTS,
    SEARCHED_PARTS,
    THRESHOLDS,
    BankEntry,
    BankSet,
)
from detectors.images.hashindex import as_words, popcount_distance
from detectors.images.hashing import (
    PDQ_MIN_QUALITY,
    bank_variants,
    decode_image,
    query_variants,
)

SKIMAGE_PHOTOS = ["astronaut", "camera", "coffee", "chelsea", "rocket", "hubble_deep_field",
                  "immunohistochemistry", "coins", "moon", "brick", "grass", "gravel", "retina",
                  "cell", "clock"]
SKLEARN_PHOTOS = ["china.jpg", "flower.jpg"]
KINDS = ("pdq", "phash", "dhash")
COLUMNS = (*KINDS, "any")  # "any": what the bank matcher does (a match on any of MATCH_KINDS)
LABELS = {"pdq": "pdq", "phash": "phash", "dhash": "dhash", "any": "vigil"}
TARGET_FPR = 1e-4
NO_MATCH = 1 << 12  # distance given to variants that can never match (quality < 50)
# the "mild" edits: resize, JPEG >= 50, mirror, overlay, borders
MILD = ("resize 50%", "resize 25%", "jpeg q50", "jpeg q70", "jpeg q90", "mirror",
        "caption text", "text banner 10%", "watermark", "border 10%")


def load_photos() -> dict[str, Image.Image]:
    from importlib import resources

    from skimage import data

    photos = {}
    for name in SKIMAGE_PHOTOS:
        photos[name] = Image.fromarray(getattr(data, name)()).convert("RGB")
    photos["motorcycle"] = Image.fromarray(data.stereo_motorcycle()[0]).convert("RGB")
    for name in SKLEARN_PHOTOS:
        raw = resources.files("sklearn.datasets").joinpath("images", name).read_bytes()
        photos[name.split(".")[0]] = Image.open(io.BytesIO(raw)).convert("RGB")
    return photos


# ---------------------------------------------------------------- re-post edits


def _jpeg(img: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return decode_image(buf.getvalue())


def _crop(img: Image.Image, share: float) -> Image.Image:
    dx, dy = int(img.width * share / 2), int(img.height * share / 2)
    return img.crop((dx, dy, img.width - dx, img.height - dy))


def _font(img: Image.Image, share: float) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=max(10, int(img.height * share)))


def _banner(img: Image.Image, band: float) -> Image.Image:
    out = img.copy()
    draw = ImageDraw.Draw(out)
    h = int(img.height * band)
    draw.rectangle((0, img.height - h, img.width, img.height), fill=(20, 20, 20))
    draw.text((10, img.height - h + h // 8), "new in town, text me", fill=(255, 255, 255),
              font=_font(img, band * 0.6))
    return out


def _caption(img: Image.Image) -> Image.Image:
    out = img.copy()
    draw = ImageDraw.Draw(out)
    draw.text((img.width // 10, int(img.height * 0.75)), "555-0134 call now",
              fill=(255, 255, 255), font=_font(img, 0.08), stroke_width=2, stroke_fill=(0, 0, 0))
    return out


def _watermark(img: Image.Image) -> Image.Image:
    out = img.copy()
    draw = ImageDraw.Draw(out)
    font = _font(img, 0.04)
    step_y, step_x = max(img.height // 8, 20), max(img.width // 4, 60)
    for y in range(0, img.height, step_y):
        for x in range(0, img.width, step_x):
            draw.text((x, y), "CALL NOW", fill=(255, 255, 255), font=font)
    return out


def _border(img: Image.Image, share: float) -> Image.Image:
    return ImageOps.expand(img, border=int(max(img.size) * share), fill=(0, 0, 0))


def _screenshot(img: Image.Image) -> Image.Image:
    small = img.resize((img.width * 2 // 3, img.height * 2 // 3))
    canvas = Image.new("RGB", (small.width + 40, small.height + 160), (250, 250, 250))
    canvas.paste(small, (20, 80))
    buf = io.BytesIO()
    canvas.save(buf, "PNG")
    return _jpeg(decode_image(buf.getvalue()), 80)


EDITS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "resize 50%": lambda im: im.resize((im.width // 2, im.height // 2)),
    "resize 25%": lambda im: im.resize((im.width // 4, im.height // 4)),
    "jpeg q30": lambda im: _jpeg(im, 30),
    "jpeg q50": lambda im: _jpeg(im, 50),
    "jpeg q70": lambda im: _jpeg(im, 70),
    "jpeg q90": lambda im: _jpeg(im, 90),
    "mirror": ImageOps.mirror,
    "caption text": _caption,
    "text banner 10%": lambda im: _banner(im, 0.10),
    "watermark": _watermark,
    "border 10%": lambda im: _border(im, 0.10),
    "brightness +30%": lambda im: ImageEnhance.Brightness(im).enhance(1.3),
    "contrast +30%": lambda im: ImageEnhance.Contrast(im).enhance(1.3),
    "crop 5%": lambda im: _crop(im, 0.05),
    "crop 10%": lambda im: _crop(im, 0.10),
    "crop 20%": lambda im: _crop(im, 0.20),
    "rotate 2deg": lambda im: im.rotate(2, resample=Image.BILINEAR, expand=False),
    "rotate 5deg": lambda im: im.rotate(5, resample=Image.BILINEAR, expand=False),
    "screenshot": _screenshot,
}


# ---------------------------------------------------------------- distances


@dataclass
class HashArrays:
    """Per hash type, (images, variants, words) uint64 codes and a (images, variants) mask of
    variants that may match (PDQ quality >= 50)."""

    words: dict[str, np.ndarray]
    usable: np.ndarray

    @classmethod
    def of(cls, variant_lists: list[list[dict]]) -> HashArrays:
        width = max(len(v) for v in variant_lists)
        usable = np.zeros((len(variant_lists), width), dtype=bool)
        words = {}
        for kind in KINDS:
            nbytes = BITS[kind] // 8
            raw = np.zeros((len(variant_lists), width, nbytes), dtype=np.uint8)
            for i, variants in enumerate(variant_lists):
                for j, v in enumerate(variants):
                    raw[i, j] = np.frombuffer(bytes.fromhex(v[kind]), dtype=np.uint8)
                    usable[i, j] = v["pdq_quality"] >= PDQ_MIN_QUALITY
            words[kind] = raw.view(np.uint64)
        return cls(words, usable)


def min_distances(queries: HashArrays, bank: HashArrays, kind: str) -> np.ndarray:
    """(queries, bank) matrix: smallest distance over every usable query x bank variant."""
    q, b = queries.words[kind], bank.words[kind]
    out = np.full((len(q), len(b)), NO_MATCH, dtype=np.int64)
    for i in range(len(q)):
        d = np.bitwise_count(q[i][:, None, None, :] ^ b[None, :, :, :]).sum(-1, dtype=np.int64)
        mask = queries.usable[i][:, None, None] & bank.usable[None, :, :]
        d = np.where(mask, d, NO_MATCH)
        out[i] = d.min(axis=(0, 2))
    return out


def distinct_pieces(photos: dict[str, Image.Image], grids: tuple[int, ...]) -> list[tuple]:
    """(photo, grid, image) for every photo (grid 1) and its non-overlapping tiles."""
    out = []
    for name, img in photos.items():
        out.append((name, 1, img))
        for g in grids:
            w, h = img.width // g, img.height // g
            out.extend((name, g, img.crop((c * w, r * h, (c + 1) * w, (r + 1) * h)))
                       for r in range(g) for c in range(g))
    return out


def robustness(photos: dict[str, Image.Image], grids: tuple[int, ...]) -> dict:
    """FPR per hash type on distinct pairs, the largest threshold keeping FPR <= 1e-4, and TPR
    per edit. A photo whose bank entry has PDQ quality < 50 can never match (`vigil bank add`
    warns about it) and is left out of the TPR; a re-post whose quality drops under 50 counts
    as a miss."""
    pieces = distinct_pieces(photos, grids)
    queries = HashArrays.of([query_variants(img) for _, _, img in pieces])
    bank = HashArrays.of([bank_variants(img) for _, _, img in pieces])
    usable = queries.usable.any(axis=1) & bank.usable.any(axis=1)
    photo = np.array([p[0] for p in pieces])
    grid = np.array([p[1] for p in pieces])
    i, j = np.triu_indices(len(pieces), k=1)
    both = usable[i] & usable[j]
    cross = (photo[i] != photo[j]) & both  # the FPR pairs: regions of two different photos
    same = (photo[i] == photo[j]) & (grid[i] == grid[j]) & (grid[i] > 1) & both  # harder
    distances = {k: min_distances(queries, bank, k)[i, j] for k in KINDS}
    negatives = {k: d[cross] for k, d in distances.items()}
    hard = {k: d[same] for k, d in distances.items()}
    pairs = int(cross.sum())
    fpr, ceiling, hard_fpr = {}, {}, {}
    for k in KINDS:
        d = np.sort(negatives[k])
        allowed = int(np.floor(TARGET_FPR * pairs))  # false pairs we may have at FPR <= 1e-4
        ceiling[k] = int(d[allowed] - 1) if allowed < pairs else BITS[k]
        fpr[k] = float(np.mean(negatives[k] <= THRESHOLDS[k]))
        hard_fpr[k] = float(np.mean(hard[k] <= THRESHOLDS[k]))
    fpr["any"] = float(np.mean(np.any([negatives[k] <= THRESHOLDS[k] for k in MATCH_KINDS],
                                      axis=0)))
    hard_fpr["any"] = float(np.mean(np.any([hard[k] <= THRESHOLDS[k] for k in MATCH_KINDS],
                                           axis=0)))
    nearest = {k: int(negatives[k].min()) for k in KINDS}

    originals_bank = HashArrays.of([bank_variants(img) for img in photos.values()])
    matchable = originals_bank.usable.any(axis=1)
    originals = [img for img, ok in zip(photos.values(), matchable, strict=True) if ok]
    originals_bank = HashArrays.of([bank_variants(img) for img in originals])
    tpr, tpr_at_ceiling = {}, {}
    for name, edit in EDITS.items():
        edited = HashArrays.of([query_variants(edit(img)) for img in originals])
        dist = {k: np.diagonal(min_distances(edited, originals_bank, k)) for k in KINDS}
        hits = {k: dist[k] <= THRESHOLDS[k] for k in KINDS}
        hits["any"] = np.any([hits[k] for k in MATCH_KINDS], axis=0)
        tpr[name] = {k: float(np.mean(hits[k])) for k in COLUMNS} | {"n": len(originals)}
        tpr_at_ceiling[name] = {k: float(np.mean(dist[k] <= ceiling[k])) for k in KINDS}
    return {"pieces": len(pieces), "usable": int(usable.sum()), "pairs": pairs,
            "hard_pairs": int(same.sum()), "hard_fpr": hard_fpr, "fpr": fpr,
            "ceiling": ceiling, "nearest": nearest, "tpr": tpr, "tpr_at_ceiling": tpr_at_ceiling,
            "unmatchable": [n for n, ok in zip(photos, matchable, strict=True) if not ok]}


# ---------------------------------------------------------------- bank latency


def synthetic_bank(size: int, variants: dict[str, int], rng: np.random.Generator) -> BankSet:
    """`size` entries of random codes, with `variants[part]` codes per entry, part and type."""
    entries = [BankEntry("bench", f"e{n}") for n in range(size)]
    codes = {}
    for part, count in variants.items():
        labels = np.repeat(np.arange(size, dtype=np.int64), count)
        for kind in MATCH_KINDS:
            codes[(kind, part)] = (
                rng.integers(0, 256, (size * count, BITS[kind] // 8), dtype=np.uint8), labels)
    return BankSet.from_codes(entries, codes)


def _flip(code: np.ndarray, bits: int, rng: np.random.Generator) -> np.ndarray:
    out = code.copy()
    for b in rng.choice(out.size * 8, bits, replace=False):
        out[b // 8] ^= np.uint8(1 << (b % 8))
    return out


def _query(bank: BankSet, rng, planted: int | None, parts: list[str]) -> list[dict]:
    """Hash sets like `query_variants` gives; with `planted`, the full photo's hashes are a
    few bits from one of that entry's stored codes."""
    out = []
    for part in parts:
        hashes = {"pdq_quality": 100, "part": part}
        for kind in MATCH_KINDS:
            if planted is not None and part == "full":
                index = bank._indexes[(kind, "full")]
                per_entry = len(index._codes) // len(bank)
                base = index._codes[planted * per_entry + int(rng.integers(per_entry))]
                code = _flip(base, 12 if kind == "pdq" else 3, rng)
            else:
                code = rng.integers(0, 256, BITS[kind] // 8, dtype=np.uint8)
            hashes[kind] = code.tobytes().hex()
        out.append(hashes)
    return out


def _linear_match(bank: BankSet, queries: list[dict]) -> set[int]:
    """The baseline: the same match by a full numpy scan of every stored code."""
    found = set()
    for hashes in queries:
        for kind in MATCH_KINDS:
            code = np.frombuffer(bytes.fromhex(hashes[kind]), dtype=np.uint8)
            for part in SEARCHED_PARTS[hashes["part"]]:
                index = bank._indexes[(kind, part)]
                dist = popcount_distance(as_words(index._codes),
                                         as_words(code.reshape(1, -1))[0])
                found.update(index._labels[dist <= bank.thresholds[kind]].tolist())
    return found


def bank_latency(sizes: list[int], variants: dict[str, int], parts: list[str],
                 queries: int = 400, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = []
    for size in sizes:
        started = time.perf_counter()
        bank = synthetic_bank(size, variants, rng)
        build_s = time.perf_counter() - started
        times, cpu_times, found, planted_count = [], [], 0, 0
        for n in range(queries):
            planted = int(rng.integers(size)) if n % 2 == 0 else None
            query = _query(bank, rng, planted, parts)
            t0, c0 = time.perf_counter(), time.thread_time()
            result = bank.matches(*query)
            cpu_times.append(time.thread_time() - c0)
            times.append(time.perf_counter() - t0)
            if planted is not None:
                planted_count += 1
                found += any(m.entry_id == f"e{planted}" for m in result)
        baseline = []
        for _ in range(3 if size >= 1_000_000 else 10):
            query = _query(bank, rng, int(rng.integers(size)), parts)
            t0 = time.perf_counter()
            _linear_match(bank, query)
            baseline.append(time.perf_counter() - t0)
        rows.append({"size": size, "codes": size * sum(variants.values()),
                     "p50_ms": 1e3 * float(np.percentile(times, 50)),
                     "p99_ms": 1e3 * float(np.percentile(times, 99)),
                     "cpu_p50_ms": 1e3 * float(np.percentile(cpu_times, 50)),
                     "cpu_p99_ms": 1e3 * float(np.percentile(cpu_times, 99)),
                     "scan_p50_ms": 1e3 * float(np.percentile(baseline, 50)),
                     "recall": found / max(planted_count, 1), "build_s": build_s,
                     "memory_mb": bank.memory_bytes / 2**20})
        del bank
    return rows


# ---------------------------------------------------------------- hashing speed


def hashing_speed(photos: dict[str, Image.Image], seconds: float) -> dict[str, float]:
    """Images per second on 512-px JPEGs: decode only, decode + query hashes, bank variants."""
    blobs = []
    for img in photos.values():
        buf = io.BytesIO()
        img.resize((512, 512)).save(buf, "JPEG", quality=85)
        blobs.append(buf.getvalue())

    def rate(fn, budget: float) -> float:
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < budget:
            fn(blobs[n % len(blobs)])
            n += 1
        return n / (time.perf_counter() - t0)

    return {"decode": rate(lambda b: decode_image(b).load(), seconds),
            "query": rate(lambda b: query_variants(decode_image(b)), seconds),
            "bank": rate(lambda b: bank_variants(decode_image(b)), seconds / 2)}


# ---------------------------------------------------------------- report


def _print_robustness(r: dict) -> bool:
    print(f"distinct images: {r['pieces']} (photos and their non-overlapping tiles), "
          f"{r['usable']} with PDQ quality >= {PDQ_MIN_QUALITY} (the rest never match); "
          f"{r['pairs']} pairs from two different photos, so FPR resolution "
          f"{1 / r['pairs']:.1e}")
    print(f"bank photos too flat to ever match (quality < {PDQ_MIN_QUALITY}), left out of TPR: "
          f"{', '.join(r['unmatchable']) or 'none'}")
    print(f"\n'vigil' = what BankSet.match does: a match on any of {', '.join(MATCH_KINDS)}")
    print(f"{'':<22}" + "".join(f"{LABELS[k]:>8}" for k in COLUMNS))
    print(f"{'threshold (vigil)':<22}" + "".join(f"{THRESHOLDS.get(k, '-'):>8}" for k in COLUMNS))
    print(f"{'FPR at it':<22}" + "".join(f"{r['fpr'][k]:>8.1e}" for k in COLUMNS))
    print(f"{'largest t, FPR<=1e-4':<22}" + "".join(f"{r['ceiling'][k]:>8}" for k in KINDS)
          + f"{'-':>8}")
    print(f"{'nearest distinct pair':<22}" + "".join(f"{r['nearest'][k]:>8}" for k in KINDS)
          + f"{'-':>8}")
    print(f"{'FPR same-photo tiles':<22}" + "".join(f"{r['hard_fpr'][k]:>8.1e}" for k in COLUMNS)
          + f"   ({r['hard_pairs']} pairs of different regions of one photo: harder, e.g. the "
          "quadrants of the round retina photo mirror each other)")
    print(f"\n{'TPR at vigil threshold':<22}" + "".join(f"{LABELS[k]:>8}" for k in COLUMNS)
          + f"{'photos':>8}")
    tpr = r["tpr"]
    for name, row in tpr.items():
        mark = "*" if name in MILD else " "
        print(f"{mark}{name:<21}" + "".join(f"{row[k]:>8.2f}" for k in COLUMNS)
              + f"{row['n']:>8}")
    mild = {k: float(np.mean([tpr[e][k] for e in MILD])) for k in COLUMNS}
    worst = {k: min(tpr[e][k] for e in MILD) for k in COLUMNS}
    every = {k: float(np.mean([row[k] for row in tpr.values()])) for k in COLUMNS}
    print(f"{'mild edits (*), mean':<22}" + "".join(f"{mild[k]:>8.2f}" for k in COLUMNS))
    print(f"{'mild edits (*), worst':<22}" + "".join(f"{worst[k]:>8.2f}" for k in COLUMNS))
    print(f"{'every edit, mean':<22}" + "".join(f"{every[k]:>8.2f}" for k in COLUMNS))
    at_ceiling = {k: float(np.mean([r["tpr_at_ceiling"][e][k] for e in EDITS])) for k in KINDS}
    print(f"{'every edit at largest t':<22}" + "".join(f"{at_ceiling[k]:>8.2f}" for k in KINDS))
    ok = r["fpr"]["pdq"] <= TARGET_FPR and mild["pdq"] >= 0.95
    print(f"PDQ mean TPR on mild edits >= 0.95 at FPR <= 1e-4: {'met' if ok else 'NOT met'} "
          f"({mild['pdq']:.3f} at FPR {r['fpr']['pdq']:.1e})")
    return ok


def run_bench(args) -> int:
    photos = load_photos()
    started = time.perf_counter()
    print(f"images benchmark: {len(photos)} real photographs from scikit-image and scikit-learn; "
          f"{len(bank_variants(photos['coffee']))} hash sets per bank entry, "
          f"{len(query_variants(photos['coffee']))} per queried photo")
    grids = (2, 3) if args.quick else (2, 3, 4)
    _print_robustness(robustness(photos, grids))
    print(f"(robustness: {time.perf_counter() - started:.0f} s)")

    sizes = [10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000]
    stored = bank_variants(photos["coffee"])
    variants = {part: sum(v["part"] == part for v in stored) for part in PARTS}
    parts = [q["part"] for q in query_variants(photos["coffee"])]
    print(f"\nbank look-up: BankSet.match of one photo ({len(parts)} hash sets: "
          f"{', '.join(parts)}) on one thread; each entry stores "
          f"{', '.join(f'{n} {p}' for p, n in variants.items())} codes per hash type "
          f"({', '.join(MATCH_KINDS)}); random codes, half the queries planted near an entry; "
          "baseline: the same look-up as a numpy scan of every code")
    print("wall = elapsed time; cpu = this thread's CPU time (what one core spends, whatever "
          "else the machine runs)")
    print(f"{'entries':>10}{'codes/type':>12}{'wall p50':>9}{'p99':>7}{'cpu p50':>9}{'p99':>7}"
          f"{'scan p50':>10}{'speed-up':>10}{'recall':>8}{'build s':>9}{'index MB':>10}")
    for row in bank_latency(sizes, variants, parts, queries=200 if args.quick else 400):
        print(f"{row['size']:>10}{row['codes']:>12}{row['p50_ms']:>9.2f}{row['p99_ms']:>7.2f}"
              f"{row['cpu_p50_ms']:>9.2f}{row['cpu_p99_ms']:>7.2f}{row['scan_p50_ms']:>10.1f}"
              f"{row['scan_p50_ms'] / row['p50_ms']:>9.0f}x{row['recall']:>8.2f}"
              f"{row['build_s']:>9.1f}{row['memory_mb']:>10.0f}", flush=True)
    print("(milliseconds; speed-up = numpy scan p50 / index wall p50)")
    speed = hashing_speed(photos, seconds=1.0 if args.quick else 3.0)
    print(f"\nimages per second on one core (512-px JPEG): decode only {speed['decode']:.0f}; "
          f"decode + query hashes {speed['query']:.0f} "
          f"({speed['decode'] / speed['query']:.1f}x the decode cost); "
          f"bank entry (decode + {len(stored)} hash sets) {speed['bank']:.0f}")
    print(f"(total {time.perf_counter() - started:.0f} s)")
    return 0


def register_bench(subparsers) -> None:
    p = subparsers.add_parser("images", help="hash robustness, bank latency, hashing speed")
    p.add_argument("--quick", action="store_true",
                   help="fewer tiles, no 1M bank, shorter timings (for CI)")
    p.set_defaults(func=run_bench)
