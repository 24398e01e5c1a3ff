"""Images: safe decoding, perceptual hashes (PDQ, pHash, dHash), per-image errors.

No face recognition: photos are compared by perceptual hash only. Decoding sniffs the content
(not the extension), caps bytes and pixels (Pillow's decompression-bomb guard included),
decodes JPEGs in draft mode at the size the hashes need, applies EXIF orientation, takes the
first frame of animations and converts CMYK / 16-bit / palette images to RGB. Every failure is
an `ImageFetchError` that becomes a per-image error on the ad, never a failed ad.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import warnings
from collections.abc import Callable

import imagehash
import numpy as np
import pdqhash
from PIL import Image, ImageChops, ImageOps, UnidentifiedImageError

MAX_IMAGE_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000
HASH_SIZE = 256  # PDQ works on 64..512 px; this is plenty and fast
PDQ_MIN_QUALITY = 50  # ThreatExchange's default: lower-quality hashes are not matched

# magic bytes of the formats we accept; anything else (SVG, HTML, text ...) is refused
_SIGNATURES = {
    b"\xff\xd8\xff": "JPEG",
    b"\x89PNG\r\n\x1a\n": "PNG",
    b"GIF87a": "GIF",
    b"GIF89a": "GIF",
    b"BM": "BMP",
    b"II*\x00": "TIFF",
    b"MM\x00*": "TIFF",
}

Image.MAX_IMAGE_PIXELS = MAX_PIXELS


class ImageFetchError(Exception):
    """A per-image problem: a stable `code` and a `detail` that says what was wrong."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code, self.detail = code, detail


def image_ref(image: dict) -> str:
    """How evidence refers to an image: its URL, or a digest of inline data."""
    if image.get("url"):
        return image["url"]
    digest = hashlib.sha256((image.get("data_b64") or "").encode()).hexdigest()[:16]
    return f"inline:{digest}"


def sniff_format(data: bytes) -> str | None:
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    for magic, fmt in _SIGNATURES.items():
        if data.startswith(magic):
            return fmt
    return None


def decode_image(data: bytes, *, max_bytes: int = MAX_IMAGE_BYTES) -> Image.Image:
    """RGB image from bytes, or ImageFetchError with a clear code."""
    if not data:
        raise ImageFetchError("empty", "zero-byte image")
    if len(data) > max_bytes:
        raise ImageFetchError("too_large", f"{len(data)} bytes, over the {max_bytes}-byte cap")
    fmt = sniff_format(data)
    if fmt is None:
        head = data[:64].lstrip().lower()
        kind = "SVG/XML" if head.startswith((b"<svg", b"<?xml")) else (
            "HTML" if head.startswith((b"<!doctype", b"<html")) else "unknown")
        raise ImageFetchError("not_an_image", f"content is {kind}, not a JPEG/PNG/GIF/WebP/BMP/TIFF")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=[fmt])
            if img.width * img.height > MAX_PIXELS:
                raise ImageFetchError("too_many_pixels",
                                      f"{img.width}x{img.height} is over {MAX_PIXELS} pixels")
            if fmt == "JPEG":
                img.draft("RGB", (HASH_SIZE * 2, HASH_SIZE * 2))
            if getattr(img, "is_animated", False):
                img.seek(0)
            img = ImageOps.exif_transpose(img)
            img.load()
    except ImageFetchError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageFetchError("too_many_pixels", str(exc)[:200]) from exc
    except UnidentifiedImageError as exc:
        raise ImageFetchError("not_an_image", f"{fmt} signature but undecodable: {exc}"[:200]) from exc
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise ImageFetchError("corrupt", f"{fmt} is truncated or corrupt: {exc}"[:200]) from exc
    return _to_rgb(img)


def _to_rgb(img: Image.Image) -> Image.Image:
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        span = max(float(arr.max() - arr.min()), 1.0)
        img = Image.fromarray(((arr - arr.min()) * 255.0 / span).astype(np.uint8))
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.split()[3])
        return background
    return img.convert("RGB")


