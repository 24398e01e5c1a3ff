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
MAX_PIXELS = 40_000_000  # refused from the header, before any pixel is decoded
MAX_IMAGES_PER_AD = 20  # images past this are reported as errors, not fetched
HASH_SIZE = 256  # images are reduced to at most this before hashing (JPEGs decode in draft mode)
# PDQ is computed on a 64x64 reduction: at that size PDQ's own down-sampling is the identity, so
# (a) a 25 % resize hashes like the original (on 256 px inputs one photo in 17 missed), and
# (b) the eight hashes `pdqhash.compute_dihedral` derives from one DCT equal those of the flipped
# and rotated images exactly (on 256 px inputs they differ by 18-32 bits), should query-side
# variants ever be wanted.
PDQ_INPUT_SIZE = 64
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


class ImageFetchError(Exception):
    """A per-image problem: a stable `code` and a `detail` that says what was wrong."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code, self.detail = code, detail


def image_ref(image: dict) -> str:
    """How evidence refers to an image: its URL, or a digest of inline data."""
    if isinstance(image.get("url"), str) and image["url"]:
        return image["url"]
    data = image.get("data_b64")
    digest = hashlib.sha256(data.encode() if isinstance(data, str) else b"").hexdigest()[:16]
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
                img.draft("RGB", (HASH_SIZE * 2, HASH_SIZE * 2))  # DCT scaling, 1/2 .. 1/8
            if getattr(img, "is_animated", False):
                img.seek(0)  # the first frame of an animation
            img = ImageOps.exif_transpose(img)
            img.load()
            return _to_rgb(img)
    except ImageFetchError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageFetchError("too_many_pixels", str(exc)[:200]) from exc
    except UnidentifiedImageError as exc:
        raise ImageFetchError("not_an_image",
                              f"{fmt} signature but undecodable: {exc}"[:200]) from exc
    except MemoryError as exc:
        raise ImageFetchError("too_many_pixels", f"{fmt} needs too much memory to decode") from exc
    except Exception as exc:  # noqa: BLE001 - hostile files make Pillow raise many types
        raise ImageFetchError("corrupt", f"{fmt} is truncated or corrupt: "
                                         f"{type(exc).__name__}: {exc}"[:200]) from exc


def _to_rgb(img: Image.Image) -> Image.Image:
    """8-bit RGB from any mode: 16-bit and 32-bit grey are rescaled to their own range, alpha
    is flattened on white, CMYK and palettes are converted."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        if max(img.size) > HASH_SIZE * 2:
            img = img.convert("F") if img.mode != "F" else img
            img.thumbnail((HASH_SIZE * 2, HASH_SIZE * 2))
        arr = np.asarray(img, dtype=np.float64)
        low, span = float(arr.min()), max(float(arr.max() - arr.min()), 1.0)
        img = Image.fromarray(((arr - low) * (255.0 / span)).astype(np.uint8))
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
            img.mode == "P" and "transparency" in img.info):
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


def _pdq_input(img: Image.Image) -> np.ndarray:
    return np.asarray(img.resize((PDQ_INPUT_SIZE, PDQ_INPUT_SIZE), Image.BILINEAR))


def _pdq_hex(bits: np.ndarray) -> str:
    return np.packbits(bits.astype(np.uint8)).tobytes().hex()


def _pdq(img: Image.Image) -> tuple[str, int]:
    vec, quality = pdqhash.compute(_pdq_input(img))
    return _pdq_hex(vec), int(quality)


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


HASH_FIELDS = ("pdq", "pdq_quality", "phash", "dhash")


def bank_variants(img: Image.Image) -> list[dict]:
    """What a bank stores per photo: the 8 dihedral variants (flips, 90-degree rotations) of
    the photo, tagged part "full", and its centre crop and the crop's mirror, part "centre".

    A query's full photo is compared with both parts (the centre part catches a re-post cropped
    by ~20 %); its centre crop only with the centre part (a caption or banner at the edge is cut
    off on both sides). The benchmark found no edit where the crop's 90-degree rotations or a
    query-crop-to-full comparison added a match, and leaving them out makes a look-up ~2.7x
    cheaper (10 stored codes per photo instead of 16, 12 comparisons per code instead of 32)."""
    img = trim_borders(img)
    centre = centre_crop(img)
    return ([{**hashes, "part": "full"} for hashes in dihedral_hashes(img)]
            + [{**hash_image(crop, trim=False), "part": "centre"}
               for crop in (centre, ImageOps.mirror(centre))])


