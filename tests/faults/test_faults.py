"""The fault suite: real `vigil worker` processes, the real broker and Redis, one fault each.

Every test first checks that its fault landed while ads were still unscored (the workers are
slowed a little, VIGIL_TEST_SCORE_DELAY_MS, so that it does; a worker that had finished would
prove nothing), and ends with the full accounting (tests/faults/harness.py), read from each
topic to the end offsets taken after the run: every produced ad is on ads.scored at least once
(copies identical) or on ads.dlq with its reason; every alert is on `alerts` with the same id the
clean batch run gives (and, with the dispatcher, at the webhook or on alerts.dlq), and no other;
and the link state in Redis equals the clean run's.
"""

from __future__ import annotations

import base64
import time

import pytest

from streams.config import load_settings
from tests.faults.harness import (
    assert_accounted,
    assert_alerts,
    assert_alerts_match_scored,
    assert_link_state,
    assert_matches_reference,
    free_port,
    log_mentions,
    log_messages,
    produce_corpus,
    read_alerts,
    read_jsonl,
    read_to_end,
    reference_run,
    scored_by_the_fault,
    service_down,
    start_service,
    stop_service,
    wait_accounted,
    wait_for,
    wait_group_members,
    wait_scored,
)

BROKER_DOWN_S = 20
REDIS_DOWN_S = 8
RECEIVER_DOWN_S = 60


