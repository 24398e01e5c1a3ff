"""Fetching an ad image's bytes: inline base64, a local file (opt-in) or an http(s) URL.

Every failure is an `ImageFetchError(code, detail)`, which the pipeline records as a per-image
error. URLs are fetched with a byte cap (Content-Length checked first, then counted while
streaming), a total deadline per image (not only per socket read, so a server trickling bytes
is cut off too), at most `MAX_REDIRECTS` redirects and only to http(s), and by default never to
loopback, private, link-local or otherwise non-public addresses (ad URLs are attacker-chosen).
Limits: the address check resolves the name before httpx connects, so a DNS answer that
changes in between (rebinding) is not caught; run workers without access to internal
services if that matters.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import socket
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx

from detectors.images.hashing import MAX_IMAGE_BYTES, ImageFetchError

MAX_REDIRECTS = 3
DEFAULT_TIMEOUT_S = 4.0
USER_AGENT = "vigil-image-fetch/1 (perceptual hashing; no storage)"


def decode_inline(data_b64: object, max_bytes: int = MAX_IMAGE_BYTES) -> bytes:
    """Bytes of a `data_b64` image; the size is checked before decoding."""
    if not isinstance(data_b64, str):
        raise ImageFetchError("bad_base64", "data_b64 must be a string")
    if len(data_b64) // 4 * 3 > max_bytes + 3:
        raise ImageFetchError("too_large", f"inline image over the {max_bytes}-byte cap")
    try:
        data = base64.b64decode(data_b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ImageFetchError("bad_base64", f"data_b64 is not valid base64: {exc}") from exc
    if len(data) > max_bytes:
        raise ImageFetchError("too_large", f"{len(data)} bytes, over the {max_bytes}-byte cap")
    return data


def check_public_host(host: str) -> None:
    """Raise unless every address `host` resolves to is a public one."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise ImageFetchError("fetch_failed", f"cannot resolve host {host!r}: {exc}") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if not address.is_global:
            raise ImageFetchError("forbidden_host",
                                  f"host {host!r} resolves to non-public address {address}")


def _read_file(ref: str, max_bytes: int) -> bytes:
    path = Path(ref.removeprefix("file://"))
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise ImageFetchError("not_found", f"{path} is not a file")
        if size > max_bytes:
            raise ImageFetchError("too_large", f"{size} bytes, over the {max_bytes}-byte cap")
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise ImageFetchError("not_found", f"no such file {path}") from exc
    except OSError as exc:
        raise ImageFetchError("fetch_failed", f"cannot read {path}: {exc.strerror}") from exc


class UrlFetcher:
    """GETs image URLs under a byte cap, a total deadline and the address rules above."""

    def __init__(self, *, max_bytes: int = MAX_IMAGE_BYTES, timeout_s: float = DEFAULT_TIMEOUT_S,
                 allow_private_hosts: bool = False) -> None:
        self.max_bytes, self.timeout_s = max_bytes, timeout_s
        self.allow_private_hosts = allow_private_hosts
        self.client = httpx.Client(timeout=timeout_s, follow_redirects=False,
                                   headers={"User-Agent": USER_AGENT, "Accept": "image/*"})

    def close(self) -> None:
        self.client.close()

    def __call__(self, url: str) -> bytes:
        deadline = time.monotonic() + self.timeout_s
        for _ in range(MAX_REDIRECTS + 1):
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ImageFetchError("unsupported_ref", f"not an http(s) URL: {url[:100]}")
            if not self.allow_private_hosts:
                check_public_host(parts.hostname)
            try:
                location = self._get(url, deadline)
            except httpx.TimeoutException as exc:
                raise ImageFetchError("timeout", f"no complete answer in {self.timeout_s} s") \
                    from exc
            except httpx.HTTPError as exc:
                raise ImageFetchError("fetch_failed",
                                      f"{type(exc).__name__}: {exc}"[:200]) from exc
            if isinstance(location, bytes):
                return location
            url = urljoin(url, location)
        raise ImageFetchError("too_many_redirects", f"more than {MAX_REDIRECTS} redirects")

    def _get(self, url: str, deadline: float) -> bytes | str:
        """The body, or the Location of a redirect."""
        with self.client.stream("GET", url) as resp:
            if resp.is_redirect:
                location = resp.headers.get("location", "")
                if not location:
                    raise ImageFetchError("http_error", f"HTTP {resp.status_code} without Location")
                if urlsplit(urljoin(url, location)).scheme not in ("http", "https"):
                    raise ImageFetchError("bad_redirect",
                                          f"redirect to a non-http(s) URL: {location[:100]}")
                return location
            if resp.status_code != 200:
                raise ImageFetchError("http_error", f"HTTP {resp.status_code}")
            declared = resp.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.max_bytes:
                raise ImageFetchError("too_large", f"Content-Length {declared} is over the "
                                                   f"{self.max_bytes}-byte cap")
            chunks, size = [], 0
            for chunk in resp.iter_bytes():
                size += len(chunk)
                if size > self.max_bytes:
                    raise ImageFetchError("too_large", f"over the {self.max_bytes}-byte cap")
                if time.monotonic() > deadline:
                    raise ImageFetchError("timeout", f"not complete after {self.timeout_s} s")
                chunks.append(chunk)
            return b"".join(chunks)


def make_fetcher(max_bytes: int = MAX_IMAGE_BYTES, timeout_s: float = DEFAULT_TIMEOUT_S,
                 allow_files: bool = False, *,
                 allow_private_hosts: bool = False) -> Callable[[dict], bytes]:
    """fetch(image) -> bytes for the raw ad's image items ({"data_b64"} or {"url"}).

    `allow_files` lets a `url` be a local path or file:// URL (batch scoring of a directory);
    the stream worker leaves it off. `allow_private_hosts` is for tests against a local server.
    """
    urls = UrlFetcher(max_bytes=max_bytes, timeout_s=timeout_s,
                      allow_private_hosts=allow_private_hosts)

    def fetch(image: dict) -> bytes:
        if not isinstance(image, dict):
            raise ImageFetchError("unsupported_ref", "an image must be an object")
        if "data_b64" in image:
            return decode_inline(image["data_b64"], max_bytes)
        ref = image.get("url")
        if not isinstance(ref, str) or not ref:
            raise ImageFetchError("unsupported_ref", "image needs data_b64 or a url")
        scheme = urlsplit(ref).scheme.lower()
        if scheme in ("http", "https"):
            return urls(ref)
        if allow_files and scheme in ("", "file"):
            return _read_file(ref, max_bytes)
        raise ImageFetchError("unsupported_ref",
                              f"only http(s) URLs{' and files' if allow_files else ''} are "
                              f"fetched, not {scheme or 'a path'}")

    fetch.close = urls.close  # type: ignore[attr-defined]
    return fetch
