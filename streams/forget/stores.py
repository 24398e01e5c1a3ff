"""The places an ad or a phone number is kept, each with a forget step that says what it
removed. `vigil forget` runs them in order; a new store (the investigator store) is one more
entry in `default_stores`.

Redis key layout (docs/architecture.md, streams/scoring/linkstore.py): identifier windows
`id:<kind>:<value>:{ads,cities,regions,phones,ages,meta}`, the union-find `uf:parent` (node →
parent; nodes are `ad:<id>` and identifier keys such as `phone:+17025550123`) with a summary per
root `uf:c:<root>` (+ `:phones`, `:cities`, `:ads`) and when each node was last touched
`uf:touched`, the template index `tpl:of` (+ `tpl:touched`) and `tpl:band:<n>`, stored
results `result:<ad id>`, suppression `suppress:<cluster id>`, the duplicate check
`seen:<ad id>`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

import redis

from detectors.linking.links import CLUSTER_SAMPLE, HUB_UNRELATED_USES
from detectors.linking.regroup import regroup
from streams.broker.topics import RETAINED
from streams.config import Settings, redis_prefix
from streams.scoring.runtime import dedupe_key

ID_SUFFIXES = (":ads", ":cities", ":regions", ":phones", ":ages", ":meta")
CLUSTER_SUFFIXES = ("", ":phones", ":cities", ":ads", ":members")
MAX_TRIES = 50


@dataclass
class Subject:
    """What is forgotten: one ad id, or one phone number (E.164) with the ads it was seen in."""

    ad_id: str | None = None
    phone: str | None = None
    ads_of_phone: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"ad {self.ad_id}" if self.ad_id else "the phone number"


class Store(Protocol):
    name: str

    def forget(self, subject: Subject) -> list[str]:
        """Remove the subject; one line per thing removed (or said about it)."""


def _s(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _scan(client: redis.Redis, pattern: str) -> Iterator[str]:
    for key in client.scan_iter(match=pattern, count=1000):
        yield _s(key)


@dataclass
class LinkState:
    """Identifier windows, the union-find clusters and the template index in Redis."""

    client: redis.Redis
    prefix: str
    name: str = "redis link state"

    def forget(self, subject: Subject) -> list[str]:
        P = self.prefix
        lines = []
        if subject.ad_id:
            ad = subject.ad_id
            touched = emptied = 0
            for key in _scan(self.client, f"{P}id:*:ads"):
                if self.client.zrem(key, ad):
                    touched += 1
                    if self.client.zcard(key) == 0:
                        base = key[: -len(":ads")]
                        self.client.delete(*(base + s for s in ID_SUFFIXES))
                        emptied += 1
            lines.append(f"removed from the windows of {touched} identifier(s); {emptied} identifier(s) "
                         "seen only in this ad deleted (their city, phone and age tallies go with them; "
                         "tallies of identifiers also seen elsewhere keep this ad's share until they expire)")
            removed_tpl = self.client.hdel(f"{P}tpl:of", ad)
            self.client.zrem(f"{P}tpl:touched", ad)
            bands = sum(self.client.zrem(key, ad) for key in _scan(self.client, f"{P}tpl:band:*"))
            lines.append(f"template index: {removed_tpl} assignment and {bands} band entries removed")
            lines += self._regroup(f"ad:{ad}", dropped={f"ad:{ad}"})
        if subject.phone:
            node = f"phone:{subject.phone}"
            deleted = self.client.delete(*(f"{P}id:{node}{s}" for s in ID_SUFFIXES))
            lines.append(f"the number's windows deleted ({deleted} key(s), {len(subject.ads_of_phone)} ad(s) "
                         "were seen with it)")
            beside = sum(self.client.zrem(key, subject.phone) for key in _scan(self.client, f"{P}id:*:phones"))
            lines.append(f"removed from the phone lists of {beside} other identifier(s)")
            lines += self._regroup(node, dropped={node})
        return lines

    def _regroup(self, node: str, dropped: set[str]) -> list[str]:
        """Take `dropped` out of the cluster holding `node` and regroup what remains, in one
        optimistic transaction (retried while a worker changes the clusters meanwhile)."""
        P = self.prefix
        parent_key = f"{P}uf:parent"
        for _ in range(MAX_TRIES):
            with self.client.pipeline() as pipe:
                try:
                    pipe.watch(parent_key)
                    parent = {_s(k): _s(v) for k, v in pipe.hscan_iter(parent_key, count=1000)}
                    if node not in parent:
                        return ["not in any cluster"]
                    root_of = _roots(parent)
                    old_root = root_of[node]
                    members = [n for n, r in root_of.items() if r == old_root]
                    pipe.watch(*(f"{P}uf:c:{old_root}{s}" for s in CLUSTER_SUFFIXES))
                    kept_ads = {n for n in members if n.startswith("ad:") and n not in dropped}
                    seen_with = {}
                    identifiers = [n for n in members if not n.startswith("ad:") and n not in dropped]
                    uses = dict(zip(identifiers, pipe.hmget(f"{P}uf:unrelated", identifiers), strict=True)
                                ) if identifiers else {}
                    for identifier in identifiers:
                        if int(uses[identifier] or 0) >= HUB_UNRELATED_USES:
                            continue  # a hub links nothing (detectors/linking/links.py)
                        seen_with[identifier] = {_s(a): float(t) for a, t in
                                                 pipe.zrange(f"{P}id:{identifier}:ads", 0, -1, withscores=True)}
                    groups = regroup(kept_ads, seen_with, old_root)
                    # an ad left with no identifier has no time of its own here: the old cluster's
                    old_first, old_last = (_s(v) if v is not None else "0"
                                           for v in pipe.hmget(f"{P}uf:c:{old_root}", "first", "last"))
                    kept_nodes = {n for g in groups for n in g.nodes}
                    cities = {g.root: {_s(c) for i in g.identifiers for c in pipe.zrange(f"{P}id:{i}:cities", 0, -1)}
                              for g in groups}
                    pipe.multi()
                    pipe.delete(*(f"{P}uf:c:{old_root}{s}" for s in CLUSTER_SUFFIXES))
                    gone = [n for n in members if n not in kept_nodes]
                    if gone:
                        pipe.hdel(parent_key, *gone)
                        pipe.zrem(f"{P}uf:touched", *gone)
                    # the erased node's hub count goes with it; other hubs keep theirs (a hub
                    # left out of the regroup must stay a hub when it turns up again)
                    pipe.hdel(f"{P}uf:unrelated", *dropped)
                    for group in groups:
                        pipe.hset(parent_key, mapping={n: group.root for n in group.nodes})
                        c = f"{P}uf:c:{group.root}"
                        pipe.sadd(f"{c}:members", *group.nodes)
                        # a new root counts as used now (pruning goes oldest first: the root
                        # must not go before the nodes under it; UNION_LUA does the same)
                        pipe.zadd(f"{P}uf:touched", {group.root: time.time()}, gt=True)
                        known = [t for _, t in group.ads if t > 0]
                        summary = {"size": len(group.ads),
                                   "first": repr(min(known)) if known else old_first,
                                   "last": repr(max(known)) if known else old_last}
                        pipe.hset(c, mapping=summary)
                        phones = [i.removeprefix("phone:") for i in group.identifiers if i.startswith("phone:")]
                        if phones:
                            pipe.sadd(f"{c}:phones", *phones)
                        if cities[group.root]:
                            pipe.sadd(f"{c}:cities", *cities[group.root])
                        if group.ads:
                            pipe.rpush(f"{c}:ads", *(a for a, _ in group.ads[:CLUSTER_SAMPLE]))
                    if old_root not in {g.root for g in groups}:
                        pipe.delete(f"{P}suppress:{old_root}")
                    pipe.execute()
                except redis.WatchError:
                    continue
            sizes = ", ".join(str(n) for n in sorted((len(g.ads) for g in groups), reverse=True)) or "none"
            before = sum(1 for n in members if n.startswith("ad:"))
            retired = "" if old_root in {g.root for g in groups} else "; the old cluster id is retired"
            return [f"its cluster ({before} ads) regrouped from the remaining ads into {len(groups)} cluster(s) "
                    f"of sizes {sizes}; {len(gone)} node(s) dropped{retired}"]
        return [f"cluster not regrouped: it kept changing under running workers ({MAX_TRIES} tries); run again"]


def _roots(parent: dict[str, str]) -> dict[str, str]:
    """Each node's root (following parent pointers as FIND_LUA does)."""
    roots: dict[str, str] = {}
    for start in parent:
        path, node = [], start
        while node not in roots and parent.get(node, node) != node:
            path.append(node)
            node = parent[node]
        root = roots.get(node, node)
        for n in [*path, start]:
            roots[n] = root
    return roots


