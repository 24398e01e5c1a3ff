"""`vigil bench dispatch`: alert produced → webhook received latency at a steady rate.

Three processes, as in production: the signature-verifying receiver (`vigil webhook-sink`), the
dispatcher (`vigil dispatch`) and this process, which produces alerts onto a fresh `alerts`
topic at `--rate` per second. Latency is the receiver's arrival time minus the moment the alert
was handed to the Kafka producer (same machine, same clock).

The baseline, measured in the same run against the same receiver: a bare loop of signed aiohttp
POSTs at the same rate (no Kafka, no Redis, no dispatcher), so the ratio shows what the trip
through Kafka and the delivery guarantees cost.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

from streams.errors import CliError
from streams.processes import stop_process_group

REPO = Path(__file__).resolve().parents[2]
SECRET_ENV = "VIGIL_BENCH_SECRET"
WARMUP = 20


def _percentiles(values: list[float]) -> dict[str, float]:
    arr = np.array(values or [float("nan")]) * 1000.0
    return {f"p{q}": float(np.percentile(arr, q)) for q in (50, 95, 99)} | {"max": float(arr.max())}


def _arrivals(out: Path) -> dict[str, float]:
    """alert id → first verified arrival time, from the sink's JSON lines."""
    arrivals: dict[str, float] = {}
    if not out.exists():
        return arrivals
    for line in out.read_text().splitlines():
        record = json.loads(line)
        if not record.get("verified"):
            continue
        payload = record["payload"]
        for alert_id in payload.get("grouped_alert_ids") or [payload.get("alert_id")]:
            arrivals.setdefault(alert_id, record["received_at"])
    return arrivals


async def _wait_for(out: Path, ids: set[str], timeout_s: float) -> dict[str, float]:
    deadline = time.monotonic() + timeout_s
    while True:
        arrivals = _arrivals(out)
        if ids <= arrivals.keys() or time.monotonic() > deadline:
            return arrivals
        await asyncio.sleep(0.2)


def _alert(i: int, tag: str) -> dict:
    now = time.time()
    return {"schema_version": 1, "alert_id": f"al_{tag}{i:08d}", "ad_id": f"ad{i}",
            "severity": "high", "risk": 0.9, "source": "bench", "url": f"https://ads.test/{i}",
            "reasons": [{"code": "bench", "contribution": 1.0, "detail": "benchmark alert"}],
            "cluster": None, "created_at": now, "ingested_at": now}


async def _paced(n: int, rate: float, send) -> dict[str, float]:
    """Call `send(i)` n times at `rate` per second; returns alert id → time handed over."""
    sent: dict[str, float] = {}
    t0 = time.monotonic()
    for i in range(n):
        delay = t0 + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        alert_id, at = await send(i)
        sent[alert_id] = at
    return sent


async def _baseline(url: str, secret: str, n: int, rate: float, out: Path) -> list[float]:
    import aiohttp

    from streams.dispatch.webhooks import sign

    tasks: list[asyncio.Task] = []
    async with aiohttp.ClientSession() as http:
        async def post(body: str, msg_id: str) -> None:
            async with http.post(url, data=body.encode(), headers=sign(secret, msg_id, body)) as r:
                await r.read()

        async def send(i: int) -> tuple[str, float]:
            alert = _alert(i, "base")
            body = json.dumps({"alert_id": alert["alert_id"], "alert": alert,
                               "grouped_alert_ids": [alert["alert_id"]]})
            at = time.time()
            tasks.append(asyncio.create_task(post(body, f"msg_base{i}")))
            return alert["alert_id"], at

        sent = await _paced(n, rate, send)
        await asyncio.gather(*tasks)
    arrivals = await _wait_for(out, set(sent), 10)
    return [arrivals[a] - t for a, t in sent.items() if a in arrivals]


async def _through_vigil(settings, n: int, rate: float, out: Path,
                         on_warm=lambda: None) -> list[float]:
    from streams.clients import aio_producer

    producer = aio_producer(settings, acks="all", linger_ms=0)
    await producer.start()
    try:
        async def send_one(i: int, tag: str) -> tuple[str, float]:
            alert = _alert(i, tag)
            await producer.send(settings.topics.alerts, json.dumps(alert).encode(),
                                key=alert["alert_id"].encode())
            return alert["alert_id"], alert["created_at"]

        warm = await _paced(WARMUP, 20, lambda i: send_one(i, "warm"))
        if not set(warm) <= (await _wait_for(out, set(warm), 90)).keys():
            raise CliError("the dispatcher delivered nothing within 90 s (see its log above)")
        on_warm()
        sent = await _paced(n, rate, lambda i: send_one(i, "bench"))
        await producer.flush()
    finally:
        await producer.stop()
    arrivals = await _wait_for(out, set(sent), 30)
    return [arrivals[a] - t for a, t in sent.items() if a in arrivals]


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _start(args: list[str], env: dict, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "streams.cli", *args], cwd=REPO, env=env,
                            start_new_session=True, **kw)