def test_worker_killed_with_sigkill_mid_stream_and_restarted(fault_env, procs, corpus,
                                                             reference):
    """SIGKILL (no shutdown, no commit) after a third of the ads; a new worker on the same
    table store takes over from the last committed offset: the ads processed since are
    redelivered, re-emitted identically, and nothing is lost or counted twice."""
    produce_corpus(corpus)
    expected = {ad_id for ad_id, _ in corpus}
    first = procs.worker("worker-1")
    wait_scored(len(corpus) // 3, abort_if=procs.abort_if_any_died(first))
    first.kill()
    at_kill = {r["ad_id"] for r in read_to_end(load_settings().topics.scored)}
    assert len(at_kill) < len(expected), "the worker had scored every ad before the kill"
    second = procs.worker("worker-2", slow=False)
    scored, dlq = wait_accounted(expected, abort_if=procs.abort_if_any_died(second))
    copies = assert_accounted(expected, scored, dlq)
    assert_matches_reference(copies, reference, expected)
    assert_alerts(read_alerts(), reference)
    assert_link_state(reference, sorted(expected))
    print(f"{len(expected) - len(at_kill)} ads unscored at the kill; redelivered after it: "
          f"{len(scored) - len(copies)} duplicate records ({load_settings().topics.scored})")


def test_kafka_broker_stopped_for_20_s_and_restarted(fault_env, procs, corpus, reference):
    """The broker goes away mid-stream for 20 s: the worker's sends fail or wait, its commits
    fail, its group is gone; once the broker is back every ad is accounted for and nothing was
    dropped (the agent retries a failed send instead of moving past the record)."""
    produce_corpus(corpus)
    expected = {ad_id for ad_id, _ in corpus}
    worker = procs.worker("worker")
    wait_scored(len(corpus) // 4, abort_if=procs.abort_if_any_died(worker))
    fault_started = time.time()
    with service_down("kafka", BROKER_DOWN_S):
        assert worker.died() is None, worker.tail()
    scored, dlq = wait_accounted(expected, abort_if=procs.abort_if_any_died(worker),
                                 timeout_s=300)
    before, after = scored_by_the_fault(fault_started)
    assert after, f"all {len(before)} ads were scored before the broker stopped"
    copies = assert_accounted(expected, scored, dlq)
    assert_matches_reference(copies, reference, expected)
    assert_alerts(read_alerts(), reference)
    assert_link_state(reference, sorted(expected))


def test_redis_restarted_mid_stream(fault_env, procs, corpus, reference):
    """Redis stops mid-stream and comes back (AOF): the worker logs the outage and waits it
    out with back-off; no ad is dead-lettered for it, and the link state is the clean run's."""
    produce_corpus(corpus)
    expected = {ad_id for ad_id, _ in corpus}
    worker = procs.worker("worker")
    wait_scored(len(corpus) // 4, abort_if=procs.abort_if_any_died(worker))
    fault_started = time.time()
    with service_down("redis", REDIS_DOWN_S):
        pass
    scored, dlq = wait_accounted(expected, abort_if=procs.abort_if_any_died(worker))
    before, after = scored_by_the_fault(fault_started)
    assert after, f"all {len(before)} ads were scored before Redis stopped"
    copies = assert_accounted(expected, scored, dlq)
    assert not dlq, [(r["ad_id"], r["error_code"]) for r in dlq][:5]
    assert log_mentions(worker, "Redis unavailable while scoring"), "the outage missed the worker"
    assert_matches_reference(copies, reference, expected)
    assert_alerts(read_alerts(), reference)
    assert_link_state(reference, sorted(expected))


def test_poison_ad_goes_to_the_dlq_and_the_rest_of_its_partition_is_scored(
        fault_env, procs, corpus):
    """A valid ad on which a detector throws (planted by a test-only hook) in the middle of
    the partition: it lands on ads.dlq with its ad id and the exception as the reason, the
    agent lives on, and every other ad, before and after it, is scored as in a clean run of
    the corpus without it."""
    poison = corpus[len(corpus) // 2][0]
    rest = [(ad_id, raw) for ad_id, raw in corpus if ad_id != poison]
    reference = reference_run(rest)
    produce_corpus(corpus)
    expected = {ad_id for ad_id, _ in corpus}
    worker = procs.worker("worker", env={"VIGIL_TEST_POISON_AD_ID": poison}, slow=False)
    scored, dlq = wait_accounted(expected, abort_if=procs.abort_if_any_died(worker))
    copies = assert_accounted(expected, scored, dlq, dead_lettered={poison: "internal_error"})
    record = next(r for r in dlq if r["ad_id"] == poison)
    assert record["stage"] == "score" and "PoisonForTests" in record["reason"], record
    assert record["partition"] == 0 and record["offset"] == len(corpus) // 2, record
    assert base64.b64decode(record["original_b64"]) == dict(corpus)[poison]
    after = {ad_id for ad_id, _ in corpus[len(corpus) // 2 + 1:]}
    assert after <= set(copies), "ads after the poison ad were not scored"
    assert_matches_reference(copies, reference, expected - {poison})
    assert_alerts(read_alerts(), reference)
    assert_link_state(reference, sorted(expected - {poison}))


# This test failed in CI with the Faust worker (faust-streaming #629: records of a taken-over
# partition dropped between its consumer and the agent); the batch loop has no such layer.
@pytest.mark.parametrize("partitions", [4], indirect=True)
def test_one_of_two_workers_killed_its_partitions_move_to_the_other(fault_env, procs, corpus,
                                                                    reference):
    """Two workers share four partitions; one is SIGKILLed mid-stream. After the session
    time-out its partitions move to the survivor, which re-reads them from the last committed
    offsets: redelivered ads are re-emitted identically and none is lost. Ads per phone, email,
    handle and photo equal the clean run's; templates, clusters and per-ad scores depend on how
    the partitions interleave (in a clean run too), so clusters are checked for ads counted
    twice and alerts against their scored ads, not against the batch path."""
    expected = {ad_id for ad_id, _ in corpus}
    doomed = procs.worker("worker-a")
    survivor = procs.worker("worker-b")
    wait_group_members(2, abort_if=procs.abort_if_any_died(doomed, survivor))
    produce_corpus(corpus)
    wait_scored(len(corpus) // 3, abort_if=procs.abort_if_any_died(doomed, survivor))
    doomed.kill()
    fault_started = time.time()
    # the survivor takes over after the 10 s session time-out and needs seconds, not minutes
    scored, dlq = wait_accounted(expected, abort_if=procs.abort_if_any_died(survivor),
                                 timeout_s=90)
    before, after = scored_by_the_fault(fault_started)
    assert after, f"all {len(before)} ads were scored before the kill"
    copies = assert_accounted(expected, scored, dlq)
    assert not dlq, [(r["ad_id"], r["error_code"]) for r in dlq][:5]
    assert_link_state(reference, sorted(expected), ordered=False)
    assert_alerts_match_scored(read_alerts(), copies)
    raw = load_settings().topics.raw
    assigned = [m for m in log_messages(survivor) if m.startswith("assigned ")]
    assert assigned and all(f"{raw}[{p}]" in assigned[-1] for p in range(4)), (
        f"the survivor never took every partition over: {assigned}")
    print(f"{len(after)} ads scored after the kill; {len(scored) - len(copies)} redelivered "
          "records re-emitted")


SECRET = "whsec_" + "dGVzdC1zZWNyZXQtZm9yLWRpc3BhdGNoLXRlc3Rz"


def test_webhook_receiver_down_for_60_s(fault_env, procs, corpus, reference, tmp_path):
    """Worker, `vigil dispatch` and `vigil webhook-sink` as processes. The receiver stops after
    its first alerts and stays down for 60 s while the rest of the ads, and most alerts, come
    through: the dispatcher parks the failed deliveries in Redis and redelivers them once the
    receiver is back, with the webhook-id they had (Standard Webhooks: the receiver's dedup
    key). Every alert is at the receiver, signed, or on alerts.dlq; none is lost."""
    settings = load_settings()
    port = free_port()
    config = tmp_path / "dispatch.yaml"
    config.write_text(
        "destinations:\n"
        "  - name: analysts\n"
        f"    url: http://127.0.0.1:{port}/hook\n"
        "    secret_env: VIGIL_WEBHOOK_SECRET\n"
        "    min_severity: low\n"
        "    max_attempts: 100\n"  # an hour's worth: the outage must end in redelivery
        "    backoff_cap_s: 5\n"
        "    breaker_cooldown_s: 1\n"
        "    breaker_max_cooldown_s: 5\n"
        "group_wait_s: 0\n"
        "group_interval_s: 2\n")
    env = {"VIGIL_WEBHOOK_SECRET": SECRET}
    received = tmp_path / "received.jsonl"
    sink_args = ["webhook-sink", "--port", str(port), "--out", str(received), "--quiet"]
    split = 100  # alerts come from ads on both sides of it
    before = {a["alert_id"] for a in reference.scored.values()
              if a.get("alert_id") and a["ad_id"] in dict(corpus[:split])}
    assert before and reference.alert_ids - before, "the outage would not cover any alert"

    sink = procs.vigil("sink-1", sink_args, env)
    dispatcher = procs.vigil("dispatch", ["dispatch", "--config", str(config),
                                          "--metrics-port", "0"], env)
    worker = procs.worker("worker", slow=False)
    alive = procs.abort_if_any_died(worker, dispatcher, sink)
    produce_corpus(corpus[:split])

    def delivered() -> set[str]:
        return {a for r in read_jsonl(received) if r["verified"] and "payload" in r
                for a in r["payload"].get("grouped_alert_ids", [r["payload"].get("alert_id")])}

    wait_for(lambda: before <= delivered(), "the first alerts at the receiver", 180, alive)
    sink.stop()
    outage_started = time.time()
    produce_corpus(corpus[split:])
    alive = procs.abort_if_any_died(worker, dispatcher)
    wait_scored(len(corpus), abort_if=alive)
    time.sleep(max(0.0, RECEIVER_DOWN_S - (time.time() - outage_started)))
    assert not delivered() - before, "something was delivered while the receiver was down"
    sink = procs.vigil("sink-2", sink_args, env)
    alive = procs.abort_if_any_died(worker, dispatcher, sink)

    def dead_lettered() -> set[str]:
        return {r["alert_id"] for r in read_to_end(settings.topics.alerts_dlq)}

    wait_for(lambda: reference.alert_ids <= delivered() | dead_lettered(),
             "every alert delivered or dead-lettered", 180, alive)

    scored, dlq = wait_accounted({ad_id for ad_id, _ in corpus}, abort_if=alive)
    copies = assert_accounted({ad_id for ad_id, _ in corpus}, scored, dlq)
    assert_matches_reference(copies, reference, set(copies))
    assert_alerts(read_alerts(), reference)
    records = read_jsonl(received)
    assert all(r["verified"] for r in records), "a webhook with a bad signature"
    assert not dead_lettered(), "the receiver came back: nothing should be dead-lettered"
    # the same webhook-id for an alert on every delivery of it
    ids_of: dict[str, set[str]] = {}
    for r in records:
        for a in r["payload"].get("grouped_alert_ids", [r["payload"]["alert_id"]]):
            ids_of.setdefault(a, set()).add(r["webhook_id"])
    assert all(len(ids) == 1 for ids in ids_of.values()), ids_of
    # what failed during the outage was parked and redelivered after it under the same id
    parked = {m.split()[1] for m in log_messages(dispatcher)
              if m.startswith("delivery msg_") and " parked for " in m}
    assert parked, "no delivery failed: the outage missed the dispatcher"
    after = {r["webhook_id"] for r in records if r["received_at"] > outage_started}
    assert parked <= after, f"parked but never redelivered: {sorted(parked - after)[:3]}"
    assert_link_state(reference, sorted(copies))


def test_live_banks_resubscribe_after_redis_restart(fault_env):
    """A worker's hash banks follow changes by pub/sub. After Redis restarts, LiveBanks must
    subscribe again and reload a bank change made after the restart within seconds, not at its
    next slow poll (poll_s is set far beyond the test's patience to tell the two apart)."""
    import redis as redis_lib
    from PIL import Image

    from streams.banks.store import BankStore, LiveBanks, entry_for_image
    from streams.config import redis_prefix

    prefix = redis_prefix(fault_env)
    banks = LiveBanks(redis_lib.Redis.from_url(fault_env.redis_url), prefix, poll_s=60)
    banks.start()
    try:
        stop_service("redis")
        start_service("redis")
        store = BankStore(redis_lib.Redis.from_url(fault_env.redis_url), prefix)
        photo = Image.effect_mandelbrot((256, 256), (-2.0, -1.5, 1.0, 1.5), 100).convert("RGB")
        deadline = time.monotonic() + 20
        # publish until the resubscribed thread hears one (a message published before it is
        # subscribed again is lost, as pub/sub is; the point is that it subscribes again)
        while time.monotonic() < deadline and len(banks.current) == 0:
            store.add_entries([entry_for_image("missing_children", "after-restart", photo)])
            time.sleep(1)
        assert len(banks.current) == 1, "the banks did not follow a change after the restart"
    finally:
        banks.stop()
