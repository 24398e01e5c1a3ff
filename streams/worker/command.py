"""`vigil worker`: run the Faust app (ads.raw → ads.scored / alerts / ads.dlq)."""

from __future__ import annotations

import logging
import os

from streams.config import load_settings

log = logging.getLogger(__name__)


def run_worker(args) -> int:
    import faust

    from streams.broker.lag import LagProbe
    from streams.broker.topics import ensure_topics
    from streams.config import app_id_for
    from streams.metrics import bind_address, initialise_worker_series, serve_metrics
    from streams.stack.launcher import ensure_stack
    from streams.worker.app import create_app

    settings = load_settings()
    ensure_stack(settings)
    ensure_topics(settings)
    if args.metrics_port:
        initialise_worker_series(settings.partitions)
        serve_metrics(args.metrics_port)
        log.info("metrics on http://%s:%d/metrics", bind_address(), args.metrics_port)
        LagProbe(settings, app_id_for(settings), [settings.topics.raw], [settings.topics.dlq]).start()
    app = create_app(settings, model_path=args.model)
    # our JSON logging (streams.logs, set up by the CLI) stays: Faust must not replace it
    # its terminal spinner writes escape codes to stdout: send them nowhere (logs go to stderr)
    quiet_stdout = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    worker = faust.Worker(app, loglevel=args.log_level.upper(), quiet=True, redirect_stdouts=False,
                          override_logging=False, stdout=quiet_stdout)
    worker.execute_from_commandline()
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("worker", help="run the streaming worker (Faust)")
    p.add_argument("--model", default=None, help="text model file (default .stack/models/...)")
    p.add_argument("--metrics-port", type=int, default=load_settings().metrics_port,
                   help="Prometheus /metrics port (0: off); on 127.0.0.1 unless VIGIL_BIND")
    p.set_defaults(func=run_worker)
