"""Images (minimal): safe decode from bytes, PDQ + dHash, bank matching, per-image errors."""

from __future__ import annotations

import base64
import hashlib
import io
from collections.abc import Callable

import imagehash
import numpy as np
import pdqhash
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_IMAGE_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000
PDQ_MIN_QUALITY = 50


class ImageFetchError(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code, self.detail = code, detail


def image_ref(image: dict) -> str:
    if image.get("url"):
        return image["url"]
    digest = hashlib.sha256((image.get("data_b64") or "").encode()).hexdigest()[:16]
    return f"inline:{digest}"


def decode_image(data: bytes) -> Image.Image:
    if not data:
        raise ImageFetchError("empty", "zero-byte image")
    if len(data) > MAX_IMAGE_BYTES:
        raise ImageFetchError("too_large", f"{len(data)} bytes, over {MAX_IMAGE_BYTES}")
    try:
        img = Image.open(io.BytesIO(data))
        if img.width * img.height > MAX_PIXELS:
            raise ImageFetchError("too_many_pixels", f"{img.width}x{img.height} pixels")
        img.draft("RGB", (256, 256))
        img = ImageOps.exif_transpose(img)
        img.load()
        return img.convert("RGB")
    except ImageFetchError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise ImageFetchError("not_an_image", str(exc)[:200]) from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageFetchError("corrupt", str(exc)[:200]) from exc


def hash_image(img: Image.Image) -> dict:
    arr = np.asarray(img.resize((256, 256)))
    vec, quality = pdqhash.compute(arr)
    pdq = np.packbits(vec.astype(np.uint8)).tobytes().hex()
    return {"pdq": pdq, "pdq_quality": int(quality), "phash": str(imagehash.phash(img)),
            "dhash": str(imagehash.dhash(img))}


def photo_key(hashes: dict) -> str | None:
    return hashes.get("dhash")


def default_fetch(image: dict) -> bytes:
    if "data_b64" in image:
        try:
            return base64.b64decode(image["data_b64"], validate=True)
        except ValueError as exc:
            raise ImageFetchError("bad_base64", str(exc)) from exc
    raise ImageFetchError("no_fetcher", "no fetcher for URL images")


def analyse_ad_images(images: list[dict], *, fetch: Callable[[dict], bytes] | None,
                      banks=None) -> dict:
    out: dict[str, list] = {"images": [], "errors": [], "matches": []}
    for index, image in enumerate(images):
        ref = image_ref(image)
        try:
            data = (fetch or default_fetch)(image)
            hashes = hash_image(decode_image(data))
        except ImageFetchError as exc:
            out["errors"].append({"index": index, "ref": ref, "error": exc.code, "detail": exc.detail})
            continue
        out["images"].append({"index": index, "ref": ref, **hashes})
        if banks is not None:
            for match in banks.match(hashes):
                out["matches"].append({**match, "image_index": index, "image_ref": ref})
    return out
