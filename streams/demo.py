"""`vigil demo`: the whole system end to end on this machine, then a clean stop.

Starts the stack (if it is not up), loads a synthetic missing-children bank, trains the text
model if there is none, runs a worker, the dispatcher, a signed-webhook sink, the store and the
investigator console (with a demo analyst whose random password is printed once), replays a
synthetic feed, and prints every alert the sink receives: severity, score, top reasons and
seconds from ingest to alert; then checks that those alerts are in the console's inbox.
Everything it started is stopped before it exits (`--stay` keeps it all up until Ctrl-C, to
look around the console).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from streams.config import REPO_ROOT, display_url, load_settings
from streams.errors import CliError

DEMO_SECRET = "whsec_" + "ZGVtby1vbmx5LXNlY3JldC1ub3QtZm9yLXByb2R1Y3Rpb24="  # demo only


class Processes:
    """Child processes started by the demo, each in its own session, all stopped on exit."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.procs: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen([sys.executable, "-m", "streams.cli", *args], cwd=REPO_ROOT,
                                env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.procs.append((name, proc))
        return proc

    def check_alive(self) -> None:
        for name, proc in self.procs:
            if proc.poll() is not None:
                tail = (self.logs / f"{name}.log").read_text(errors="replace")[-1500:]
                raise CliError(f"{name} exited with code {proc.returncode}:\n{tail}")

    def stop_all(self) -> None:
        for _, proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for _, proc in reversed(self.procs):
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _format_alert(payload: dict, received_at: float) -> str:
    alert = payload.get("alert") or payload
    reasons = ", ".join(r["detail"] for r in alert.get("reasons", [])[:3])
    ingested = alert.get("ingested_at")
    latency = f"{received_at - ingested:5.2f}s" if ingested else "   n/a"
    cluster = alert.get("cluster") or {}
    return (f"ALERT {alert.get('severity', '?'):<8} score {alert.get('risk', 0):.2f}  "
            f"ingest→alert {latency}  ad {alert.get('ad_id')}  cluster of {cluster.get('size', 1)}"
            f"  | {reasons}")


def _tail_alerts(path: Path, seen: list[float], alert_ids: list[str], stop: threading.Event) -> None:
    """Print each alert the sink writes, as it arrives."""
    offset = 0
    while not stop.is_set():
        if path.exists():
            with open(path, encoding="utf-8") as fh:
                fh.seek(offset)
                for line in fh:
                    if not line.endswith("\n"):
                        break
                    offset += len(line.encode())
                    record = json.loads(line)
                    received_at = record.get("received_at", time.time())
                    for payload in record.get("alerts") or [record.get("payload", record)]:
                        seen.append(received_at)
                        alert_ids.append((payload.get("alert") or payload).get("alert_id"))
                        print(_format_alert(payload, received_at), flush=True)
        stop.wait(0.2)


