"""The ingest commands: `vigil ingest FILE|-`, `vigil ingest --http`, `vigil feed --rate N`."""

from __future__ import annotations

import json
import logging
import sys
import time

from streams import metrics
from streams.config import load_settings
from streams.errors import CliError
from streams.ingest.auth import ingest_tokens
from streams.ingest.http import make_http_server
from streams.ingest.producer import ingest_file, make_producer

log = logging.getLogger(__name__)


def _cmd_ingest(args) -> int:
    from streams.stack.launcher import services

    settings = load_settings()
    # beyond loopback without tokens: refuse before touching any service
    tokens = ingest_tokens(settings) if args.http else None
    with services(settings, kafka=True):  # a broker it starts is stopped again when it ends
        return _ingest(args, settings, tokens)


def _ingest(args, settings, tokens) -> int:
    from streams.broker.topics import ensure_topics

    ensure_topics(settings)
    if args.http:
        producer = make_producer(settings)
        server = make_http_server(settings, producer, args.port, tokens)
        where = f"http://{metrics.bind_address()}:{args.port}"
        log.info("ingest: POST ads to %s/ads (%s); metrics at %s/metrics", where,
                 f"bearer token required, {len(tokens)} accepted" if tokens else "no token required on loopback",
                 where)
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
    from streams.stack.launcher import services

    settings = load_settings()
    with services(settings, kafka=True):
        return _feed(args, settings)


def _feed(args, settings) -> int:
    from streams.broker.topics import ensure_topics
    from streams.evaluation.generate import generate_ads

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