@dataclass
class StoredResults:
    """`result:<ad id>`: the result a worker re-emits on redelivery (it holds the ad's entities)."""

    client: redis.Redis
    prefix: str
    name: str = "stored results"

    def forget(self, subject: Subject) -> list[str]:
        ads = [subject.ad_id] if subject.ad_id else subject.ads_of_phone
        if not ads:
            return ["none kept"]
        removed = self.client.delete(*(f"{self.prefix}result:{ad}" for ad in ads))
        return [f"{removed} stored result(s) deleted (a redelivery of such an ad is scored afresh)"]


@dataclass
class Suppression:
    """`suppress:<cluster id>`: which ad alerted last per cluster; a cluster id can be a phone."""

    client: redis.Redis
    prefix: str
    name: str = "alert suppression"

    def forget(self, subject: Subject) -> list[str]:
        removed = 0
        if subject.phone:
            removed += self.client.delete(f"{self.prefix}suppress:phone:{subject.phone}")
        if subject.ad_id:
            for key in _scan(self.client, f"{self.prefix}suppress:*"):
                raw = self.client.get(key)
                try:
                    state = json.loads(raw) if raw else None
                except ValueError:
                    continue
                if key.endswith(f"suppress:ad:{subject.ad_id}") or (
                        isinstance(state, dict) and state.get("ad_id") == subject.ad_id):
                    removed += self.client.delete(key)
        return [f"{removed} suppression state(s) deleted"]


