"""Safe image loading and hashing: every bad input is a clear per-image error or a right hash."""

import base64
import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageOps
from skimage import data

from detectors.images.banks import BankEntry, BankSet
from detectors.images.hashing import (
    ImageFetchError,
    analyse_ad_images,
    decode_image,
    dihedral_hashes,
    hash_image,
)


def photo() -> Image.Image:
    return Image.fromarray(data.astronaut()).resize((256, 256))


def encode(img: Image.Image, fmt: str = "JPEG", **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def hamming(a: str, b: str) -> int:
    return bin(int(a, 16) ^ int(b, 16)).count("1")


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A tiny PNG whose header claims enormous dimensions."""
    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (struct.pack(">I", len(payload)) + kind + payload
                + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 100)) + chunk(b"IEND", b""))


@pytest.mark.parametrize(("raw", "code"), [
    (b"", "empty"),
    (encode(photo())[:2000], "corrupt"),
    (png_bomb(), "too_many_pixels"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'><rect/></svg>", "not_an_image"),
    (b"<!DOCTYPE html><html><body>hi</body></html>", "not_an_image"),
    (b"\x00" * 100, "not_an_image"),
])
def test_bad_images_give_clear_errors(raw, code):
    with pytest.raises(ImageFetchError) as err:
        decode_image(raw)
    assert err.value.code == code
    assert err.value.detail


def test_oversized_bytes_are_refused_before_decoding():
    with pytest.raises(ImageFetchError) as err:
        decode_image(b"\xff\xd8\xff" + b"\x00" * 100, max_bytes=50)
    assert err.value.code == "too_large"


def test_odd_but_valid_images_hash_like_the_original():
    original = hash_image(photo())
    cmyk = decode_image(encode(photo().convert("CMYK"), "JPEG", quality=95))
    sixteen = decode_image(encode(Image.fromarray(
        np.asarray(photo().convert("L"), dtype=np.uint16) * 257), "PNG"))
    frames = [photo(), ImageOps.invert(photo())]
    gif = io.BytesIO()
    frames[0].save(gif, "GIF", save_all=True, append_images=frames[1:])
    animated = decode_image(gif.getvalue())
    assert hamming(hash_image(cmyk)["pdq"], original["pdq"]) <= 31
    assert hamming(hash_image(animated)["pdq"], original["pdq"]) <= 31
    assert hash_image(sixteen)["pdq_quality"] >= 50


def test_exif_rotation_is_applied():
    rotated = photo().rotate(90, expand=True)
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: the viewer must rotate 90° clockwise
    raw = encode(rotated, "JPEG", quality=95, exif=exif.tobytes())
    upright = decode_image(raw)
    assert hamming(hash_image(upright)["pdq"], hash_image(photo())["pdq"]) <= 31


def test_mirrored_reencoded_repost_matches_the_bank_and_other_photos_do_not():
    bank = BankSet([BankEntry("missing_children", "e1", "CASE-1", "test", "2026-01-01",
                              tuple(dihedral_hashes(photo())))])
    repost = ImageOps.mirror(photo())
    raw = encode(repost, "JPEG", quality=55)
    result = analyse_ad_images([{"data_b64": base64.b64encode(raw).decode()}], fetch=None,
                               banks=bank)
    assert result["errors"] == []
    assert result["matches"][0]["case_id"] == "CASE-1"
    other = Image.fromarray(data.coffee()).resize((256, 256))
    assert bank.match(hash_image(other)) == []


def test_bad_image_is_a_per_image_error_and_the_rest_are_hashed():
    good = base64.b64encode(encode(photo())).decode()
    result = analyse_ad_images([{"data_b64": "!!notbase64"}, {"data_b64": good}], fetch=None)
    assert [e["error"] for e in result["errors"]] == ["bad_base64"]
    assert [i["index"] for i in result["images"]] == [1]


def test_more_odd_formats_decode_to_rgb():
    big16 = Image.fromarray(np.linspace(0, 65535, 1200 * 900).reshape(900, 1200)
                             .astype(np.uint16))
    assert decode_image(encode(big16, "PNG")).mode == "RGB"
    rgba = photo().convert("RGBA")
    assert hamming(hash_image(decode_image(encode(rgba, "PNG")))["pdq"],
                   hash_image(photo())["pdq"]) <= 31
    webp = decode_image(encode(photo(), "WEBP", quality=80))
    assert hamming(hash_image(webp)["pdq"], hash_image(photo())["pdq"]) <= 31
    with pytest.raises(ImageFetchError) as err:
        decode_image(encode(photo(), "PNG")[:3000])
    assert err.value.code == "corrupt"


def test_an_ad_reads_at_most_the_image_cap_and_stops_after_repeated_timeouts():
    from detectors.images.hashing import MAX_IMAGES_PER_AD, MAX_TIMEOUTS_PER_AD

    calls = []

    def slow_fetch(image):
        calls.append(image["url"])
        raise ImageFetchError("timeout", "no answer")

    urls = [{"url": f"https://img.example/{n}.jpg"} for n in range(MAX_IMAGES_PER_AD + 5)]
    result = analyse_ad_images(urls, fetch=slow_fetch)
    codes = [e["error"] for e in result["errors"]]
    assert len(calls) == MAX_TIMEOUTS_PER_AD
    assert codes[:MAX_TIMEOUTS_PER_AD] == ["timeout"] * MAX_TIMEOUTS_PER_AD
    assert codes[MAX_IMAGES_PER_AD:] == ["too_many_images"] * 5
    assert set(codes[MAX_TIMEOUTS_PER_AD:MAX_IMAGES_PER_AD]) == {"skipped"}


def test_malformed_image_items_are_per_image_errors():
    result = analyse_ad_images([{"data_b64": 5}, "not a dict", {}], fetch=None)
    assert [e["error"] for e in result["errors"]] == ["bad_base64", "no_fetcher", "no_fetcher"]
