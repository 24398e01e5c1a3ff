"""Fetching image bytes (minimal): inline base64, local files (opt-in), http(s) with caps."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from pathlib import Path

import httpx

from detectors.images import MAX_IMAGE_BYTES, ImageFetchError


def make_fetcher(max_bytes: int = MAX_IMAGE_BYTES, timeout_s: float = 5.0,
                 allow_files: bool = False) -> Callable[[dict], bytes]:
    def fetch(image: dict) -> bytes:
        if "data_b64" in image:
            try:
                data = base64.b64decode(image["data_b64"], validate=True)
            except (binascii.Error, ValueError) as exc:
                raise ImageFetchError("bad_base64", f"data_b64 is not base64: {exc}") from exc
            if len(data) > max_bytes:
                raise ImageFetchError("too_large", f"{len(data)} bytes, over {max_bytes}")
            return data
        url = image.get("url", "")
        if url.startswith(("http://", "https://")):
            try:
                with httpx.stream("GET", url, timeout=timeout_s, follow_redirects=False) as resp:
                    if resp.status_code != 200:
                        raise ImageFetchError("http_error", f"HTTP {resp.status_code}")
                    chunks, size = [], 0
                    for chunk in resp.iter_bytes():
                        size += len(chunk)
                        if size > max_bytes:
                            raise ImageFetchError("too_large", f"over {max_bytes} bytes")
                        chunks.append(chunk)
                    return b"".join(chunks)
            except httpx.TimeoutException as exc:
                raise ImageFetchError("timeout", f"no answer in {timeout_s} s") from exc
            except httpx.HTTPError as exc:
                raise ImageFetchError("fetch_failed", f"{type(exc).__name__}: {exc}"[:200]) from exc
        if allow_files and url and not url.startswith(("http:", "https:")):
            path = Path(url.removeprefix("file://"))
            if not path.is_file():
                raise ImageFetchError("not_found", f"no such file {path}")
            if path.stat().st_size > max_bytes:
                raise ImageFetchError("too_large", f"{path.stat().st_size} bytes, over {max_bytes}")
            return path.read_bytes()
        raise ImageFetchError("unsupported_ref", "image needs data_b64 or an http(s) url")

    return fetch
