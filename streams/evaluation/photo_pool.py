"""Photos for the synthetic corpus: real photographs shipped inside PyPI packages, never downloaded.

Two sets, disjoint by source photo:
- the *bank* set (`BANK_SOURCES`): whole photos standing in for a missing-children hash list;
  `vigil generate --bank-out` writes them, planted ads carry re-encoded, mirrored copies;
- the *ad pool*: square crops of the other photos, each a distinct photo to perceptual hashes
  (pairwise, mirrors included, and against every flip/rotation of the bank photos), so ads that
  share a pool photo are linked only because the generator meant them to be. The crop boxes
  are data (streams/evaluation/synthetic_photos.json); rebuild with `python -m streams.evaluation.photo_pool`.

No photo of a person is used (no faces: scikit-image's astronaut, camera and lfw are left out).
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import sys
from functools import cache
from pathlib import Path

import numpy as np
import skimage.data
import sklearn.datasets
from PIL import Image, ImageOps

from streams.evaluation.synthetic import PHOTO_POOL_PATH, PhotoRef, photo_pool

PHOTO_SIZE = 256  # side of every ad photo, px
_SKIMAGE_DIR = Path(skimage.data.__file__).parent
_SKLEARN_DIR = Path(sklearn.datasets.__file__).parent / "images"

# name -> file inside an installed package
SOURCE_FILES = {
    "chelsea": _SKIMAGE_DIR / "chelsea.png",
    "coffee": _SKIMAGE_DIR / "coffee.png",
    "rocket": _SKIMAGE_DIR / "rocket.jpg",
    "hubble_deep_field": _SKIMAGE_DIR / "hubble_deep_field.jpg",
    "retina": _SKIMAGE_DIR / "retina.jpg",
    "motorcycle_left": _SKIMAGE_DIR / "motorcycle_left.png",
    "ihc": _SKIMAGE_DIR / "ihc.png",
    "cell": _SKIMAGE_DIR / "cell.png",
    "moon": _SKIMAGE_DIR / "moon.png",
    "coins": _SKIMAGE_DIR / "coins.png",
    "brick": _SKIMAGE_DIR / "brick.png",
    "grass": _SKIMAGE_DIR / "grass.png",
    "gravel": _SKIMAGE_DIR / "gravel.png",
    "china": _SKLEARN_DIR / "china.jpg",
    "flower": _SKLEARN_DIR / "flower.jpg",
    "motorcycle_right": _SKIMAGE_DIR / "motorcycle_right.png",
    "page": _SKIMAGE_DIR / "page.png",
    "text": _SKIMAGE_DIR / "text.png",
    "clock_motion": _SKIMAGE_DIR / "clock_motion.png",
}
BANK_SOURCES = ("chelsea", "coffee", "rocket")
POOL_SOURCES = tuple(name for name in SOURCE_FILES if name not in BANK_SOURCES)

# the build's margins over the matcher's thresholds (PDQ 31, pHash 10, dHash 10)
MIN_PDQ_QUALITY = 60
MIN_DISTANCE = {"pdq": 50, "phash": 16, "dhash": 16}


@cache
def source_photo(name: str) -> Image.Image:
    """One package photo, as RGB."""
    with Image.open(SOURCE_FILES[name]) as img:
        return img.convert("RGB")


@cache
def pool_photo(photo_id: str) -> Image.Image:
    """A pool photo (a crop of a package photo) at PHOTO_SIZE."""
    entry = photo_pool()[photo_id]
    return source_photo(entry["source"]).crop(tuple(entry["box"])).resize(
        (PHOTO_SIZE, PHOTO_SIZE), Image.LANCZOS)


@cache
def bank_photo(name: str) -> Image.Image:
    """A bank photo scaled to at most PHOTO_SIZE on its long side."""
    img = source_photo(name).copy()
    img.thumbnail((PHOTO_SIZE, PHOTO_SIZE), Image.LANCZOS)
    return img


def variant(img: Image.Image, ref: PhotoRef) -> Image.Image:
    """A re-post edit of a photo: mirrored and/or cropped by `ref.crop` px on each side."""
    if ref.mirror:
        img = ImageOps.mirror(img)
    if ref.crop:
        c = ref.crop
        img = img.crop((c, c, img.width - c, img.height - c))
    return img


@cache
def encoded(ref: PhotoRef) -> str:
    """The base64 JPEG of one photo variant (cached: a corpus re-uses a few hundred variants)."""
    base = bank_photo(ref.photo_id) if ref.bank else pool_photo(ref.photo_id)
    buf = io.BytesIO()
    variant(base, ref).save(buf, "JPEG", quality=ref.quality)
    return base64.b64encode(buf.getvalue()).decode("ascii")


# --- building the pool (offline, once; the result is committed as data) ---------------------

def _bits(hex_strings: list[str]) -> np.ndarray:
    return np.unpackbits(np.frombuffer(bytes.fromhex("".join(hex_strings)), dtype=np.uint8)
                         .reshape(len(hex_strings), -1), axis=1)


def _candidates(name: str) -> list[tuple[int, int, int, int]]:
    width, height = source_photo(name).size
    boxes = []
    short = min(width, height)
    for fraction in (0.8, 0.6, 0.45, 0.35, 0.27, 0.2):
        size = int(short * fraction)
        if size < 72:
            continue
        stride = max(size // 4, 18)
        for y in range(0, height - size + 1, stride):
            for x in range(0, width - size + 1, stride):
                boxes.append((x, y, x + size, y + size))
    return boxes


def build_pool() -> list[dict]:
    """Crops of the pool sources that are distinct from each other and from the bank photos."""
    from detectors.images.hashing import dihedral_hashes, hash_image

    kinds = ("pdq", "phash", "dhash")
    forbidden = {k: [] for k in kinds}  # bank flips/rotations and every accepted photo's mirror
    for name in BANK_SOURCES:
        for hashes in dihedral_hashes(bank_photo(name)):
            for k in kinds:
                forbidden[k].append(hashes[k])
    accepted: list[dict] = []
    for name in POOL_SOURCES:
        for box in _candidates(name):
            img = source_photo(name).crop(box).resize((PHOTO_SIZE, PHOTO_SIZE), Image.LANCZOS)
            plain = hash_image(img, trim=False)
            if plain["pdq_quality"] < MIN_PDQ_QUALITY:
                continue
            mirrored = hash_image(ImageOps.mirror(img), trim=False)
            if forbidden["pdq"] and any(
                (_bits([h[k] for h in (plain, mirrored)])[:, None, :]
                 != _bits(forbidden[k])[None, :, :]).sum(axis=2).min() < MIN_DISTANCE[k]
                for k in kinds
            ):
                continue
            accepted.append({"id": f"p{len(accepted):04d}", "source": name, "box": list(box)})
            for k in kinds:
                forbidden[k] += [plain[k], mirrored[k]]
        print(f"{name}: {sum(e['source'] == name for e in accepted)} photos", file=sys.stderr)
    return accepted


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="rebuild the synthetic corpus's photo pool")
    parser.add_argument("--out", default=str(PHOTO_POOL_PATH))
    args = parser.parse_args(argv)
    pool = build_pool()
    rows = ",\n".join(json.dumps(entry) for entry in pool)  # one photo a line: readable diffs
    Path(args.out).write_text(f'{{"photo_size": {PHOTO_SIZE}, "photos": [\n{rows}\n]}}\n')
    print(f"{len(pool)} photos -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
