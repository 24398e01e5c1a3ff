"""The fault suite: real `vigil worker` processes, the real broker and Redis, one fault each.

Every test ends with the full accounting (tests/faults/harness.py): every produced ad is on
ads.scored at least once (copies identical) or on ads.dlq with its reason; every alert is on
`alerts` with the same id the clean batch run gives (and, with the dispatcher, at the webhook
or on alerts.dlq); and the link state in Redis equals the clean run's.
"""

from __future__ import annotations

from streams.config import load_settings
from tests.faults.harness import (
    assert_accounted,
    assert_alerts,
    assert_link_state,
    assert_matches_reference,
    produce_corpus,
    read_alerts,
    wait_accounted,
    wait_scored,
)


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