def run_demo(args) -> int:
    from streams.banks.store import BankStore
    from streams.broker.kafkaio import read_topic
    from streams.broker.topics import ensure_topics
    from streams.evaluation.generate import generate_ads, write_bank_manifest
    from streams.stack.launcher import services

    os.environ["VIGIL_TOPIC_PREFIX"] = f"demo{int(time.time())}."
    settings = load_settings()
    stack = contextlib.ExitStack()  # the services this demo started, stopped at the end
    started: frozenset[str] = frozenset()
    workdir = settings.stack_dir / "demo" / settings.topic_prefix.strip(".")
    workdir.mkdir(parents=True, exist_ok=True)
    procs = Processes(workdir)
    stop = threading.Event()
    received: list[float] = []
    alert_ids: list[str] = []
    try:
        _ensure_model(args)  # before the stack: a first run trains for a while
        t0 = time.monotonic()
        info = stack.enter_context(services(settings, kafka=True, redis=True))
        started = info.started
        ensure_topics(settings)
        print(f"demo: stack up in {time.monotonic() - t0:.1f} s "
              f"(kafka {info.kafka_bootstrap}, redis {display_url(info.redis_url)})", flush=True)
        stack_up_wall = time.time()

        ads = list(generate_ads(args.ads, seed=args.seed, difficulty="hard", images=True))
        feed = workdir / "feed.jsonl"
        feed.write_text("".join(json.dumps(ad) + "\n" for ad in ads))
        bank_dir = workdir / "bank"
        write_bank_manifest(bank_dir, seed=args.seed)
        from streams.clients import redis_client
        from streams.config import redis_prefix

        store = BankStore(redis_client(settings), prefix=redis_prefix(settings))
        added = store.add_from_path("missing_children", bank_dir)
        print(f"demo: {len(ads)} synthetic ads; missing_children bank loaded ({added} entries)",
              flush=True)

        env = {**os.environ, "PYTHONUNBUFFERED": "1", "VIGIL_DEMO_SECRET": DEMO_SECRET}
        sink_out = workdir / "received.jsonl"
        config = workdir / "dispatch.yaml"
        config.write_text(
            "destinations:\n"
            "  - name: on-call\n"
            f"    url: http://127.0.0.1:{args.sink_port}/webhook\n"
            "    secret_env: VIGIL_DEMO_SECRET\n"
            "    min_severity: medium\n"
        )
        procs.start("sink", ["webhook-sink", "--port", str(args.sink_port), "--secret-env",
                             "VIGIL_DEMO_SECRET", "--out", str(sink_out), "--quiet"], env)
        procs.start("dispatch", ["dispatch", "--config", str(config)], env)
        procs.start("worker", ["worker"], env)
        procs.start("ingest", ["ingest", "--http"], env)
        store_url = f"sqlite:///{workdir / 'store.db'}"
        # the generator's ads are posted in a fixed month (October 2026): never purge them by age
        env.update(VIGIL_STORE_URL=store_url, VIGIL_RETENTION_DAYS="0")
        password = _demo_analyst(store_url)
        procs.start("store", ["store"], env)
        procs.start("console", ["console"], env)
        console_url = f"http://127.0.0.1:{settings.console_port}/"
        print(f"demo: console {console_url}  (log in as demo-analyst, password {password}, shown once)", flush=True)
        print_metrics_urls(settings)
        tail = threading.Thread(target=_tail_alerts, args=(sink_out, received, alert_ids, stop), daemon=True)
        tail.start()
        _post_feed(f"http://127.0.0.1:{settings.ingest_port}/ads", ads, procs, _ingest_token(settings))

        wanted = {ad["ad_id"] for ad in ads}
        scored: set[str] = set()
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline and scored < wanted:
            for name, proc in procs.procs:
                if name != "feed" and proc.poll() is not None:
                    procs.check_alive()
            recs = read_topic(settings.kafka_bootstrap, settings.topics.scored,
                              until=lambda r: True, timeout_s=2)
            scored = {r["ad_id"] for r in recs}
        time.sleep(args.linger)  # let the last alerts reach the sink
        print_metrics_urls(settings, check=True)
        first = received[0] - stack_up_wall if received else None
        print(f"demo: {len(scored)}/{len(wanted)} ads scored, {len(received)} alerts delivered"
              + (f", first alert {first:.1f} s after the stack was up" if first is not None else ""),
              flush=True)
        in_inbox = _wait_for_inbox(store_url, set(alert_ids), procs, timeout_s=60)
        print(f"demo: {len(in_inbox)} of the {len(set(alert_ids))} alerts printed are in the console's inbox "
              f"({console_url})", flush=True)
        if args.stay:
            print("demo: --stay: everything keeps running; Ctrl-C stops it", flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                while True:
                    procs.check_alive()
                    time.sleep(1)
        return 0 if received and scored >= wanted and in_inbox >= set(alert_ids) else 1
    finally:
        stop.set()
        procs.stop_all()
        if started:
            print(f"demo: stopping what it started: {', '.join(sorted(started))}", flush=True)
        stack.close()  # stops only what the demo started: a stack that was up stays up


def _demo_analyst(store_url: str) -> str:
    """A demo analyst in the demo's store, with a random password (returned, to print once)."""
    import secrets

    from streams.console.auth import add_user
    from streams.store.db import open_store_engine

    password = secrets.token_urlsafe(12)
    engine = open_store_engine(store_url)
    add_user(engine, "demo-analyst", "analyst", password)
    engine.dispose()
    return password


def _wait_for_inbox(store_url: str, alert_ids: set[str], procs: Processes, timeout_s: float) -> set[str]:
    """The printed alerts the store holds (what the console's inbox lists), once all are there or
    the time is up."""
    from sqlalchemy import select

    from streams.store import schema
    from streams.store.db import make_engine

    engine = make_engine(store_url)
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            with engine.connect() as conn:
                held = set(conn.scalars(select(schema.alerts.c.alert_id)))
            if alert_ids <= held or time.monotonic() > deadline:
                return alert_ids & held
            procs.check_alive()
            time.sleep(0.5)
    finally:
        engine.dispose()


def metrics_urls(settings) -> dict[str, str]:
    """Where each process of the demo serves Prometheus metrics."""
    return {"worker": f"http://127.0.0.1:{settings.metrics_port}/metrics",
            "dispatcher": f"http://127.0.0.1:{settings.dispatch_metrics_port}/metrics",
            "ingest": f"http://127.0.0.1:{settings.ingest_port}/metrics",
            "store": f"http://127.0.0.1:{settings.store_metrics_port}/metrics",
            "console": f"http://127.0.0.1:{settings.console_metrics_port}/metrics"}


def print_metrics_urls(settings, check: bool = False) -> None:
    """One line per process; with `check`, what each /metrics answers now (scored ads, alerts
    delivered, ads ingested)."""
    import urllib.request

    wanted = {"worker": "vigil_ads_scored_total", "dispatcher": "vigil_webhook_deliveries_total",
              "ingest": "vigil_ads_ingested_total", "store": "vigil_store_records_total",
              "console": "vigil_console_request_seconds_count"}
    for name, url in metrics_urls(settings).items():
        line = f"demo: metrics of {name:<10} {url}"
        if check:
            try:
                with urllib.request.urlopen(url, timeout=5) as resp:
                    text = resp.read().decode()
                total = sum(float(x.rsplit(" ", 1)[1]) for x in text.splitlines()
                            if x.startswith(wanted[name]) and not x.startswith("#"))
                line += f"  ({wanted[name]} = {total:g})"
            except OSError as exc:
                line += f"  (not answering: {exc})"
        print(line, flush=True)
    if not check:
        print("demo: scrape them with `prometheus --config.file=deploy/prometheus/prometheus.yml "
              "--web.listen-address=127.0.0.1:9090`; dashboards: deploy/grafana (README, Observability)",
              flush=True)


def _ingest_token(settings) -> str | None:
    """The first bearer token of VIGIL_INGEST_TOKENS_FILE, if the ingest endpoint requires one."""
    from streams.ingest.auth import ingest_tokens

    tokens = ingest_tokens(settings)
    return tokens.first() if tokens else None


def _post_feed(url: str, ads: list[dict], procs: Processes, token: str | None = None, batch: int = 50) -> None:
    """Send the feed through the HTTP ingest, as a producer would (waits for it to listen)."""
    import urllib.error
    import urllib.request

    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"

    deadline = time.monotonic() + 60
    for i in range(0, len(ads), batch):
        body = json.dumps([{k: v for k, v in ad.items() if k != "ground_truth"}
                           for ad in ads[i:i + batch]]).encode()
        while True:
            request = urllib.request.Request(url, data=body, headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=30):
                    break
            except urllib.error.HTTPError as exc:
                raise CliError(f"ingest refused the feed: HTTP {exc.code} {exc.read()[:300]!r}") from exc
            except OSError:
                procs.check_alive()
                if time.monotonic() > deadline:
                    raise CliError(f"ingest at {url} did not answer within 60 s") from None
                time.sleep(0.5)


def _ensure_model(args) -> None:
    from streams.scoring.runtime import DEFAULT_MODEL_PATH

    path = REPO_ROOT / DEFAULT_MODEL_PATH
    if path.exists():
        return
    import importlib.util

    if importlib.util.find_spec("streams.model.command") is None:
        print("demo: no text model trainer in this build; scoring without the model", flush=True)
        return
    print("demo: training the text model (first run only)…", flush=True)
    from streams.model.command import train_default_model

    train_default_model(path)


def register(subparsers) -> None:
    p = subparsers.add_parser("demo", help="run everything end to end on synthetic ads, then stop")
    p.add_argument("--ads", type=int, default=400)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--sink-port", type=int, default=18090)
    p.add_argument("--timeout", type=float, default=240.0)
    p.add_argument("--linger", type=float, default=3.0)
    p.add_argument("--stay", action="store_true", help="keep everything running (console included) until Ctrl-C")
    # the demo prints its own progress lines: its JSON log lines only for warnings and worse
    # (--log-level info brings them back; the processes it starts log to files)
    p.set_defaults(func=run_demo, default_log_level="warning")
