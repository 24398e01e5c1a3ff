"""A watchdog for an ads.raw partition whose records never reach the agent (faust-streaming
#629 / #166).

What the fault suite found (two workers, one SIGKILLed, the survivor takes over its
partitions): in the stalled runs aiokafka is not stuck. For the taken-over partition its
position equals the end offset, nothing is paused (neither in aiokafka's subscription state nor
in Faust's `_paused_partitions`), recovery is complete, flow control is active, and Faust's
read offset is the partition's last record: every record was fetched and handed to the
conductor. But the committed offset stays where the dead worker left it and the agent, idle in
its stream, never sees those records: they were dropped between the consumer and the agent
(Faust's stream skips an event whose generation id is not the app's current one, or that
arrives while flow control is suspended, and expects the post-rebalance seek to fetch it again;
when that seek happened before the batch was handed over, nothing fetches it again). Since the
read offset is already past them, Faust never asks for them again: nothing is lost (the offset
is not committed), but the partition's processing stops until the worker restarts.

The watchdog sees this from outside Faust: every `VIGIL_STALL_CHECK_S` (default 5 s) it
compares, per assigned ads.raw partition, the end offset with the committed offset (or, before
any commit, the offset after the last one the agent took). Records waiting while the agent has
been idle (inside no event) for `VIGIL_STALL_AFTER_S` (default 20 s), or while it keeps taking
other partitions' records but none of this one for `VIGIL_STALL_BUSY_AFTER_S` (default 120 s),
with rebalancing and recovery over for 20 s, is a stall: logged (partition and offsets, never ad data), counted on
`vigil_partition_stalls_total`, and un-stuck by seeking the partition back to that offset
(Faust's read offset with it), so the records are fetched and delivered again: at-least-once,
which the worker already handles (a redelivered ad re-emits its stored result). The action
`VIGIL_STALL_ACTION=exit` instead exits with EXIT_STALLED (75) for a supervisor to restart the
worker; `none` only logs and counts.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import AsyncIterator
from typing import Any

from streams import metrics

log = logging.getLogger(__name__)

DEFAULT_AFTER_S = 20.0
DEFAULT_CHECK_S = 5.0
DEFAULT_BUSY_AFTER_S = 120.0
EXIT_STALLED = 75
ACTIONS = ("seek", "exit", "none")


def next_offset(taken: int | None, committed: int | None) -> int | None:
    """The offset a partition must be read from again: the committed one (after the agent has
    been idle for a while every record it took is acked and committed, so a committed offset
    behind the end means records that never reached it, even with later ones taken after a
    gap); without one, the offset after the last one the agent took; None if neither is known."""
    if committed is not None:
        return committed
    return taken + 1 if taken is not None else None


def is_stalled(*, taken: int | None, committed: int | None, end_offset: int | None,
               agent_idle_s: float | None, settled_s: float, after_s: float,
               partition_idle_s: float = 0.0, agent_last_take_s: float | None = None,
               busy_after_s: float | None = None) -> bool:
    """True when a partition has records waiting beyond `next_offset`, rebalancing and recovery
    have been over for `after_s` (`settled_s`), and either
    - the agent has been idle (`agent_idle_s`; None: inside an event now) for `after_s`: it has
      nothing to do, yet the partition's records wait; or
    - the agent is moving (took an event `agent_last_take_s` ago, less than `after_s`) but none
      of this partition for `busy_after_s` (`partition_idle_s`): its records do not reach it
      while other partitions' do (an agent stuck on one event, e.g. waiting out a Redis
      outage, is neither).
    With nothing known of the partition's progress (no offset taken, none committed) it is
    never called stalled."""
    wanted = next_offset(taken, committed)
    if wanted is None or end_offset is None or end_offset <= wanted or settled_s < after_s:
        return False
    if agent_idle_s is not None and agent_idle_s >= after_s:
        return True
    return (busy_after_s is not None and agent_last_take_s is not None
            and agent_last_take_s < after_s and partition_idle_s >= busy_after_s)


class StallWatchdog:
    """Watches the app's assigned partitions of `topic` (`check`, run by an app timer) and the
    agent's progress on them (`track`, wrapped around the agent's event stream)."""

    def __init__(self, app: Any, topic: str, *, label: str = "ads.raw",
                 after_s: float | None = None, action: str | None = None) -> None:
        self.app, self.topic, self.label = app, topic, label
        self.after_s = after_s if after_s is not None else float(
            os.environ.get("VIGIL_STALL_AFTER_S") or DEFAULT_AFTER_S)
        self.busy_after_s = float(os.environ.get("VIGIL_STALL_BUSY_AFTER_S")
                                  or max(DEFAULT_BUSY_AFTER_S, 6 * self.after_s))
        self.action = action or os.environ.get("VIGIL_STALL_ACTION") or "seek"
        if self.action not in ACTIONS:
            raise ValueError(f"VIGIL_STALL_ACTION must be one of {ACTIONS}, not {self.action!r}")
        self.taken: dict[int, int] = {}  # partition -> last offset the agent took
        self.taken_at: dict[int, float] = {}  # partition -> when (monotonic)
        self.last_take = 0.0
        self.busy = False
        self.idle_since = time.monotonic()
        self.settled_since = time.monotonic()
        self.assigned: frozenset[int] = frozenset()
        self.stalls = 0

    async def track(self, events: AsyncIterator[Any]) -> AsyncIterator[Any]:
        """The agent's events, passed through; notes which offset it takes and when it is idle."""
        async for event in events:
            message = event.message
            self.last_take = time.monotonic()
            if message.topic == self.topic:
                self.taken[message.partition] = message.offset
                self.taken_at[message.partition] = self.last_take
            self.busy = True
            try:
                yield event
            finally:
                self.busy = False
                self.idle_since = time.monotonic()

    def _settled(self, now: float, partitions: frozenset[int]) -> float:
        """Seconds since the last rebalance, recovery or change of assignment."""
        recovery = getattr(self.app.tables, "_recovery", None)
        if (self.app.in_recovery or self.app.rebalancing or partitions != self.assigned
                or (recovery is not None and not recovery.completed.is_set())
                or not self.app.consumer.flow_active):
            self.settled_since = now
            self.assigned = partitions
        return now - self.settled_since

    async def check(self) -> list[int]:
        """One look at every assigned partition; returns the partitions found stalled."""
        consumer = self.app.consumer
        tps = sorted((tp for tp in consumer.assignment() if tp.topic == self.topic),
                     key=lambda tp: tp.partition)
        now = time.monotonic()
        settled_s = self._settled(now, frozenset(tp.partition for tp in tps))
        if not tps or settled_s < self.after_s:
            return []
        idle_s = None if self.busy else now - self.idle_since
        moving = self.last_take and now - self.last_take < self.after_s
        quiet = [tp for tp in tps
                 if now - max(self.taken_at.get(tp.partition, 0.0), self.settled_since)
                 >= self.busy_after_s]
        if not ((idle_s is not None and idle_s >= self.after_s) or (moving and quiet)):
            return []  # nothing could be called stalled: spare the broker the offsets request
        ends = await consumer.highwaters(*tps)
        stalled = []
        for tp in tps:
            taken, committed = self.taken.get(tp.partition), consumer._committed_offset.get(tp)
            since = max(self.taken_at.get(tp.partition, 0.0), self.settled_since)
            if not is_stalled(taken=taken, committed=committed, end_offset=ends.get(tp),
                              agent_idle_s=idle_s, settled_s=settled_s, after_s=self.after_s,
                              partition_idle_s=now - since,
                              agent_last_take_s=now - self.last_take if self.last_take else None,
                              busy_after_s=self.busy_after_s):
                continue
            stalled.append(tp.partition)
            wanted = next_offset(taken, committed)
            self.stalls += 1
            metrics.PARTITION_STALLS.labels(self.label, str(tp.partition)).inc()
            log.warning("partition %d stalled: records up to offset %s waiting from offset %s, "
                        "none taken for %.0f s; action: %s", tp.partition, ends.get(tp), wanted,
                        now - since, self.action,
                        extra={"partition": tp.partition, "end_offset": ends.get(tp),
                               "next_offset": wanted, "stall_state": partition_state(self.app, tp),
                               "action": self.action})
            await self.unstick(tp, wanted)
        if stalled:  # give the redelivery time before looking again
            self.idle_since = self.settled_since = time.monotonic()
        return stalled

    async def unstick(self, tp: Any, offset: int | None) -> None:
        """Resume the partition (in Faust and aiokafka, in case either paused it) and seek it to
        `offset`, the next one the agent must take; Faust's read offset goes back with it, or
        Faust would drop the records it fetches again as already read."""
        if self.action == "none" or offset is None:
            return
        if self.action == "exit":
            logging.shutdown()
            os._exit(EXIT_STALLED)  # the supervisor restarts it; it resumes from the commits
        consumer = self.app.consumer
        consumer.resume_partitions([tp])
        consumer._read_offset[tp] = offset
        kafka = _aiokafka_consumer(self.app)
        if kafka is None:
            return
        from aiokafka import TopicPartition

        atp = TopicPartition(tp.topic, tp.partition)

        async def reset_fetch_state() -> None:  # in the consumer's thread, on its event loop
            kafka.resume(atp)
            kafka.seek(atp, offset)

        await consumer._thread.call_thread(reset_fetch_state)