@dataclass
class SeenAds:
    """The worker's duplicate check: one Redis key per ad id (`seen:<ad id>`, value the
    partition:offset it was first seen at), expiring after VIGIL_DEDUPE_DAYS."""

    client: redis.Redis
    prefix: str
    name: str = "dedupe check seen-ads"

    def forget(self, subject: Subject) -> list[str]:
        if not subject.ad_id:
            return ["keeps ad ids only, no phone numbers"]
        removed = self.client.delete(dedupe_key(self.prefix, subject.ad_id))
        return [f"{removed} duplicate-check key(s) deleted (a re-sent copy of this ad id is scored again)"]


@dataclass
class KafkaTopics:
    """ads.raw, ads.scored, alerts and the dead-letter topics: append-only logs."""

    settings: Settings
    name: str = "kafka topics"

    def forget(self, subject: Subject) -> list[str]:
        topics = ", ".join(getattr(self.settings.topics, role) for role in RETAINED)
        cap = self.settings.retention_s
        kept = (f"they go when the topics' retention runs out (at most VIGIL_RETENTION_DAYS, {cap / 86400:g} days; "
                "Kafka's default is 7)" if cap else
                "VIGIL_RETENTION_DAYS is 0, so they stay for the topics' retention (Kafka's default 7 days)")
        return [f"NOT removed: records in {topics} cannot be deleted one by one (the topics are not compacted); "
                f"{kept}. To erase sooner, delete every record up to an offset past {subject.label}: "
                "kafka-delete-records.sh --offset-json-file (AdminClient deleteRecords), which drops the "
                "records before it too"]


@dataclass
class InvestigatorStore:
    """The investigator store (`vigil store`, `vigil console`): ads, alerts, clusters, photos."""

    settings: Settings
    name: str = "investigator store"

    def forget(self, subject: Subject) -> list[str]:
        url = self.settings.store_url
        if not self.settings.store_url_env and not (self.settings.stack_dir / "store" / "vigil.db").exists():
            return ["none here (VIGIL_STORE_URL unset and no local store file)"]
        from streams.store.db import open_store_engine
        from streams.store.writer import StoreWriter

        writer = StoreWriter(open_store_engine(url))
        try:
            counts = writer.forget_ad(subject.ad_id) if subject.ad_id else writer.forget_phone(subject.phone)
        finally:
            writer.engine.dispose()
        rows = ", ".join(f"{n} {table}" for table, n in sorted(counts.items()) if n) or "nothing kept"
        return [f"rows deleted or blanked: {rows}"]


def default_stores(settings: Settings, client: redis.Redis) -> list[Store]:
    """Every store vigil keeps ads or phone numbers in, in the order `vigil forget` runs them."""
    prefix = redis_prefix(settings)
    return [LinkState(client, prefix), StoredResults(client, prefix), Suppression(client, prefix),
            SeenAds(client, prefix), InvestigatorStore(settings), KafkaTopics(settings)]
