"""The dispatcher against real local HTTP receivers, the real broker and Redis.

In every case: each alert is delivered at least once or is in alerts.dlq (or, for a receiver
still down, parked in Redis for retry), redeliveries carry the same webhook-id, signatures
verify, and offsets are committed once every alert is settled.

The receiver outage lasts VIGIL_TEST_OUTAGE_S seconds (default 60, as issue 6 asks).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import json
import os
import signal
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest
import redis.asyncio as aioredis
from aiohttp import web
from kafka import KafkaAdminClient

from detectors.alerts.routing import Destination, webhook_id
from streams.broker.kafkaio import produce, read_topic
from streams.broker.topics import ensure_topics
from streams.config import load_settings
from streams.dispatch.dispatcher import DELIVERED_TTL_S, DeliveryState, DispatchConfig, Dispatcher
from streams.dispatch.webhooks import verify

SECRET = "whsec_" + "dGVzdC1zZWNyZXQtZm9yLWRpc3BhdGNoLXRlc3Rz"
REPO = Path(__file__).resolve().parents[2]
DEAD_LETTER_SCHEMA = json.loads((REPO / "schemas" / "dead_letter.v1.json").read_text())
OUTAGE_S = float(os.environ.get("VIGIL_TEST_OUTAGE_S", "60"))

Behaviour = Callable[[int], tuple[int, dict, float]]


class Receiver:
    """A real HTTP server on 127.0.0.1 whose answers the test scripts: behave(n) -> (status,
    headers, delay_s) for the n-th request (1-based). Records every request on arrival."""

    def __init__(self, behave: Behaviour) -> None:
        self.behave = behave
        self.requests: list[dict] = []
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        arrived = time.time()
        status, headers, delay = self.behave(len(self.requests) + 1)
        self.requests.append({"id": request.headers.get("webhook-id"), "at": arrived,
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
        await web.TCPSite(self.runner, "127.0.0.1", port).start()
        self.port = self.runner.addresses[0][1]
        return self.port

    async def stop(self) -> None:
        if self.runner:
            await self.runner.cleanup()

    def delivered_ids(self) -> list[str]:
        """Alert ids in 2xx-answered requests (with repeats, to count duplicates)."""
        return [a for r in self.requests if 200 <= r["status"] < 300
                for a in r["body"]["grouped_alert_ids"]]


def ok(_n: int) -> tuple[int, dict, float]:
    return 200, {}, 0.0


def make_alerts(n: int, severity: str = "high", cluster: str | None = None) -> list[dict]:
    now = time.time()
    return [{"schema_version": 1, "alert_id": f"al_{uuid.uuid4().hex[:24]}", "ad_id": f"ad{i}",
             "severity": severity, "risk": 0.9,
             "reasons": [{"code": "x", "contribution": 1.0, "detail": "test reason"}],
             "cluster": {"cluster_id": cluster, "size": n} if cluster else None,
             "source": "test", "location": {"region": "NV"}, "url": f"https://ads.test/{i}",
             "created_at": now, "ingested_at": now} for i in range(n)]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dest(name: str, port: int, **kw) -> Destination:
    defaults = {"max_attempts": 6, "timeout_s": 1.0, "max_age_s": 120.0, "fast_budget_s": 2.0}
    return Destination(name=name, url=f"http://127.0.0.1:{port}/hook", secret=SECRET,
                       min_severity="low", **{**defaults, **kw})


@contextlib.asynccontextmanager
async def dispatching(settings, *destinations: Destination, **config):
    """An in-process dispatcher, running (partitions assigned) inside the block."""
    dispatcher = Dispatcher(settings, DispatchConfig(list(destinations), **config))
    task = asyncio.create_task(dispatcher.run())
    ready = asyncio.create_task(dispatcher.ready.wait())
    await asyncio.wait({task, ready}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        task.result()
    assert dispatcher.ready.is_set(), "the dispatcher never got its partitions"
    try:
        yield dispatcher
    finally:
        dispatcher.stop()
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=30)
        except TimeoutError:  # a liveness failure: show where everything is stuck
            for stuck in asyncio.all_tasks():
                stuck.print_stack(file=sys.stderr)
            raise


async def until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(0.05)


@pytest.fixture
def settings(stack, topic_prefix):
    s = load_settings()
    ensure_topics(s)
    return s


async def publish(settings, alerts: list[dict]) -> None:
    await asyncio.to_thread(produce, settings.kafka_bootstrap, settings.topics.alerts,
                            [(a["alert_id"].encode(), json.dumps(a).encode()) for a in alerts])


def dlq_records(settings, expect: int, timeout_s: float = 20) -> list[dict]:
    records = read_topic(settings.kafka_bootstrap, settings.topics.alerts_dlq,
                         until=lambda r: len(r) >= expect, timeout_s=timeout_s)
    for record in records:
        jsonschema.validate(record, DEAD_LETTER_SCHEMA)
        assert record["stage"] == "dispatch"
    return records


def committed_total(settings, group_id: str) -> int:
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    try:
        offsets = admin.list_group_offsets(group_id)[group_id]
    finally:
        admin.close()
    return sum(meta.offset for tp, meta in offsets.items() if tp.topic == settings.topics.alerts)


async def parked(settings, destination: str) -> set[str]:
    """Alert ids parked in Redis for a destination, awaiting retry."""
    redis = aioredis.Redis.from_url(settings.redis_url)
    try:
        return await DeliveryState(redis, f"vigil:{settings.topic_prefix}dispatch:") \
            .parked_alert_ids(destination)
    finally:
        await redis.aclose()


def assert_signed_with_stable_ids(receiver: Receiver, destination: str) -> None:
    assert receiver.requests and all(r["verified"] for r in receiver.requests)
    for r in receiver.requests:
        assert r["id"] == webhook_id(r["body"]["alert_id"], destination), \
            "webhook-id is not the stable hash of (destination, alert)"


# ---------------------------------------------------------------- the failure cases


def test_500s_are_retried_with_the_same_webhook_id_until_delivered(settings):
    alerts = make_alerts(5)
    wanted = {a["alert_id"] for a in alerts}

    async def scenario():
        flaky = Receiver(lambda n: (500, {}, 0.0) if n <= 12 else (200, {}, 0.0))
        port = await flaky.start()
        async with dispatching(settings, dest("flaky", port, max_attempts=10,
                                              breaker_threshold=50)) as d:
            await publish(settings, alerts)
            await until(lambda: set(flaky.delivered_ids()) >= wanted, 60, "all delivered")
        await flaky.stop()
        return flaky, d

    flaky, d = asyncio.run(scenario())
    assert sorted(flaky.delivered_ids()) == sorted(wanted)
    ids_per_alert = Counter(r["body"]["alert_id"] for r in flaky.requests)
    assert max(ids_per_alert.values()) >= 4  # retried past the in-memory tries ...
    assert d.stats["parked"] >= 1  # ... from Redis
    assert_signed_with_stable_ids(flaky, "flaky")
    assert d.stats["dead_lettered"] == 0
    assert sum(d.committed.values()) == len(alerts)


def test_429_retry_after_is_honoured(settings):
    alerts = make_alerts(1)

    async def scenario():
        limited = Receiver(lambda n: (429, {"Retry-After": "2"}, 0.0) if n == 1
                           else (200, {}, 0.0))
        port = await limited.start()
        async with dispatching(settings, dest("limited", port)):
            await publish(settings, alerts)
            await until(lambda: limited.delivered_ids(), 30, "the delivery")
        await limited.stop()
        return limited

    limited = asyncio.run(scenario())
    first, second = limited.requests
    assert 1.9 <= second["at"] - first["at"] < 4.0
    assert_signed_with_stable_ids(limited, "limited")


def test_timeouts_and_refused_connections_end_in_the_dlq_with_the_last_error(settings):
    alerts = make_alerts(3)
    refused_port = free_port()  # nothing listens here

    async def scenario():
        slow = Receiver(lambda n: (200, {}, 3.0))  # longer than the 1 s time-out
        slow_port = await slow.start()
        async with dispatching(settings, dest("slow", slow_port, max_attempts=2),
                               dest("refused", refused_port, max_attempts=2)) as d:
            await publish(settings, alerts)
            await until(lambda: d.stats["dead_lettered"] == 6, 30, "6 dead letters")
            await until(lambda: sum(d.committed.values()) == 3, 5, "the commit")
        await slow.stop()
        return slow

    slow = asyncio.run(scenario())
    dlq = dlq_records(settings, expect=6)
    by_key = {(r["destination"], r["alert_id"]): r for r in dlq}
    assert len(dlq) == 6
    for a in alerts:
        assert "time-out" in by_key[("slow", a["alert_id"])]["reason"]
        assert "Cannot connect" in by_key[("refused", a["alert_id"])]["reason"]
        for name in ("slow", "refused"):
            record = by_key[(name, a["alert_id"])]
            assert record["attempts"] == 2 and record["error_code"] == "undeliverable"
            assert json.loads(base64.b64decode(record["original_b64"])) == a
            assert record["topic"] == settings.topics.alerts and record["offset"] is not None
    assert_signed_with_stable_ids(slow, "slow")


def test_410_disables_the_destination_for_good_until_reenabled(settings, tmp_path, capsys,
                                                              monkeypatch):
    first, later = make_alerts(3), make_alerts(2)

    async def scenario():
        gone, healthy = Receiver(lambda n: (410, {}, 0.0)), Receiver(ok)
        gp, hp = await gone.start(), await healthy.start()
        dests = (dest("gone", gp), dest("healthy", hp))
        async with dispatching(settings, *dests) as d:
            await publish(settings, first)
            await until(lambda: d.stats["dead_lettered"] == 3, 20, "3 dead letters")
        requests_before_restart = len(gone.requests)
        async with dispatching(settings, *dests) as d2:  # a restart remembers the 410
            await publish(settings, later)
            await until(lambda: d2.stats["dead_lettered"] == 2, 20, "2 more dead letters")
            await until(lambda: len(healthy.delivered_ids()) == 5, 20, "healthy deliveries")
        await gone.stop()
        await healthy.stop()
        return gone, healthy, requests_before_restart

    gone, healthy, requests_before_restart = asyncio.run(scenario())
    assert 1 <= requests_before_restart <= 3  # only those in flight before the first 410
    assert len(gone.requests) == requests_before_restart
    dlq = dlq_records(settings, expect=5)
    assert {r["alert_id"] for r in dlq} == {a["alert_id"] for a in first + later}
    assert all(r["destination"] == "gone" and r["error_code"] == "destination_gone"
               and "410" in r["reason"] for r in dlq)
    assert sorted(healthy.delivered_ids()) == sorted(a["alert_id"] for a in first + later)

    from streams.cli import main

    monkeypatch.setenv("TEST_SECRET", SECRET)
    config = tmp_path / "dispatch.yaml"
    config.write_text(f"destinations:\n  - {{name: gone, url: 'http://127.0.0.1:{gone.port}"
                      "/hook', secret_env: TEST_SECRET}\n")
    capsys.readouterr()
    assert main(["dispatch", "--config", str(config), "--status"]) == 0
    assert "gone: DISABLED" in capsys.readouterr().out
    assert main(["dispatch", "--config", str(config), "--reenable", "gone"]) == 0
    assert main(["dispatch", "--config", str(config), "--status"]) == 0
    assert "gone: enabled" in capsys.readouterr().out


def test_slow_and_dead_receivers_do_not_hold_back_a_healthy_one_or_the_commits(settings):
    alerts = make_alerts(20)
    dead_port = free_port()

    async def scenario():
        slow, healthy = Receiver(lambda n: (200, {}, 2.5)), Receiver(ok)
        sp, hp = await slow.start(), await healthy.start()
        async with dispatching(
            settings, dest("slow", sp, concurrency=1, max_queue=1, timeout_s=5),
            dest("dead", dead_port), dest("healthy", hp),
        ) as d:
            published = time.time()
            await publish(settings, alerts)
            await until(lambda: len(healthy.delivered_ids()) == 20, 10, "healthy deliveries")
            # the dead receiver's alerts are parked in Redis, so every offset gets committed
            await until(lambda: sum(d.committed.values()) == 20, 15, "all offsets committed")
            slow_received_at_commit = len(slow.delivered_ids())
        await slow.stop()
        await healthy.stop()
        return healthy, slow, published, slow_received_at_commit

    healthy, slow, published, slow_received_at_commit = asyncio.run(scenario())
    latencies = [r["at"] - published for r in healthy.requests]
    assert max(latencies) < 2.0, f"healthy receiver waited: {max(latencies):.2f} s"
    assert slow_received_at_commit < 20  # commits did not wait for the slow receiver
    wanted = {a["alert_id"] for a in alerts}
    assert asyncio.run(parked(settings, "dead")) == wanted
    assert set(slow.delivered_ids()) | asyncio.run(parked(settings, "slow")) == wanted
    assert_signed_with_stable_ids(healthy, "healthy")
    assert_signed_with_stable_ids(slow, "slow")


def test_receiver_down_for_a_while_then_back_gets_everything(settings):
    alerts = make_alerts(4)
    wanted = {a["alert_id"] for a in alerts}
    port = free_port()

    async def scenario():
        receiver = Receiver(ok)
        destination = dest("later", port, max_attempts=100, max_age_s=600, backoff_cap_s=8,
                           breaker_cooldown_s=2, breaker_max_cooldown_s=8)
        async with dispatching(settings, destination) as d:
            await publish(settings, alerts)
            await asyncio.sleep(OUTAGE_S)
            committed_during_outage = sum(d.committed.values())
            await receiver.start(port)
            back = time.time()
            await until(lambda: set(receiver.delivered_ids()) >= wanted, 60, "recovery")
        await receiver.stop()
        return receiver, committed_during_outage, back

    receiver, committed_during_outage, back = asyncio.run(scenario())
    assert committed_during_outage == 4  # parked in Redis, not holding the partition
    assert sorted(receiver.delivered_ids()) == sorted(wanted)  # once each
    assert max(r["at"] for r in receiver.requests) - back < 20
    assert_signed_with_stable_ids(receiver, "later")


def test_sigkill_mid_delivery_then_restart_delivers_everything_with_the_same_ids(
    settings, tmp_path
):
    alerts = make_alerts(30)
    wanted = {a["alert_id"] for a in alerts}
    config = tmp_path / "dispatch.yaml"
    group_id = f"{settings.topic_prefix}vigil-dispatch"

    async def scenario():
        receiver = Receiver(lambda n: (200, {}, 0.3))
        port = await receiver.start()
        config.write_text(
            "group_interval_s: 0\ndestinations:\n"
            f"  - {{name: r, url: 'http://127.0.0.1:{port}/hook', secret_env: TEST_SECRET, "
            "min_severity: low, concurrency: 2}\n")
        env = {**os.environ, "TEST_SECRET": SECRET}
        cmd = [sys.executable, "-m", "streams.cli", "dispatch", "--config", str(config),
               "--metrics-port", "0"]

        async def start():
            return await asyncio.create_subprocess_exec(
                *cmd, cwd=REPO, env=env, start_new_session=True,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)

        await publish(settings, alerts)
        first = await start()
        await until(lambda: len(receiver.requests) >= 5, 60, "deliveries to begin")
        os.killpg(first.pid, signal.SIGKILL)
        await first.wait()
        killed_after = len(receiver.requests)
        second = await start()
        try:
            await until(lambda: set(receiver.delivered_ids()) >= wanted, 90, "all delivered")
        finally:
            os.killpg(second.pid, signal.SIGTERM)
            await asyncio.wait_for(second.wait(), 30)
        await receiver.stop()
        return receiver, killed_after, second.returncode

    receiver, killed_after, returncode = asyncio.run(scenario())
    assert 5 <= killed_after < 30, "the kill did not land mid-delivery"
    assert returncode == 0
    assert set(receiver.delivered_ids()) == wanted
    repeats = [a for a, n in Counter(receiver.delivered_ids()).items() if n > 1]
    assert len(repeats) <= 2, f"more redeliveries than requests in flight: {repeats}"
    assert_signed_with_stable_ids(receiver, "r")
    assert committed_total(settings, group_id) == 30


def test_cluster_alerts_fold_into_one_notification_and_critical_goes_alone(settings):
    burst = make_alerts(5, cluster="c1")
    critical = make_alerts(1, severity="critical", cluster="c1")
    other = make_alerts(1, cluster="c2")

    async def scenario():
        receiver = Receiver(ok)
        port = await receiver.start()
        async with dispatching(settings, dest("r", port), group_wait_s=1.0,
                               group_interval_s=30) as d:
            await publish(settings, burst + critical + other)
            await until(lambda: len(receiver.requests) >= 3, 20, "3 notifications")
            await asyncio.sleep(0.5)
            await until(lambda: sum(d.committed.values()) == 7, 5, "the commit")
        await receiver.stop()
        return receiver

    receiver = asyncio.run(scenario())
    bodies = sorted((r["body"] for r in receiver.requests), key=lambda b: -b["grouped_count"])
    assert [b["grouped_count"] for b in bodies] == [5, 1, 1]
    assert set(bodies[0]["grouped_alert_ids"]) == {a["alert_id"] for a in burst}
    assert "5 alerts in cluster" in bodies[0]["summary"]
    assert {b["alert_id"] for b in bodies[1:]} == {critical[0]["alert_id"],
                                                   other[0]["alert_id"]}
    assert_signed_with_stable_ids(receiver, "r")


def test_an_alert_already_delivered_is_not_delivered_again(settings):
    alert = make_alerts(1)[0]

    async def scenario():
        receiver = Receiver(lambda n: (200, {}, 0.5))
        port = await receiver.start()
        async with dispatching(settings, dest("r", port)) as d:
            await publish(settings, [alert, alert])  # a duplicate record, in flight together
            await until(lambda: receiver.delivered_ids(), 10, "the delivery")
            await asyncio.sleep(0.6)
            await publish(settings, [alert])  # and once more after it was delivered
            await until(lambda: sum(d.committed.values()) == 3, 10, "all three settled")
        await receiver.stop()
        return receiver

    receiver = asyncio.run(scenario())
    assert receiver.delivered_ids() == [alert["alert_id"]]


def test_a_delivered_mark_lives_no_longer_than_the_retention_cap(settings):
    """VIGIL_RETENTION_DAYS caps the alerts topic, so no alert comes back after it: the
    dispatcher's per-alert delivered mark expires by then too (14 days when no cap is shorter)."""
    capped = dataclasses.replace(settings, retention_days=0.25)  # 6 hours
    alerts = make_alerts(2)

    async def scenario(run_settings, alert):
        receiver = Receiver(lambda n: (200, {}, 0.0))
        port = await receiver.start()
        async with dispatching(run_settings, dest("r", port)) as d:
            await publish(run_settings, [alert])
            await until(lambda: alert["alert_id"] in receiver.delivered_ids(), 10, "the delivery")
            await until(lambda: sum(d.committed.values()) >= 1, 10, "the delivery to settle")
        await receiver.stop()
        redis = aioredis.Redis.from_url(settings.redis_url)
        try:
            state = DeliveryState(redis, f"vigil:{settings.topic_prefix}dispatch:")
            return await redis.ttl(state.delivered_key("r", alert["alert_id"]))
        finally:
            await redis.aclose()

    ttl_capped = asyncio.run(scenario(capped, alerts[0]))
    assert 6 * 3600 - 60 < ttl_capped <= 6 * 3600
    ttl_default = asyncio.run(scenario(dataclasses.replace(settings, retention_days=365), alerts[1]))
    assert DELIVERED_TTL_S - 60 < ttl_default <= DELIVERED_TTL_S