def query_variants(img: Image.Image) -> list[dict]:
    """What an ad photo is matched with: its hashes (part "full") and its centre crop's."""
    img = trim_borders(img)  # the crop is cut at full resolution: cropping the 256-px
    # reduction instead cost caption and watermark re-posts a few points of recall
    return [{**hash_image(img, trim=False), "part": "full"},
            {**hash_image(centre_crop(img), trim=False), "part": "centre"}]


def dihedral_hashes(img: Image.Image) -> list[dict]:
    """Hashes of the 8 flips/rotations of an image (for bank entries: mirrored re-posts match)."""
    return _dihedral(trim_borders(img).resize((HASH_SIZE, HASH_SIZE), Image.BILINEAR))


def _dihedral(small: Image.Image) -> list[dict]:
    out = []
    for base in (small, ImageOps.mirror(small)):
        for angle in (0, 90, 180, 270):
            out.append(hash_image(base.rotate(angle, expand=True), trim=False))
    return out


def photo_key(hashes: dict) -> str | None:
    """A coarse key for the re-use index: photos whose dHash agrees exactly share a key.

    Exact equality is cheap to group on but coarse: on the benchmark's 18 photos the key
    survived a JPEG re-encode (q30-q90) for 11-15, a 50 % or 25 % resize for 13, a border for
    18, a brightness change for 5, and a mirror, caption or watermark for 0-2. It links plain
    re-posts of one file; near-duplicates need a Hamming search (`detectors.images.hashindex`) over
    recent photos instead. Low-information images (PDQ quality < 50) get no key."""
    if hashes.get("pdq_quality", 0) < PDQ_MIN_QUALITY:
        return None
    return hashes.get("dhash")


def inline_fetch(image: dict) -> bytes:
    """Bytes of an inline image; the shell supplies fetchers for URLs and files."""
    if not isinstance(image, dict) or "data_b64" not in image:
        raise ImageFetchError("no_fetcher", "only inline (data_b64) images can be read here")
    if not isinstance(image["data_b64"], str):
        raise ImageFetchError("bad_base64", "data_b64 must be a string")
    try:
        return base64.b64decode(image["data_b64"], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ImageFetchError("bad_base64", f"data_b64 is not valid base64: {exc}") from exc


MAX_TIMEOUTS_PER_AD = 2  # after this many fetch time-outs the ad's other URLs are not tried


def analyse_ad_images(images: list[dict], *, fetch: Callable[[dict], bytes] | None,
                      banks=None) -> dict:
    """Hash every image of an ad and match it against the banks; errors are per image.

    `fetch(image) -> bytes` is the shell's (URL, file, inline); it raises ImageFetchError.
    At most MAX_IMAGES_PER_AD images are read, and after MAX_TIMEOUTS_PER_AD time-outs the
    remaining URLs are skipped, so one ad cannot hold a worker for long."""
    out: dict[str, list] = {"images": [], "errors": [], "matches": []}
    timeouts = 0
    for index, image in enumerate(images if isinstance(images, list) else []):
        ref = image_ref(image) if isinstance(image, dict) else f"invalid:{index}"
        try:
            if index >= MAX_IMAGES_PER_AD:
                raise ImageFetchError("too_many_images",
                                      f"only the first {MAX_IMAGES_PER_AD} images are read")
            if timeouts >= MAX_TIMEOUTS_PER_AD and isinstance(image, dict) and image.get("url"):
                raise ImageFetchError("skipped", f"{timeouts} earlier images of this ad timed out")
            queries = query_variants(decode_image((fetch or inline_fetch)(image)))
        except ImageFetchError as exc:
            timeouts += exc.code == "timeout"
            out["errors"].append({"index": index, "ref": ref, "error": exc.code,
                                  "detail": exc.detail})
            continue
        out["images"].append({"index": index, "ref": ref,
                              **{k: queries[0][k] for k in HASH_FIELDS}})
        if banks is not None:
            for match in banks.match(*queries):
                out["matches"].append({**match, "image_index": index, "image_ref": ref})
    return out
