"""The stall watchdog's decision (streams/worker/stall.py): is this partition stalled?"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from streams.worker.stall import StallWatchdog, is_stalled, next_offset

AFTER = 20.0


def stalled(**kw) -> bool:
    args = dict(taken=None, committed=None, end_offset=None, agent_idle_s=30.0, settled_s=30.0,
                after_s=AFTER)
    args.update(kw)
    return is_stalled(**args)


def test_next_offset_is_the_committed_one_else_after_the_last_taken():
    assert next_offset(taken=70, committed=1) == 1  # a gap: records 1..69 never reached the agent
    assert next_offset(taken=70, committed=None) == 71
    assert next_offset(taken=None, committed=5) == 5
    assert next_offset(taken=None, committed=None) is None


def test_records_waiting_behind_the_committed_offset_with_an_idle_agent_is_a_stall():
    # the observed case: everything fetched (read offset 71), committed 1, agent idle
    assert stalled(taken=None, committed=1, end_offset=72)
    assert stalled(taken=71, committed=1, end_offset=72)  # later records taken after a gap
    assert stalled(taken=None, committed=None, end_offset=72) is False  # nothing known: no call


def test_a_partition_read_to_its_end_is_not_stalled():
    assert not stalled(taken=71, committed=72, end_offset=72)
    assert not stalled(taken=None, committed=72, end_offset=72)
    assert not stalled(taken=71, committed=None, end_offset=72)


def test_a_busy_or_briefly_idle_agent_is_not_stalled():
    assert not stalled(committed=1, end_offset=72, agent_idle_s=None)  # inside an event now
    assert not stalled(committed=1, end_offset=72, agent_idle_s=AFTER - 1)


def test_no_stall_until_recovery_and_rebalancing_have_been_over_for_a_while():
    assert not stalled(committed=1, end_offset=72, settled_s=0.0)
    assert not stalled(committed=1, end_offset=72, settled_s=AFTER - 1)
    assert stalled(committed=1, end_offset=72, settled_s=AFTER)


def test_unknown_end_offset_is_not_a_stall():
    assert not stalled(committed=1, end_offset=None)


def test_track_notes_taken_offsets_and_idleness():
    app = SimpleNamespace()
    dog = StallWatchdog(app, "t.ads.raw", after_s=AFTER)

    def event(partition: int, offset: int, topic: str = "t.ads.raw"):
        return SimpleNamespace(message=SimpleNamespace(topic=topic, partition=partition,
                                                       offset=offset))

    async def events():
        for e in (event(0, 4), event(2, 9), event(1, 3, topic="other")):
            yield e

    async def agent() -> list[bool]:
        busy = []
        async for _ in dog.track(events()):
            busy.append(dog.busy)
        return busy

    assert asyncio.run(agent()) == [True, True, True]
    assert dog.taken == {0: 4, 2: 9} and not dog.busy


def test_unknown_action_is_refused():
    with pytest.raises(ValueError):
        StallWatchdog(SimpleNamespace(), "ads.raw", action="restart")


def test_a_partition_starved_while_the_agent_takes_other_partitions_is_a_stall():
    busy = dict(committed=1, end_offset=72, agent_idle_s=None, busy_after_s=120.0)
    assert stalled(**busy, agent_last_take_s=0.5, partition_idle_s=120.0)
    assert not stalled(**busy, agent_last_take_s=0.5, partition_idle_s=119.0)
    # the agent stuck on one event (e.g. waiting out a Redis outage) starves every partition:
    # that is not a stall of this one
    assert not stalled(**busy, agent_last_take_s=AFTER + 1, partition_idle_s=300.0)
    assert not stalled(**busy, agent_last_take_s=None, partition_idle_s=300.0)
