"""`vigil bench dispatch`: alert produced → webhook received latency at a steady rate.

Alerts are produced onto a fresh `alerts` topic at `--rate` per second for `--seconds`; the
dispatcher (in process) delivers them to a healthy local receiver that records arrival times.
The baseline is a bare signed aiohttp POST loop to the same receiver at the same rate (no Kafka,
no Redis), measured in the same run, so the ratio shows what the delivery guarantees cost.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
import uuid

import numpy as np


def _percentiles(values: list[float]) -> dict[str, float]:
    arr = np.array(values) * 1000.0
    return {f"p{q}": float(np.percentile(arr, q)) for q in (50, 95, 99)} | {"max": float(arr.max())}


async def _bench(rate: float, seconds: float) -> dict:
    from aiohttp import web

    from detectors.alert_routing import Destination
    from streams.config import load_settings
    from streams.dispatch import DispatchConfig, Dispatcher
    from streams.ingest import make_producer
    from streams.stack import ensure_stack
    from streams.topics import ensure_topics
    from streams.webhooks import sign

    secret = "whsec_" + "YmVuY2gtb25seS1zZWNyZXQtYmVuY2gtb25seQ=="
    arrivals: dict[str, float] = {}

    async def handle(request: web.Request) -> web.Response:
        body = await request.json()
        now = time.time()
        for alert_id in body.get("grouped_alert_ids", [body.get("alert_id")]):
            arrivals[alert_id] = now
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}/hook"
    n = int(rate * seconds)

    # baseline: bare signed POSTs at the same rate, same HTTP client library
    import aiohttp

    base_lat: list[float] = []
    async with aiohttp.ClientSession() as client:
        async def one(i: int) -> None:
            body = json.dumps({"alert_id": f"b{i}", "grouped_alert_ids": [f"b{i}"]})
            started = time.time()
            async with client.post(url, data=body.encode(),
                                   headers=sign(secret, f"msg_b{i}", body)) as resp:
                await resp.read()
            base_lat.append(time.time() - started)

        tasks = []
        t0 = time.monotonic()
        for i in range(n):
            await asyncio.sleep(max(0.0, t0 + i / rate - time.monotonic()))
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)

    # vigil: produce at the rate, dispatcher delivers
    os.environ["VIGIL_TOPIC_PREFIX"] = f"bench{uuid.uuid4().hex[:8]}."
    settings = load_settings()
    ensure_stack(settings)
    ensure_topics(settings)
    dispatcher = Dispatcher(settings, DispatchConfig(
        [Destination("bench", url, secret, min_severity="low", rate_per_s=rate * 4,
                     concurrency=16)], group_interval_s=0))
    run = asyncio.create_task(dispatcher.run())
    await asyncio.wait_for(dispatcher.ready.wait(), timeout=60)  # consumer group joined
    await asyncio.sleep(1.0)
    produced: dict[str, float] = {}

    def produce() -> None:
        producer = make_producer(settings)
        t0 = time.monotonic()
        for i in range(n):
            delay = t0 + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            alert_id = f"al_bench{i:08d}"
            now = time.time()
            produced[alert_id] = now
            alert = {"schema_version": 1, "alert_id": alert_id, "ad_id": f"ad{i}", "severity": "high",
                     "risk": 0.9, "reasons": [{"code": "bench", "contribution": 1.0, "detail": "bench"}],
                     "cluster": None, "created_at": now}
            producer.send(settings.topics.alerts, key=alert_id.encode(), value=json.dumps(alert).encode())
        producer.flush()
        producer.close()

    thread = threading.Thread(target=produce)
    thread.start()
    while thread.is_alive():
        await asyncio.sleep(0.1)
    deadline = time.monotonic() + 30
    while len([a for a in produced if a in arrivals]) < n and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    dispatcher.stop()
    await run
    await runner.cleanup()
    lat = [arrivals[a] - produced[a] for a in produced if a in arrivals]
    return {"n": n, "delivered": len(lat), "vigil": _percentiles(lat), "baseline": _percentiles(base_lat)}


def run_bench(args) -> int:
    result = asyncio.run(_bench(args.rate, args.seconds))
    v, b = result["vigil"], result["baseline"]
    print(f"dispatch benchmark: {result['n']} alerts at {args.rate:.0f}/s, "
          f"{result['delivered']} delivered")
    print(f"{'path':<44}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'max ms':>10}")
    print(f"{'vigil: produced -> Kafka -> dispatch -> webhook':<44}"
          + "".join(f"{v[k]:>10.1f}" for k in ("p50", "p95", "p99", "max")))
    print(f"{'baseline: bare signed POST':<44}"
          + "".join(f"{b[k]:>10.1f}" for k in ("p50", "p95", "p99", "max")))
    print(f"ratio p99 vigil / baseline: {v['p99'] / max(b['p99'], 1e-9):.1f}x; "
          f"target p99 < 250 ms: {'met' if v['p99'] < 250 else 'NOT met'}")
    return 0 if result["delivered"] == result["n"] else 1


def register_bench(subparsers) -> None:
    p = subparsers.add_parser("dispatch", help="alert → webhook latency at a steady rate")
    p.add_argument("--rate", type=float, default=200.0, help="alerts per second")
    p.add_argument("--seconds", type=float, default=10.0)
    p.set_defaults(func=run_bench)
