"""Producers onto ads.raw: `vigil ingest FILE|-`, `vigil ingest --http`, `vigil feed --rate N`.

Records are keyed by ad_id (so a duplicate meets the first copy in the same partition).
`vigil ingest FILE` forwards every line, even a bad one, so the worker dead-letters it with
its reason: nothing is dropped on the way in. The HTTP endpoint validates up front and answers
400 with the reasons instead.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterable, Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from kafka import KafkaProducer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from detectors.validation import Invalid, parse_raw_ad
from streams import metrics
from streams.config import Settings, load_settings
from streams.errors import CliError

log = logging.getLogger(__name__)

MAX_HTTP_BODY = 16 * 1024 * 1024


def make_producer(settings: Settings) -> KafkaProducer:
    return KafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        batch_size=256 * 1024,
        max_request_size=12 * 1024 * 1024,
        compression_type=None,
    )


def key_of(line: bytes) -> bytes | None:
    """The ad_id of a record, as its Kafka key, when it can be read; None otherwise."""
    try:
        doc = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None
    if isinstance(doc, dict) and isinstance(doc.get("ad_id"), str) and doc["ad_id"]:
        return doc["ad_id"].encode("utf-8", errors="surrogatepass")
    return None


def read_lines(source) -> Iterator[bytes]:
    """Non-empty lines of a JSONL file (or stdin), as bytes, line endings removed."""
    for line in source:
        line = line.rstrip(b"\r\n")
        if line.strip():
            yield line


def produce_all(producer: KafkaProducer, topic: str, records: Iterable[bytes],
                progress_every: int = 10_000) -> int:
    sent = 0
    started = time.monotonic()
    for value in records:
        producer.send(topic, key=key_of(value), value=value)
        sent += 1
        metrics.ADS_INGESTED.labels("file").inc()
        if progress_every and sent % progress_every == 0:
            rate = sent / max(time.monotonic() - started, 1e-9)
            print(f"ingest: {sent} records sent ({rate:,.0f}/s)", file=sys.stderr)
    producer.flush()
    return sent


def ingest_file(path: str, settings: Settings) -> int:
    producer = make_producer(settings)
    try:
        if path == "-":
            return produce_all(producer, settings.topics.raw, read_lines(sys.stdin.buffer))
        try:
            with open(path, "rb") as fh:
                return produce_all(producer, settings.topics.raw, read_lines(fh))
        except FileNotFoundError as exc:
            raise CliError(f"no such file: {path}") from exc
    finally:
        producer.close()


# ---------------------------------------------------------------- HTTP


def parse_http_body(body: bytes, content_type: str) -> tuple[list[dict], list[dict]]:
    """(accepted ads, rejections) from a JSON object, a JSON array or JSON lines."""
    if "ndjson" in content_type or "jsonl" in content_type or b"\n{" in body.strip():
        chunks = [line for line in body.splitlines() if line.strip()]
    else:
        try:
            doc = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            return [], [{"index": 0, "error": "not_json", "reason": f"body is not JSON: {exc}"}]
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


def make_http_server(settings: Settings, producer: KafkaProducer, port: int) -> ThreadingHTTPServer:
    topic = settings.topics.raw

    class Handler(BaseHTTPRequestHandler):
        def _reply(self, status: int, payload: dict) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

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


# ---------------------------------------------------------------- CLI


def _cmd_ingest(args) -> int:
    from streams.stack import ensure_stack
    from streams.topics import ensure_topics

    settings = load_settings()
    ensure_stack(settings)
    ensure_topics(settings)
    if args.http:
        producer = make_producer(settings)
        server = make_http_server(settings, producer, args.port)
        where = f"http://{metrics.bind_address()}:{args.port}"
        log.info("ingest: POST ads to %s/ads; metrics at %s/metrics", where, where)
        try:
            server.serve_forever()
        finally:
            server.server_close()
            producer.close()
        return 0
    if not args.file:
        raise CliError("give a JSONL file (or - for stdin), or --http")
    sent = ingest_file(args.file, settings)
    print(f"ingest: {sent} records sent to {settings.topics.raw}", file=sys.stderr)
    return 0


def _cmd_feed(args) -> int:
    from streams.generate import generate_ads
    from streams.stack import ensure_stack
    from streams.topics import ensure_topics

    settings = load_settings()
    ensure_stack(settings)
    ensure_topics(settings)
    producer = make_producer(settings)
    interval = 1.0 / args.rate if args.rate > 0 else 0.0
    next_at = time.monotonic()
    sent = 0
    try:
        for ad in generate_ads(args.ads, seed=args.seed, difficulty=args.difficulty,
                               images=not args.no_images):
            value = json.dumps(ad).encode()
            producer.send(settings.topics.raw, key=ad["ad_id"].encode(), value=value)
            sent += 1
            metrics.ADS_INGESTED.labels("feed").inc()
            if interval:
                next_at += interval
                delay = next_at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            if sent % 1000 == 0:
                print(f"feed: {sent} ads sent", file=sys.stderr)
    finally:
        producer.flush()
        producer.close()
    print(f"feed: {sent} ads sent to {settings.topics.raw}", file=sys.stderr)
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("ingest", help="produce ads onto ads.raw (file, stdin or HTTP)")
    p.add_argument("file", nargs="?", help="JSON lines file, or - for stdin")
    p.add_argument("--http", action="store_true", help="serve POST /ads on 127.0.0.1")
    p.add_argument("--port", type=int, default=load_settings().ingest_port,
                   help="HTTP port (with --http): POST /ads, GET /metrics")
    p.set_defaults(func=_cmd_ingest)

    f = subparsers.add_parser("feed", help="stream synthetic ads onto ads.raw at a rate")
    f.add_argument("--rate", type=float, default=50.0, help="ads per second (0: as fast as possible)")
    f.add_argument("--ads", type=int, default=1_000_000, help="stop after this many ads")
    f.add_argument("--seed", type=int, default=1)
    f.add_argument("--difficulty", choices=["easy", "hard"], default="easy")
    f.add_argument("--no-images", action="store_true", help="ads without photos")
    f.set_defaults(func=_cmd_feed)