def test_replay_dlq_resends_dead_letters_with_the_same_webhook_id(settings, tmp_path):
    alerts = make_alerts(3)
    accepting = {"now": False}

    async def scenario():
        receiver = Receiver(lambda n: (200 if accepting["now"] else 400, {}, 0.0))
        port = await receiver.start()
        destination = dest("r", port)
        async with dispatching(settings, destination) as d:
            await publish(settings, alerts)
            await until(lambda: d.stats["dead_lettered"] == 3, 20, "3 rejections dead-lettered")
        accepting["now"] = True
        config = tmp_path / "dispatch.yaml"
        config.write_text(f"destinations:\n  - {{name: r, url: '{destination.url}', "
                          "secret_env: TEST_SECRET, min_severity: low}\n")
        replay = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "streams.cli", "dispatch", "--config", str(config),
            "--replay-dlq", cwd=REPO, env={**os.environ, "TEST_SECRET": SECRET},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(replay.communicate(), 90)
        await receiver.stop()
        return receiver, replay.returncode, out.decode(), err.decode()

    receiver, code, out, err = asyncio.run(scenario())
    assert code == 0, err[-2000:]
    assert "replayed 3 dead-lettered deliveries: 3 delivered" in out
    rejected = {r["body"]["alert_id"]: r["id"] for r in receiver.requests if r["status"] == 400}
    accepted = {r["body"]["alert_id"]: r["id"] for r in receiver.requests if r["status"] == 200}
    assert rejected == accepted and len(accepted) == 3
    assert_signed_with_stable_ids(receiver, "r")
