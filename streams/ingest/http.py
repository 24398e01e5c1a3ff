"""`vigil ingest --http`: POST /ads (a JSON object, an array or JSON lines) and GET /metrics.

Unlike a file, an HTTP body is validated up front: 202 with the accepted ids, or 400 with each
record's reason and nothing produced. With bearer tokens (streams/ingest/auth.py; required when
the listener binds beyond loopback) a POST without a valid one gets 401 and nothing is read
from its body or produced. GET /metrics stays open: it carries counts only, no ids or ad text.
"""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from kafka import KafkaProducer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from detectors.validation import Invalid, parse_raw_ad
from streams import metrics
from streams.config import Settings
from streams.ingest.auth import BearerTokens

log = logging.getLogger(__name__)

MAX_HTTP_BODY = 16 * 1024 * 1024


def parse_http_body(body: bytes, content_type: str) -> tuple[list[dict], list[dict]]:
    """(accepted ads, rejections) from a JSON object, a JSON array or JSON lines."""
    if "ndjson" in content_type or "jsonl" in content_type or b"\n{" in body.strip():
        chunks = [line for line in body.splitlines() if line.strip()]
    else:
        try:
            doc = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            return [], [{"index": 0, "error": "not_json", "reason": f"body is not JSON: {exc}"}]
        except RecursionError:
            return [], [{"index": 0, "error": "too_deep", "reason": "body nests arrays and objects too deep "
                                                                       "to parse"}]
        chunks = [json.dumps(d).encode() for d in doc] if isinstance(doc, list) else [body]
    accepted, rejected = [], []
    for i, chunk in enumerate(chunks):
        parsed = parse_raw_ad(chunk)
        if isinstance(parsed, Invalid):
            rejected.append({"index": i, "ad_id": parsed.ad_id, "error": parsed.code,
                             "reason": parsed.reason})
        else:
            accepted.append(parsed)
    return accepted, rejected


UNAUTHORIZED = {
    "missing": "POST /ads needs an 'Authorization: Bearer <token>' header",
    "invalid": "the bearer token is not one this endpoint accepts",
}


def make_http_server(settings: Settings, producer: KafkaProducer, port: int,
                     tokens: BearerTokens | None = None) -> ThreadingHTTPServer:
    """The ingest endpoint on VIGIL_BIND:`port`; with `tokens`, POSTs must carry one of them."""
    topic = settings.topics.raw

    class Handler(BaseHTTPRequestHandler):
        def _reply(self, status: int, payload: dict, headers: dict[str, str] | None = None) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def _discard_body(self) -> None:
            """Read and drop a refused request's body (up to the size limit), so the client
            reads the answer instead of a connection reset."""
            left = min(int(self.headers.get("Content-Length") or 0), MAX_HTTP_BODY)
            while left > 0:
                chunk = self.rfile.read(min(left, 65536))
                if not chunk:
                    break
                left -= len(chunk)

        def _authorized(self) -> bool:
            if tokens is None:
                return True
            verdict = tokens.check(self.headers.get("Authorization"))
            if verdict.ok:
                return True
            self._discard_body()
            metrics.ADS_UNAUTHORIZED.labels(verdict.reason).inc()
            log.warning("refused a POST from %s: %s bearer token", self.client_address[0], verdict.reason,
                        extra={"reason": verdict.reason})
            challenge = 'Bearer realm="vigil-ingest"' + (', error="invalid_token"' if verdict.reason == "invalid"
                                                          else "")
            self._reply(HTTPStatus.UNAUTHORIZED, {"error": "unauthorized", "reason": UNAUTHORIZED[verdict.reason]},
                        {"WWW-Authenticate": challenge})
            return False

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            if self.path.split("?")[0].rstrip("/") != "/metrics":
                self._reply(HTTPStatus.NOT_FOUND, {"error": "GET /metrics, or POST ads to /ads"})
                return
            body = generate_latest()
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", CONTENT_TYPE_LATEST)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            if not self._authorized():
                return
            if self.path.rstrip("/") != "/ads":
                self._reply(HTTPStatus.NOT_FOUND, {"error": "POST ads to /ads"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_HTTP_BODY:
                self._reply(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                            {"error": f"body over {MAX_HTTP_BODY} bytes"})
                return
            accepted, rejected = parse_http_body(self.rfile.read(length),
                                                 self.headers.get("Content-Type", ""))
            if rejected:
                for r in rejected:
                    metrics.ADS_REJECTED.labels(r["error"]).inc()
                log.info("rejected a POST of %d record(s)", len(rejected) + len(accepted),
                         extra={"ad_ids": [r.get("ad_id") for r in rejected]})
                self._reply(HTTPStatus.BAD_REQUEST, {"accepted": [], "rejected": rejected})
                return
            for ad in accepted:
                producer.send(topic, key=ad["ad_id"].encode(), value=json.dumps(ad).encode())
            producer.flush()
            metrics.ADS_INGESTED.labels("http").inc(len(accepted))
            self._reply(HTTPStatus.ACCEPTED, {"accepted": [ad["ad_id"] for ad in accepted]})

        def log_message(self, fmt: str, *args) -> None:
            log.debug("http %s", fmt % args)

    return ThreadingHTTPServer((metrics.bind_address(), port), Handler)
