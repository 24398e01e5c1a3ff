"""The fault suite: real `vigil worker` processes, the real broker and Redis, one fault each.

Every test ends with the full accounting (tests/faults/harness.py): every produced ad is on
ads.scored at least once (copies identical) or on ads.dlq with its reason; every alert is on
`alerts` with the same id the clean batch run gives (and, with the dispatcher, at the webhook
or on alerts.dlq); and the link state in Redis equals the clean run's.
"""

from __future__ import annotations

import base64
import time

from streams.config import load_settings
from tests.faults.harness import (
    assert_accounted,
    assert_alerts,
    assert_link_state,
    assert_matches_reference,
    log_mentions,
    produce_corpus,
    read_alerts,
    reference_run,
    start_service,
    stop_service,
    wait_accounted,
    wait_scored,
)

BROKER_DOWN_S = 20
REDIS_DOWN_S = 8


def test_worker_killed_with_sigkill_mid_stream_and_restarted(fault_env, procs, corpus,
                                                             reference):
    """SIGKILL (no shutdown, no commit) after a third of the ads; a new worker on the same
    table store takes over from the last committed offset: the ads processed since are
    redelivered, re-emitted identically, and nothing is lost or counted twice."""
    produce_corpus(corpus)
    expected = {ad_id for ad_id, _ in corpus}
    first = procs.worker("worker-1", faust_dir=str(procs.tmp / "faust"))
    wait_scored(len(corpus) // 3, abort_if=procs.abort_if_any_died(first))
    first.kill()
    second = procs.worker("worker-2", faust_dir=str(procs.tmp / "faust"))
    scored, dlq = wait_accounted(expected, abort_if=procs.abort_if_any_died(second))
    copies = assert_accounted(expected, scored, dlq)
    assert_matches_reference(copies, reference, expected)
    assert_alerts(read_alerts(reference.alert_ids), reference)
    assert_link_state(reference, sorted(expected))
    print(f"redelivered after SIGKILL: {len(scored) - len(copies)} duplicate records "
          f"({load_settings().topics.scored})")


def test_kafka_broker_stopped_for_20_s_and_restarted(fault_env, procs, corpus, reference):
    """The broker goes away mid-stream for 20 s: the worker's sends fail or wait, its commits
    fail, its group is gone; once the broker is back every ad is accounted for and nothing was
    dropped (the agent retries a failed send instead of moving past the record)."""
    produce_corpus(corpus)
    expected = {ad_id for ad_id, _ in corpus}
    worker = procs.worker("worker")
    wait_scored(len(corpus) // 4, abort_if=procs.abort_if_any_died(worker))
    stop_service("kafka")
    try:
        time.sleep(BROKER_DOWN_S)
        assert worker.died() is None, worker.tail()
    finally:
        start_service("kafka")
    scored, dlq = wait_accounted(expected, abort_if=procs.abort_if_any_died(worker),
                                 timeout_s=300)
    copies = assert_accounted(expected, scored, dlq)
    assert_matches_reference(copies, reference, expected)
    assert_alerts(read_alerts(reference.alert_ids), reference)
    assert_link_state(reference, sorted(expected))


def test_redis_restarted_mid_stream(fault_env, procs, corpus, reference):
    """Redis stops mid-stream and comes back (AOF): the worker logs the outage and waits it
    out with back-off; no ad is dead-lettered for it, and the link state is the clean run's."""
    produce_corpus(corpus)
    expected = {ad_id for ad_id, _ in corpus}
    worker = procs.worker("worker")
    wait_scored(len(corpus) // 4, abort_if=procs.abort_if_any_died(worker))
    stop_service("redis")
    try:
        time.sleep(REDIS_DOWN_S)
    finally:
        start_service("redis")
    scored, dlq = wait_accounted(expected, abort_if=procs.abort_if_any_died(worker))
    copies = assert_accounted(expected, scored, dlq)
    assert not dlq, [(r["ad_id"], r["error_code"]) for r in dlq][:5]
    assert log_mentions(worker, "Redis unavailable while scoring"), "the outage missed the worker"
    assert_matches_reference(copies, reference, expected)
    assert_alerts(read_alerts(reference.alert_ids), reference)
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
    worker = procs.worker("worker", env={"VIGIL_TEST_POISON_AD_ID": poison})
    scored, dlq = wait_accounted(expected, abort_if=procs.abort_if_any_died(worker))
    copies = assert_accounted(expected, scored, dlq, dead_lettered={poison: "internal_error"})
    record = next(r for r in dlq if r["ad_id"] == poison)
    assert record["stage"] == "score" and "PoisonForTests" in record["reason"], record
    assert record["partition"] == 0 and record["offset"] == len(corpus) // 2, record
    assert base64.b64decode(record["original_b64"]) == dict(corpus)[poison]
    after = {ad_id for ad_id, _ in corpus[len(corpus) // 2 + 1:]}
    assert after <= set(copies), "ads after the poison ad were not scored"
    assert_matches_reference(copies, reference, expected - {poison})
    assert_alerts(read_alerts(reference.alert_ids), reference)
    assert_link_state(reference, sorted(expected - {poison}))
