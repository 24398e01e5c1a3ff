"""Scale-out under load (issue 16, point 4): three workers on twelve partitions, a fourth added
and then one of the first three stopped while ads flow; every ad accounted for.

The workers are slowed (VIGIL_TEST_SCORE_DELAY_MS) and take small batches (VIGIL_BATCH_MAX), so
the corpus lasts long enough for both rebalances to happen mid-stream, and each step checks that
ads were still unscored when it happened.
"""

from __future__ import annotations

import time

import pytest

from streams.config import load_settings
from tests.faults.harness import (
    assert_accounted,
    assert_alerts_match_scored,
    assert_link_state,
    log_messages,
    produce_corpus,
    read_alerts,
    scored_by_the_fault,
    wait_accounted,
    wait_group_members,
    wait_scored,
)

SLOW = {"VIGIL_TEST_SCORE_DELAY_MS": "120", "VIGIL_BATCH_MAX": "10"}


@pytest.mark.parametrize("partitions", [12], indirect=True)
def test_three_workers_on_twelve_partitions_one_added_and_one_removed_under_load(
        fault_env, procs, corpus, reference):
    expected = {ad_id for ad_id, _ in corpus}
    workers = [procs.worker(f"worker-{i}", env=SLOW, slow=False) for i in (1, 2, 3)]
    alive = procs.abort_if_any_died(*workers)
    wait_group_members(3, abort_if=alive)
    produce_corpus(corpus)

    wait_scored(len(corpus) // 5, abort_if=alive)
    added_at = time.time()
    added = procs.worker("worker-4", env=SLOW, slow=False)
    workers.append(added)
    alive = procs.abort_if_any_died(*workers)
    wait_group_members(4, abort_if=alive)

    wait_scored(len(corpus) // 2, abort_if=alive)
    removed_at = time.time()
    workers[0].stop()  # SIGTERM: the batch in hand is finished and committed, the group left
    alive = procs.abort_if_any_died(*workers[1:])

    scored, dlq = wait_accounted(expected, abort_if=alive, timeout_s=180)
    for event, at in (("the fourth worker joined", added_at), ("a worker left", removed_at)):
        before, after = scored_by_the_fault(at)
        assert after, f"every ad was scored before {event}: the rebalance was not under load"
    copies = assert_accounted(expected, scored, dlq)
    assert not dlq, [(r["ad_id"], r["error_code"]) for r in dlq][:5]
    assert_link_state(reference, sorted(expected), ordered=False)
    assert_alerts_match_scored(read_alerts(), copies)

    raw = load_settings().topics.raw
    assigned = [m for m in log_messages(added) if m.startswith("assigned ")]
    assert any(f"{raw}[" in m for m in assigned), f"the added worker was never given a partition: {assigned}"
    survivors = [[m for m in log_messages(w) if m.startswith("assigned ")][-1] for w in workers[1:]]
    owned = {p for p in range(12) for m in survivors if f"{raw}[{p}]" in m}
    assert owned == set(range(12)), f"partitions no survivor owns at the end: {set(range(12)) - owned}"
    print(f"{len(scored) - len(copies)} redelivered records over two rebalances; "
          f"{len(scored_by_the_fault(removed_at)[1])} ads scored after the removal")