def _aiokafka_consumer(app: Any) -> Any | None:
    thread = getattr(app.consumer, "_thread", None)
    return getattr(thread, "_consumer", None) if thread is not None else None


def partition_state(app: Any, tp: Any) -> dict[str, Any]:
    """Where Faust and aiokafka stand on one partition (offsets and flags only), for the log."""
    consumer = app.consumer
    state: dict[str, Any] = {
        "faust_active": tp in (consumer._active_partitions or ()),
        "faust_paused": tp in consumer._paused_partitions,
        "faust_buffered": tp in consumer._buffered_partitions,
        "flow_active": consumer.flow_active,
        "read_offset": consumer._read_offset.get(tp),
        "committed": consumer._committed_offset.get(tp),
        "in_recovery": bool(app.in_recovery),
    }
    kafka = _aiokafka_consumer(app)
    if kafka is None:
        return state
    from aiokafka import TopicPartition

    atp = TopicPartition(tp.topic, tp.partition)
    fetcher = kafka._fetcher
    subscription = fetcher._subscriptions.subscription
    assignment = subscription.assignment if subscription is not None else None
    if assignment is not None and atp in assignment.tps:
        s = assignment.state_value(atp)
        state.update(kafka_paused=s.paused, kafka_position=s.position if s.has_valid_position
                     else None, kafka_highwater=s.highwater)
    else:
        state["kafka_assigned"] = False
    buffered = fetcher._records.get(atp)
    state["kafka_buffered"] = type(buffered).__name__ if buffered is not None else None
    return state