def _stop(proc: subprocess.Popen) -> None:
    stop_process_group(proc)


def _bench(rate: float, seconds: float) -> dict:
    from streams.config import load_settings
    from streams.stack.launcher import services

    os.environ["VIGIL_TOPIC_PREFIX"] = f"bench{uuid.uuid4().hex[:8]}."
    settings = load_settings()
    with services(settings, kafka=True, redis=True):  # stopped again if this run started them
        return _bench_on_stack(rate, seconds, settings)


def _bench_on_stack(rate: float, seconds: float, settings) -> dict:
    from streams.broker.topics import ensure_topics
    from streams.dispatch.webhooks import new_secret

    ensure_topics(settings)
    secret = new_secret()
    env = {**os.environ, SECRET_ENV: secret, "PYTHONUNBUFFERED": "1"}
    n = int(rate * seconds)
    with tempfile.TemporaryDirectory(prefix="vigil-bench-") as tmp:
        out, config = Path(tmp) / "received.jsonl", Path(tmp) / "dispatch.yaml"
        sink = _start(["webhook-sink", "--port", "0", "--secret-env", SECRET_ENV, "--out",
                       str(out), "--quiet"], env, stdout=subprocess.PIPE, text=True)
        dispatcher = None
        try:
            line = sink.stdout.readline()
            if "listening on" not in line:
                raise CliError("the webhook sink did not start")
            url = line.split("listening on ", 1)[1].strip() + "hook"
            base = asyncio.run(_baseline(url, secret, n, rate, out))
            config.write_text(
                "group_wait_s: 0\ndestinations:\n"
                f"  - {{name: bench, url: '{url}', secret_env: {SECRET_ENV}, "
                f"min_severity: low, rate_per_s: {rate * 4:g}, concurrency: 16}}\n")
            dispatcher = _start(["dispatch", "--config", str(config), "--metrics-port", "0"],
                                env)
            cpu_at_warm: list[float] = []
            vigil = asyncio.run(_through_vigil(
                settings, n, rate, out,
                on_warm=lambda: cpu_at_warm.append(_cpu_seconds(dispatcher.pid))))
            dispatcher_cpu = _cpu_seconds(dispatcher.pid) - cpu_at_warm[0]
        finally:
            if dispatcher is not None:
                _stop(dispatcher)
            _stop(sink)
    return {"n": n, "delivered": len(vigil), "vigil": _percentiles(vigil),
            "baseline": _percentiles(base), "cpu_ms_per_alert": dispatcher_cpu / n * 1000,
            "load": os.getloadavg()[0]}


def run_bench(args) -> int:
    result = _bench(args.rate, args.seconds)
    v, b = result["vigil"], result["baseline"]
    print(f"dispatch benchmark: {result['n']} alerts at {args.rate:g}/s, "
          f"{result['delivered']} delivered (receiver and dispatcher in their own processes)")
    print(f"{'path':<52}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    print(f"{'vigil: produce -> Kafka -> dispatch -> signed POST':<52}"
          + "".join(f"{v[k]:>9.1f}" for k in ("p50", "p95", "p99", "max")))
    print(f"{'baseline: bare signed aiohttp POST, same rate':<52}"
          + "".join(f"{b[k]:>9.1f}" for k in ("p50", "p95", "p99", "max")))
    print(f"ratio p99 vigil / baseline: {v['p99'] / max(b['p99'], 1e-9):.1f}x; "
          f"target p99 < 250 ms: {'met' if v['p99'] < 250 else 'NOT met'}")
    print(f"dispatcher CPU {result['cpu_ms_per_alert']:.2f} ms per alert after warm-up; "
          f"machine load average {result['load']:.1f} on {os.cpu_count()} cores")
    return 0 if result["delivered"] == result["n"] else 1


def register_bench(subparsers) -> None:
    p = subparsers.add_parser("dispatch", help="alert produced → webhook received latency")
    p.add_argument("--rate", type=float, default=200.0, help="alerts per second")
    p.add_argument("--seconds", type=float, default=10.0)
    p.set_defaults(func=run_bench)
