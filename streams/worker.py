"""`vigil worker`: run the Faust app (ads.raw → ads.scored / alerts / ads.dlq)."""

from __future__ import annotations

import logging

from streams.config import load_settings

log = logging.getLogger(__name__)


def run_worker(args) -> int:
    import faust

    from streams.app import create_app
    from streams.metrics import serve_metrics
    from streams.stack import ensure_stack
    from streams.topics import ensure_topics

    settings = load_settings()
    ensure_stack(settings)
    ensure_topics(settings)
    if args.metrics_port:
        serve_metrics(args.metrics_port)
        log.info("metrics on http://127.0.0.1:%d/metrics", args.metrics_port)
    app = create_app(settings, model_path=args.model)
    worker = faust.Worker(app, loglevel="WARNING" if not args.verbose else "INFO",
                          quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("worker", help="run the streaming worker (Faust)")
    p.add_argument("--model", default=None, help="text model file (default .stack/models/...)")
    p.add_argument("--metrics-port", type=int, default=load_settings().metrics_port,
                   help="Prometheus /metrics port on 127.0.0.1 (0: off)")
    p.set_defaults(func=run_worker)
