"""Alert suppression in the real Redis: one cluster's first alert is taken once, even by two
workers deciding at the same moment, and a redelivered ad gets its own alert again."""

from __future__ import annotations

import threading
import uuid

import pytest
import redis

from streams.scoring.runtime import RedisSuppression


@pytest.fixture
def prefix(stack):
    prefix = f"vigil:t{uuid.uuid4().hex[:10]}:"
    yield prefix
    client = redis.Redis.from_url(stack.redis_url)
    for key in client.scan_iter(match=f"{prefix}*"):
        client.delete(key)


def test_two_workers_racing_on_a_cluster_send_its_first_alert_once(stack, prefix):
    clusters = [f"phone:{i}" for i in range(300)]
    workers = [RedisSuppression(redis.Redis.from_url(stack.redis_url), prefix) for _ in range(2)]
    sent: dict[str, list[str]] = {c: [] for c in clusters}
    barrier = threading.Barrier(2)

    def worker(name: str, suppression: RedisSuppression) -> None:
        for cluster in clusters:
            barrier.wait()  # both decide on the same cluster at the same moment
            if suppression.check(cluster, "high", 3, f"{name}-{cluster}").send:
                sent[cluster].append(name)

    threads = [threading.Thread(target=worker, args=(f"w{i}", s)) for i, s in enumerate(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert all(len(names) == 1 for names in sent.values()), \
        {c: n for c, n in sent.items() if len(n) != 1}


def test_redelivered_ad_is_sent_again_and_others_are_suppressed(stack, prefix):
    suppression = RedisSuppression(redis.Redis.from_url(stack.redis_url), prefix)
    first = suppression.check("phone:x", "high", 3, "ad-1")
    assert first.send and first.why == "first alert for this cluster"
    assert not suppression.check("phone:x", "high", 4, "ad-2").send
    again = suppression.check("phone:x", "high", 3, "ad-1")
    assert again.send and again.why == first.why
    assert suppression.check("phone:x", "critical", 4, "ad-3").send  # severity rose