def trim_borders(img: Image.Image, tolerance: int = 12) -> Image.Image:
    """Cut uniform borders (padding, letterboxing) so a bordered re-post hashes like the photo."""
    w, h = img.size
    corners = [img.getpixel(xy) for xy in ((0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1))]
    corner = corners[0]
    if any(max(abs(a - b) for a, b in zip(c, corner, strict=True)) > tolerance for c in corners):
        return img  # the corners disagree: no uniform border to cut
    background = Image.new(img.mode, img.size, corner)
    diff = ImageChops.difference(img, background).convert("L").point(
        lambda v: 255 if v > tolerance else 0)
    box = diff.getbbox()
    if not box:
        return img
    w, h = box[2] - box[0], box[3] - box[1]
    if w < img.width * 0.5 or h < img.height * 0.5 or (w, h) == img.size:
        return img  # not a border, or nothing to trim
    return img.crop(box)


def _pdq(img: Image.Image) -> tuple[str, int]:
    arr = np.asarray(img.resize((HASH_SIZE, HASH_SIZE), Image.BILINEAR))
    vec, quality = pdqhash.compute(arr)
    return np.packbits(vec.astype(np.uint8)).tobytes().hex(), int(quality)


def hash_image(img: Image.Image, *, trim: bool = True) -> dict:
    """PDQ (256-bit, with quality), pHash and dHash (64-bit) as hex strings."""
    if trim:
        img = trim_borders(img)
    small = img.resize((HASH_SIZE, HASH_SIZE), Image.BILINEAR) if max(img.size) > HASH_SIZE else img
    pdq, quality = _pdq(small)
    return {"pdq": pdq, "pdq_quality": quality, "phash": str(imagehash.phash(small)),
            "dhash": str(imagehash.dhash(small))}


CENTRE_SHARE = 0.8  # centre crop kept on both sides: cuts banners, captions and light crops


def centre_crop(img: Image.Image, share: float = CENTRE_SHARE) -> Image.Image:
    dx, dy = int(img.width * (1 - share) / 2), int(img.height * (1 - share) / 2)
    return img.crop((dx, dy, img.width - dx, img.height - dy))


def bank_variants(img: Image.Image) -> list[dict]:
    """What a bank stores per photo: the dihedral variants of the photo and of its centre crop,
    so mirrored, rotated, captioned and lightly cropped re-posts still match."""
    img = trim_borders(img)
    return dihedral_hashes(img) + dihedral_hashes(centre_crop(img))


def query_variants(img: Image.Image) -> list[dict]:
    """What an ad photo is matched with: its hashes and those of its centre crop."""
    img = trim_borders(img)
    return [hash_image(img, trim=False), hash_image(centre_crop(img), trim=False)]


def dihedral_hashes(img: Image.Image) -> list[dict]:
    """Hashes of the 8 flips/rotations of an image (for bank entries: mirrored re-posts match)."""
    img = trim_borders(img)
    small = img.resize((HASH_SIZE, HASH_SIZE), Image.BILINEAR)
    out = []
    for base in (small, ImageOps.mirror(small)):
        for angle in (0, 90, 180, 270):
            out.append(hash_image(base.rotate(angle, expand=True), trim=False))
    return out


def photo_key(hashes: dict) -> str | None:
    """A coarse key for the re-use index: photos whose dHash agrees exactly share a key.

    Exact dHash equality groups re-encodes and resizes of one photo (dHash survives them);
    crops, mirrors and overlays usually change it, which the bank matcher (Hamming distance)
    handles instead. Low-information images (flat, PDQ quality < 50) get no key."""
    if hashes.get("pdq_quality", 0) < PDQ_MIN_QUALITY:
        return None
    return hashes.get("dhash")


def inline_fetch(image: dict) -> bytes:
    """Bytes of an inline image; the shell supplies fetchers for URLs and files."""
    if "data_b64" not in image:
        raise ImageFetchError("no_fetcher", "only inline (data_b64) images can be read here")
    try:
        return base64.b64decode(image["data_b64"], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ImageFetchError("bad_base64", f"data_b64 is not valid base64: {exc}") from exc


def analyse_ad_images(images: list[dict], *, fetch: Callable[[dict], bytes] | None,
                      banks=None) -> dict:
    """Hash every image of an ad and match it against the banks; errors are per image."""
    out: dict[str, list] = {"images": [], "errors": [], "matches": []}
    for index, image in enumerate(images):
        ref = image_ref(image)
        try:
            queries = query_variants(decode_image((fetch or inline_fetch)(image)))
        except ImageFetchError as exc:
            out["errors"].append({"index": index, "ref": ref, "error": exc.code,
                                  "detail": exc.detail})
            continue
        out["images"].append({"index": index, "ref": ref, **queries[0]})
        if banks is not None:
            for match in banks.match(*queries):
                out["matches"].append({**match, "image_index": index, "image_ref": ref})
    return out
