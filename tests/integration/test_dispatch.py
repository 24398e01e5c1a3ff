"""The dispatcher against real local HTTP receivers, the real broker and Redis.

In every case: each alert is delivered at least once or is in alerts.dlq, redeliveries carry
the same webhook-id, and signatures verify.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from aiohttp import web

from detectors.alert_routing import Destination
from streams.config import load_settings
from streams.dispatch import DispatchConfig, Dispatcher
from streams.kafkaio import produce, read_topic
from streams.topics import ensure_topics
from streams.webhooks import verify

SECRET = "whsec_" + "dGVzdC1zZWNyZXQtZm9yLWRpc3BhdGNoLXRlc3Rz"
REPO = Path(__file__).resolve().parents[2]


class Receiver:
    """A real HTTP server on 127.0.0.1 whose answers a test scripts: behave(n) -> (status,
    headers, delay_s) for the n-th request (1-based)."""

    def __init__(self, behave: Callable[[int], tuple[int, dict, float]]) -> None:
        self.behave = behave
        self.requests: list[dict] = []
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        n = len(self.requests) + 1
        status, headers, delay = self.behave(n)
        self.requests.append({"id": request.headers.get("webhook-id"), "at": time.time(),
                              "verified": verify(SECRET, body, dict(request.headers)),
                              "status": status, "body": json.loads(body)})
        if delay:
            await asyncio.sleep(delay)
        return web.Response(status=status, headers=headers, text="{}")

    async def start(self, port: int = 0) -> int:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        if self.runner:
            await self.runner.cleanup()

    def delivered_ids(self) -> set[str]:
        return {a for r in self.requests if 200 <= r["status"] < 300
                for a in r["body"]["grouped_alert_ids"]}


def ok(_n: int) -> tuple[int, dict, float]:
    return 200, {}, 0.0


def make_alerts(n: int, severity: str = "high") -> list[dict]:
    now = time.time()
    return [{"schema_version": 1, "alert_id": f"al_{uuid.uuid4().hex[:24]}", "ad_id": f"ad{i}",
             "severity": severity, "risk": 0.9, "reasons": [{"code": "x", "contribution": 1.0,
                                                             "detail": "test reason"}],
             "cluster": None, "source": "test", "location": {"region": "NV"},
             "created_at": now, "ingested_at": now} for i in range(n)]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dest(name: str, port: int, **kw) -> Destination:
    defaults = {"max_attempts": 6, "timeout_s": 1.0, "max_age_s": 120.0}
    return Destination(name=name, url=f"http://127.0.0.1:{port}/hook", secret=SECRET,
                       min_severity="low", **{**defaults, **kw})


async def run_until(dispatcher: Dispatcher, done: Callable[[], bool], timeout_s: float) -> None:
    task = asyncio.create_task(dispatcher.run())
    deadline = time.monotonic() + timeout_s
    while not done() and time.monotonic() < deadline:
        if task.done():
            task.result()
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)  # let the committer record the frontier
    dispatcher.stop()
    await task


@pytest.fixture
def settings(stack, topic_prefix):
    s = load_settings()
    ensure_topics(s)
    return s


def publish(settings, alerts: list[dict]) -> None:
    produce(settings.kafka_bootstrap, settings.topics.alerts,
            [(a["alert_id"].encode(), json.dumps(a).encode()) for a in alerts])


def dlq_records(settings, expect: int, timeout_s: float = 15) -> list[dict]:
    return read_topic(settings.kafka_bootstrap, settings.topics.alerts_dlq,
                      until=lambda r: len(r) >= expect, timeout_s=timeout_s)


def assert_all_signed_and_ids_stable(receiver: Receiver) -> None:
    assert all(r["verified"] for r in receiver.requests)
    by_alert: dict[str, set[str]] = {}
    for r in receiver.requests:
        by_alert.setdefault(r["body"]["alert_id"], set()).add(r["id"])
    assert all(len(ids) == 1 for ids in by_alert.values()), "a redelivery changed its webhook-id"


def test_500s_then_success_are_retried_with_the_same_webhook_id(settings):
    alerts = make_alerts(5)
    publish(settings, alerts)

    async def scenario():
        flaky = Receiver(lambda n: (500, {}, 0.0) if n <= 6 else (200, {}, 0.0))
        port = await flaky.start()
        d = Dispatcher(settings, DispatchConfig([dest("flaky", port)]))
        await run_until(d, lambda: flaky.delivered_ids() >= {a["alert_id"] for a in alerts}, 60)
        await flaky.stop()
        return flaky

    flaky = asyncio.run(scenario())
    assert flaky.delivered_ids() == {a["alert_id"] for a in alerts}
    assert len(flaky.requests) > len(alerts)  # there were retries
    assert_all_signed_and_ids_stable(flaky)


def test_429_retry_after_is_honoured(settings):
    alerts = make_alerts(1)
    publish(settings, alerts)

    async def scenario():
        limited = Receiver(lambda n: (429, {"Retry-After": "2"}, 0.0) if n == 1 else (200, {}, 0.0))
        port = await limited.start()
        d = Dispatcher(settings, DispatchConfig([dest("limited", port)]))
        await run_until(d, lambda: len(limited.delivered_ids()) == 1, 30)
        await limited.stop()
        return limited

    limited = asyncio.run(scenario())
    first, second = limited.requests[0], limited.requests[1]
    assert second["at"] - first["at"] >= 1.9
    assert first["id"] == second["id"]


def test_timeouts_refused_and_410_end_in_the_dlq_with_the_last_error(settings):
    alerts = make_alerts(3)
    publish(settings, alerts)
    refused_port = free_port()  # nothing listens here

    async def scenario():
        slow = Receiver(lambda n: (200, {}, 3.0))  # longer than the 1 s time-out
        gone = Receiver(lambda n: (410, {}, 0.0))
        slow_port, gone_port = await slow.start(), await gone.start()
        d = Dispatcher(settings, DispatchConfig([
            dest("slow", slow_port, max_attempts=2),
            dest("refused", refused_port, max_attempts=2),
            dest("gone", gone_port),
        ]))
        await run_until(d, lambda: False, 12)
        await slow.stop()
        await gone.stop()
        return slow, gone

    slow, gone = asyncio.run(scenario())
    dlq = dlq_records(settings, expect=9)
    reasons = {(r["destination"], r["alert_id"]): r["reason"] for r in dlq}
    for a in alerts:
        assert "time-out" in reasons[("slow", a["alert_id"])]
        assert "Connect" in reasons[("refused", a["alert_id"])]
        assert "410" in reasons[("gone", a["alert_id"])]
    # after a 410 nothing is retried: each alert reached the gone receiver at most once
    # (those already in flight when the first 410 came back), and nothing after the test's load
    gone_ids = [r["body"]["alert_id"] for r in gone.requests]
    assert len(gone_ids) == len(set(gone_ids)) <= len(alerts)
    assert all(json.loads(__import__("base64").b64decode(r["original_b64"]))["alert_id"]
               for r in dlq)


def test_slow_receiver_does_not_hold_back_a_healthy_one(settings):
    alerts = make_alerts(20)
    publish(settings, alerts)

    async def scenario():
        slow = Receiver(lambda n: (200, {}, 2.0))
        healthy = Receiver(ok)
        sp, hp = await slow.start(), await healthy.start()
        d = Dispatcher(settings, DispatchConfig([dest("slow", sp, concurrency=1, timeout_s=5),
                                                 dest("healthy", hp)]))
        await run_until(d, lambda: len(healthy.delivered_ids()) == 20, 30)
        await slow.stop()
        await healthy.stop()
        return healthy

    healthy = asyncio.run(scenario())
    produced = min(a["created_at"] for a in alerts)
    latest = max(r["at"] for r in healthy.requests)
    assert latest - produced < 10, "the healthy receiver waited for the slow one"
    assert_all_signed_and_ids_stable(healthy)


def test_receiver_down_for_60_seconds_then_back_gets_everything(settings):
    alerts = make_alerts(4)
    publish(settings, alerts)
    port = free_port()

    async def scenario():
        receiver = Receiver(ok)
        d = Dispatcher(settings, DispatchConfig([dest("later", port, max_attempts=20,
                                                      max_age_s=300)]))
        run = asyncio.create_task(run_until(
            d, lambda: receiver.delivered_ids() >= {a["alert_id"] for a in alerts}, 180))
        await asyncio.sleep(60)
        await receiver.start(port)
        await run
        await receiver.stop()
        return receiver

    receiver = asyncio.run(scenario())
    assert receiver.delivered_ids() == {a["alert_id"] for a in alerts}
    assert_all_signed_and_ids_stable(receiver)


def test_sigkill_mid_delivery_then_restart_delivers_everything_once_or_again_same_id(
    settings, tmp_path
):
    alerts = make_alerts(30)
    publish(settings, alerts)
    config = tmp_path / "dispatch.yaml"

    async def scenario():
        receiver = Receiver(lambda n: (200, {}, 0.3))
        port = await receiver.start()
        config.write_text(
            "group_interval_s: 0\ndestinations:\n"
            f"  - {{name: r, url: 'http://127.0.0.1:{port}/hook', secret_env: TEST_SECRET, "
            "min_severity: low, concurrency: 2}\n")
        env = {**os.environ, "TEST_SECRET": SECRET}
        cmd = [sys.executable, "-m", "streams.cli", "dispatch", "--config", str(config)]
        first = subprocess.Popen(cmd, cwd=REPO, env=env, start_new_session=True,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while len(receiver.requests) < 5 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
        killed_after = len(receiver.requests)
        second = subprocess.Popen(cmd, cwd=REPO, env=env, start_new_session=True,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 90
        wanted = {a["alert_id"] for a in alerts}
        while not receiver.delivered_ids() >= wanted and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        os.killpg(second.pid, signal.SIGTERM)
        second.wait(timeout=30)
        await receiver.stop()
        return receiver, killed_after

    receiver, killed_after = asyncio.run(scenario())
    assert 5 <= killed_after < 30, "the kill did not land mid-delivery"
    assert receiver.delivered_ids() == {a["alert_id"] for a in alerts}
    assert_all_signed_and_ids_stable(receiver)
