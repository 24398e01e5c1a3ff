"""Fetching ad images: caps, time-outs, redirects and address rules give per-image errors.

A small HTTP server on 127.0.0.1 (in this process) plays the hostile sites.
"""

import base64
import contextlib
import functools
import io
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image
from skimage import data

from detectors.images.hashing import ImageFetchError, analyse_ad_images
from streams.scoring.fetch import decode_inline, make_fetcher

BIG = 50 * 1024 * 1024


@functools.cache
def jpeg() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(data.coffee()).save(buf, "JPEG", quality=80)
    return buf.getvalue()


class Hostile(BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep test output quiet
        pass

    def do_GET(self):  # noqa: N802 - the http.server API
        routes = {
            "/photo.jpg": lambda: self._send(200, jpeg(), "image/jpeg"),
            "/svg.jpg": lambda: self._send(200, b"<svg xmlns='http://www.w3.org/2000/svg'/>",
                                           "image/jpeg"),
            "/missing.jpg": lambda: self._send(404, b"no", "text/plain"),
            "/to-file": lambda: self._redirect("file:///etc/passwd"),
            "/to-photo": lambda: self._redirect("/photo.jpg"),
            "/loop": lambda: self._redirect("/loop"),
            "/big-declared": self._big_declared,
            "/big-chunked": self._big_chunked,
            "/trickle": self._trickle,
            "/silent": lambda: time.sleep(4),
        }
        routes.get(self.path, lambda: self._send(404, b"", "text/plain"))()

    def _send(self, status, body, kind):
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, location):
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _big_declared(self):
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", str(BIG))
        self.end_headers()
        with contextlib.suppress(OSError):
            self.wfile.write(b"\xff\xd8\xff" + b"\0" * 65536)

    def _big_chunked(self):
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.end_headers()  # no length: the body ends when the connection closes
        try:
            for _ in range(BIG // 65536):
                self.wfile.write(b"\0" * 65536)
        except OSError:
            pass
        self.close_connection = True

    def _trickle(self):
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.end_headers()
        try:
            for _ in range(60):
                self.wfile.write(b"\0" * 10)
                self.wfile.flush()
                time.sleep(0.1)
        except OSError:
            pass
        self.close_connection = True


@pytest.fixture(scope="module")
def site():
    jpeg()  # encoded once, before any time-out is measured
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def fetch():
    fetcher = make_fetcher(max_bytes=10 * 1024 * 1024, timeout_s=1.5, allow_private_hosts=True)
    yield fetcher
    fetcher.close()


def error_code(fetch, image: dict) -> str:
    with pytest.raises(ImageFetchError) as err:
        fetch(image)
    assert err.value.detail
    return err.value.code


def test_a_photo_url_and_a_redirect_to_it_are_fetched(site, fetch):
    assert fetch({"url": f"{site}/photo.jpg"}) == jpeg()
    assert fetch({"url": f"{site}/to-photo"}) == jpeg()


@pytest.mark.parametrize(("path", "code"), [
    ("/missing.jpg", "http_error"),
    ("/to-file", "bad_redirect"),
    ("/loop", "too_many_redirects"),
    ("/big-declared", "too_large"),
    ("/big-chunked", "too_large"),
    ("/trickle", "timeout"),
    ("/silent", "timeout"),
])
def test_hostile_urls_give_clear_errors(site, fetch, path, code):
    started = time.monotonic()
    assert error_code(fetch, {"url": site + path}) == code
    assert time.monotonic() - started < 3.5  # the total deadline holds, not a per-read one


def test_loopback_and_private_addresses_are_refused_by_default(site):
    fetch = make_fetcher(timeout_s=1.0)
    assert error_code(fetch, {"url": f"{site}/photo.jpg"}) == "forbidden_host"
    assert error_code(fetch, {"url": "http://10.1.2.3/x.jpg"}) == "forbidden_host"
    assert error_code(fetch, {"url": "http://[::1]/x.jpg"}) == "forbidden_host"


def test_files_and_other_schemes_need_permission(tmp_path):
    path = tmp_path / "a.jpg"
    path.write_bytes(jpeg())
    assert error_code(make_fetcher(), {"url": str(path)}) == "unsupported_ref"
    assert error_code(make_fetcher(), {"url": "ftp://example.org/a.jpg"}) == "unsupported_ref"
    allowed = make_fetcher(allow_files=True)
    assert allowed({"url": f"file://{path}"}) == jpeg()
    assert error_code(allowed, {"url": str(tmp_path / "none.jpg")}) == "not_found"
    assert error_code(make_fetcher(max_bytes=100, allow_files=True), {"url": str(path)}) \
        == "too_large"


def test_inline_images_are_size_checked_before_decoding():
    assert decode_inline(base64.b64encode(b"abc").decode()) == b"abc"
    with pytest.raises(ImageFetchError, match="too_large"):
        decode_inline("A" * 4000, max_bytes=1000)
    with pytest.raises(ImageFetchError, match="bad_base64"):
        decode_inline("not base64!")
    with pytest.raises(ImageFetchError, match="bad_base64"):
        decode_inline(12345)


def test_an_ad_with_hostile_images_keeps_its_good_one(site, fetch):
    images = [{"url": f"{site}/svg.jpg"}, {"url": f"{site}/silent"}, {"url": f"{site}/photo.jpg"},
              {"data_b64": base64.b64encode(b"").decode()}]
    result = analyse_ad_images(images, fetch=fetch, banks=None)
    assert [(e["index"], e["error"]) for e in result["errors"]] == \
        [(0, "not_an_image"), (1, "timeout"), (3, "empty")]
    assert [i["index"] for i in result["images"]] == [2]
    assert result["images"][0]["ref"] == f"{site}/photo.jpg"
