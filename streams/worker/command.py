"""`vigil worker`: run the batch loop (ads.raw → ads.scored / alerts / ads.dlq)."""

from __future__ import annotations

import logging
import signal

from streams.config import load_settings

log = logging.getLogger(__name__)


def run_worker(args) -> int:
    from streams.broker.lag import LagProbe
    from streams.broker.topics import ensure_topics
    from streams.config import app_id_for
    from streams.metrics import bind_address, initialise_worker_series, serve_metrics
    from streams.stack.launcher import ensure_stack
    from streams.worker.loop import BatchWorker

    settings = load_settings()
    ensure_stack(settings)
    ensure_topics(settings)
    if args.metrics_port:
        initialise_worker_series()
        serve_metrics(args.metrics_port)
        log.info("metrics on http://%s:%d/metrics", bind_address(), args.metrics_port)
        LagProbe(settings, app_id_for(settings), [settings.topics.raw], [settings.topics.dlq]).start()
    worker = BatchWorker(settings, model_path=args.model)

    def stop(signum, _frame) -> None:
        log.info("signal %d: finishing the batch in hand, committing, leaving the group", signum)
        worker.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    worker.run()
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("worker", help="run the streaming worker (batched confluent-kafka loop)")
    p.add_argument("--model", default=None, help="text model file (default .stack/models/...)")
    p.add_argument("--metrics-port", type=int, default=load_settings().metrics_port,
                   help="Prometheus /metrics port (0: off); on 127.0.0.1 unless VIGIL_BIND")
    p.set_defaults(func=run_worker)
