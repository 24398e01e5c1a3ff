"""Linking: how an ad's identifiers repeat and move across ads, cities and time.

For every identifier of an ad (phone, email, handle, photo, text template) the link store keeps
time-stamped observations; from them come windowed counts (ads in the last 1 h / 24 h / 7 d),
movement (distinct cities and regions over 30 days), several people behind one contact
(distinct ages), and connected clusters (union–find over shared identifiers).

Hubs do not chain clusters. A motel's front-desk number, a booking service's e-mail or a stock
photo turns up in the ads of advertisers who have nothing else in common, and a union–find
would merge them all. So each identifier counts its *unrelated uses*: ads that carry it while
none of their other identifiers is already in its cluster but one is in another cluster that
holds ads (an organisation's own phone, met again beside its own template, is a related use).
At `HUB_UNRELATED_USES` the identifier is a hub: it still has its windows and counts, but it
joins no cluster from then on, and each ad that carries it says so (`left_out`). The uses before
that merged clusters, so the cluster it is in is regrouped at once without it (and without any
other hub: `detectors/linking/regroup.py`, from the ads each remaining identifier was seen
with); an erasure's regroup leaves hubs out too.

The logic here is pure; the store is injected: `MemoryLinkStore` for `vigil score`, and the
Redis store in `streams/linkstore.py` (same contract, tested against the same cases) for the
stream, so every worker sees the same state.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from detectors.linking.regroup import regroup

HOUR = 3600.0
DAY = 24 * HOUR
WINDOWS = {"1h": HOUR, "24h": DAY, "7d": 7 * DAY}
MOVEMENT_WINDOW = 30 * DAY
CLUSTER_SAMPLE = 50  # ad ids / phones / cities kept per cluster summary
REGROUPED_IDS = 1000  # ad ids listed per cluster a hub's regroup made (oldest first)

IDENTIFIER_KINDS = ("phone", "email", "handle", "photo", "tpl")
# an identifier seen this many times beside another advertiser's established cluster, with
# nothing else of the ad in its own cluster, is shared by unrelated advertisers: it links no more
HUB_UNRELATED_USES = 3


@dataclass(frozen=True)
class Observation:
    """What the linker needs of one ad."""

    ad_id: str
    ts: float
    city: str | None = None
    region: str | None = None
    ages: tuple[int, ...] = ()
    phones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    handles: tuple[str, ...] = ()
    photos: tuple[str, ...] = ()
    template_id: str | None = None

    def identifier_keys(self) -> list[str]:
        keys = [f"phone:{p}" for p in self.phones]
        keys += [f"email:{e}" for e in self.emails]
        keys += [f"handle:{h}" for h in self.handles]
        keys += [f"photo:{p}" for p in self.photos]
        if self.template_id:
            keys.append(f"tpl:{self.template_id}")
        return list(dict.fromkeys(keys))


@dataclass(frozen=True)
class IdentifierStats:
    """Counts for one identifier, as of the ad's own timestamp (this ad included)."""

    key: str
    ads: dict[str, int]  # window name -> ads in that window
    cities_30d: int
    regions_30d: int
    phones_30d: int
    ages: int
    first_seen: float
    cities: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        return self.key.split(":", 1)[0]

    @property
    def value(self) -> str:
        return self.key.split(":", 1)[1]


def iso(ts: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Regroup:
    """One cluster a new hub's cluster fell into: its summary, and up to REGROUPED_IDS of its
    ad ids, oldest first (what the store needs to move them)."""

    from_id: str
    cluster_id: str
    size: int
    ad_ids: tuple[str, ...]
    phones: tuple[str, ...]
    cities: tuple[str, ...]
    first_ts: float
    last_ts: float

    def as_record(self) -> dict:
        return {"from": self.from_id, "cluster_id": self.cluster_id, "size": self.size,
                "ad_ids": list(self.ad_ids), "phones": list(self.phones), "cities": list(self.cities),
                "first_seen": iso(self.first_ts), "last_seen": iso(self.last_ts)}


@dataclass(frozen=True)
class ClusterSummary:
    """A connected cluster: ads joined by any shared identifier."""

    cluster_id: str
    size: int
    phones: tuple[str, ...]
    cities: tuple[str, ...]
    first_ts: float
    last_ts: float
    ad_ids: tuple[str, ...]
    left_out: tuple[str, ...] = ()  # this ad's identifiers not linked: hubs (see the docstring)
    # the clusters a new hub's cluster fell into, when this ad made the hub
    regrouped: tuple[Regroup, ...] = ()

    def regrouped_record(self) -> list[dict]:
        """The regroup as the scored record's `link.regrouped` (the store moves those ads)."""
        return [r.as_record() for r in self.regrouped]

    @property
    def span_days(self) -> float:
        return max(0.0, (self.last_ts - self.first_ts) / DAY)

    def as_record(self) -> dict:
        record = {
            "cluster_id": self.cluster_id,
            "size": self.size,
            "phones": list(self.phones),
            "cities": list(self.cities),
            "first_seen": iso(self.first_ts),
            "last_seen": iso(self.last_ts),
            "span_days": round(self.span_days, 2),
            "ad_ids": list(self.ad_ids),
        }
        if self.left_out:  # kinds only: the values of hubs are other advertisers' contacts
            record["left_out_hubs"] = [key.split(":", 1)[0] for key in self.left_out]
        return record


class LinkStore(Protocol):
    """State the linker reads and writes; implementations must give the same answers."""

    def observe(self, obs: Observation, keys: list[str]) -> list[IdentifierStats]:
        """Record `obs` under every key and return each key's stats as of obs.ts."""

    def union(self, obs: Observation, keys: list[str]) -> ClusterSummary:
        """Join the ad and its identifiers into one cluster; return the cluster's summary."""

    def link(self, obs: Observation, keys: list[str]) -> tuple[list[IdentifierStats], ClusterSummary]:
        """`observe` (when there are keys) then `union`; a store may do both in one step."""

    def link_many(self, items: list[tuple[Observation, list[str]]]
                  ) -> list[tuple[list[IdentifierStats], ClusterSummary]]:
        """`link` for each (observation, keys) in order, as if one after the other (a store
        may send them together)."""

    def cluster_of(self, ad_id: str) -> str:
        """The current cluster id of an ad already linked (its own id if unknown)."""


# ---------------------------------------------------------------- in-memory store


@dataclass
class _Timeline:
    """Members with their latest timestamp, plus a sorted list of ad timestamps."""

    latest: dict[str, float] = field(default_factory=dict)

    def add(self, member: str, ts: float) -> None:
        if ts >= self.latest.get(member, float("-inf")):
            self.latest[member] = ts

    def count_since(self, since: float, until: float) -> int:
        return sum(1 for t in self.latest.values() if since <= t <= until)

    def members_since(self, since: float, until: float) -> list[str]:
        return sorted(m for m, t in self.latest.items() if since <= t <= until)


@dataclass
class _KeyState:
    ad_times: list[float] = field(default_factory=list)
    ad_ids: set[str] = field(default_factory=set)
    cities: _Timeline = field(default_factory=_Timeline)
    regions: _Timeline = field(default_factory=_Timeline)
    phones: _Timeline = field(default_factory=_Timeline)
    ages: set[int] = field(default_factory=set)
    first_seen: float = float("inf")


@dataclass
class _Cluster:
    size: int = 0
    phones: set[str] = field(default_factory=set)
    cities: set[str] = field(default_factory=set)
    first_ts: float = float("inf")
    last_ts: float = float("-inf")
    ad_ids: list[str] = field(default_factory=list)

    def summary(self, root: str, left_out: tuple[str, ...] = (),
                regrouped: tuple[Regroup, ...] = ()) -> ClusterSummary:
        return ClusterSummary(
            cluster_id=root,
            size=self.size,
            phones=tuple(sorted(self.phones)[:CLUSTER_SAMPLE]),
            cities=tuple(sorted(self.cities)[:CLUSTER_SAMPLE]),
            first_ts=self.first_ts,
            last_ts=self.last_ts,
            ad_ids=tuple(self.ad_ids[:CLUSTER_SAMPLE]),
            left_out=left_out,
            regrouped=regrouped,
        )


def hub_step(keys: list[str], root_of: dict[str, str], ad_root: str, holds_ads,
             uses: dict[str, int], limit: int = HUB_UNRELATED_USES) -> list[str]:
    """Count this ad's unrelated uses of its identifiers (in `uses`) and return those that are
    hubs now. `root_of`: each key's cluster before the ad; `holds_ads(root)`: that cluster
    has ads. A use is unrelated when no other linking identifier of the ad (nor the ad itself,
    when re-delivered) is in the key's cluster and one of them is in a cluster holding ads."""
    linking = [k for k in keys if uses.get(k, 0) < limit]
    for key in linking:
        own = root_of[key]
        if not holds_ads(own):
            continue
        others = {ad_root} | {root_of[k] for k in linking if k != key}
        if own not in others and any(holds_ads(r) for r in others):
            uses[key] = uses.get(key, 0) + 1
    return [k for k in keys if uses.get(k, 0) >= limit]


class MemoryLinkStore:
    """The link store in process memory (for the batch path and unit tests)."""

    def __init__(self, hub_unrelated_uses: int | None = HUB_UNRELATED_USES) -> None:
        self.hub_limit = hub_unrelated_uses  # None: no identifier is ever a hub (for comparison)
        self._keys: dict[str, _KeyState] = {}
        self._parent: dict[str, str] = {}
        self._clusters: dict[str, _Cluster] = {}
        self._unrelated_uses: dict[str, int] = {}  # identifier -> unrelated uses (hubs: see above)
        self._members: dict[str, list[str]] = {}  # root -> every node of its cluster
        self._ad_ts: dict[str, float] = {}  # ad id -> when it was posted (for regroups)

    def observe(self, obs: Observation, keys: list[str]) -> list[IdentifierStats]:
        out = []
        for key in keys:
            st = self._keys.setdefault(key, _KeyState())
            if obs.ad_id not in st.ad_ids:
                st.ad_ids.add(obs.ad_id)
                bisect.insort(st.ad_times, obs.ts)
            if obs.city:
                st.cities.add(obs.city, obs.ts)
            if obs.region:
                st.regions.add(obs.region, obs.ts)
            for phone in obs.phones:
                st.phones.add(phone, obs.ts)
            st.ages.update(obs.ages)
            st.first_seen = min(st.first_seen, obs.ts)
            since = obs.ts - MOVEMENT_WINDOW
            out.append(
                IdentifierStats(
                    key=key,
                    ads={
                        name: bisect.bisect_right(st.ad_times, obs.ts)
                        - bisect.bisect_left(st.ad_times, obs.ts - width)
                        for name, width in WINDOWS.items()
                    },
                    cities_30d=st.cities.count_since(since, obs.ts),
                    regions_30d=st.regions.count_since(since, obs.ts),
                    phones_30d=st.phones.count_since(since, obs.ts),
                    ages=len(st.ages),
                    first_seen=st.first_seen,
                    cities=tuple(st.cities.members_since(since, obs.ts)),
                )
            )
        return out

    def cluster_of(self, ad_id: str) -> str:
        node = f"ad:{ad_id}"
        return self._find(node) if node in self._parent else node

    def _find(self, node: str) -> str:
        root = node
        while self._parent[root] != root:
            root = self._parent[root]
        while self._parent[node] != root:  # path compression
            self._parent[node], node = root, self._parent[node]
        return root

    def link(self, obs: Observation, keys: list[str]) -> tuple[list[IdentifierStats], ClusterSummary]:
        return (self.observe(obs, keys) if keys else []), self.union(obs, keys)

    def link_many(self, items: list[tuple[Observation, list[str]]]
                  ) -> list[tuple[list[IdentifierStats], ClusterSummary]]:
        return [self.link(obs, keys) for obs, keys in items]

    def union(self, obs: Observation, keys: list[str]) -> ClusterSummary:
        nodes = [f"ad:{obs.ad_id}", *keys]
        new_ad = nodes[0] not in self._parent  # a re-delivered ad is not counted twice
        for node in nodes:
            if node not in self._parent:
                self._parent[node] = node
                self._clusters[node] = _Cluster()
                self._members[node] = [node]
        self._ad_ts.setdefault(obs.ad_id, obs.ts)
        root_of = {n: self._find(n) for n in nodes}
        hubs: list[str] = []
        regrouped: list[Regroup] = []
        if self.hub_limit is not None:
            before = {k: self._unrelated_uses.get(k, 0) for k in keys}
            hubs = hub_step(keys, root_of, root_of[nodes[0]], lambda r: self._clusters[r].size > 0,
                            self._unrelated_uses, self.hub_limit)
            new_hubs = [k for k in hubs if before[k] < self.hub_limit]
            if new_hubs:  # undo what the new hubs merged before they were known to be hubs
                for old_root in dict.fromkeys(root_of[k] for k in new_hubs):
                    regrouped += self._split_without_hubs(old_root)
                root_of = {n: self._find(n) for n in nodes}
        roots = list(dict.fromkeys(root_of[n] for n in nodes if n not in hubs))
        root = max(roots, key=lambda r: (self._clusters[r].size, r))
        cluster = self._clusters[root]
        for other in roots:
            if other == root:
                continue
            merged = self._clusters.pop(other)
            self._parent[other] = root
            self._members[root].extend(self._members.pop(other))
            cluster.size += merged.size
            cluster.phones |= merged.phones
            cluster.cities |= merged.cities
            cluster.first_ts = min(cluster.first_ts, merged.first_ts)
            cluster.last_ts = max(cluster.last_ts, merged.last_ts)
            room = CLUSTER_SAMPLE - len(cluster.ad_ids)
            cluster.ad_ids.extend(merged.ad_ids[: max(0, room)])
        if new_ad:
            cluster.size += 1
            if len(cluster.ad_ids) < CLUSTER_SAMPLE:
                cluster.ad_ids.append(obs.ad_id)
        cluster.phones.update(obs.phones)
        if obs.city:
            cluster.cities.add(obs.city)
        cluster.first_ts = min(cluster.first_ts, obs.ts)
        cluster.last_ts = max(cluster.last_ts, obs.ts)
        return cluster.summary(root, tuple(hubs), tuple(regrouped))

    def _is_hub(self, node: str) -> bool:
        return self.hub_limit is not None and self._unrelated_uses.get(node, 0) >= self.hub_limit

    def _split_without_hubs(self, old_root: str) -> list[Regroup]:
        """Regroup the cluster of `old_root` from its ads and non-hub identifiers (a hub is found
        only at its third unrelated use, after it has merged the clusters of earlier ones);
        returns the clusters with ads it fell into (see `ClusterSummary.regrouped`)."""
        members = self._members.pop(old_root)
        old = self._clusters.pop(old_root)
        ads = {n for n in members if n.startswith("ad:")}
        seen_with = {n: {ad: self._ad_ts[ad] for ad in self._keys[n].ad_ids if f"ad:{ad}" in ads}
                     for n in members if not n.startswith("ad:") and not self._is_hub(n) and n in self._keys}
        groups = regroup(ads, seen_with, old_root)
        grouped = {n for g in groups for n in g.nodes}
        for node in members:
            if node not in grouped:  # hubs and identifiers of no kept ad stand alone
                self._parent[node] = node
                self._clusters[node] = _Cluster()
                self._members[node] = [node]
        for group in groups:
            cluster = _Cluster(size=len(group.ads), ad_ids=[a for a, _ in group.ads[:CLUSTER_SAMPLE]])
            for identifier in group.identifiers:
                if identifier.startswith("phone:"):
                    cluster.phones.add(identifier.removeprefix("phone:"))
                cluster.cities.update(self._keys[identifier].cities.latest)
            times = [self._ad_ts[a] for a, _ in group.ads]
            cluster.first_ts = min(times, default=old.first_ts)
            cluster.last_ts = max(times, default=old.last_ts)
            for node in group.nodes:
                self._parent[node] = group.root
            self._clusters[group.root] = cluster
            self._members[group.root] = list(group.nodes)
        return [Regroup(from_id=old_root, cluster_id=g.root, size=len(g.ads),
                        ad_ids=tuple(a for a, _ in g.ads[:REGROUPED_IDS]),
                        phones=tuple(sorted(self._clusters[g.root].phones)[:CLUSTER_SAMPLE]),
                        cities=tuple(sorted(self._clusters[g.root].cities)[:CLUSTER_SAMPLE]),
                        first_ts=self._clusters[g.root].first_ts, last_ts=self._clusters[g.root].last_ts)
                for g in groups if g.ads]


# ---------------------------------------------------------------- features


@dataclass(frozen=True)
class LinkFeatures:
    """What the scorer reads from linking, with the identifiers behind each number."""

    stats: tuple[IdentifierStats, ...]
    cluster: ClusterSummary
    template_id: str | None

    def strongest(self, kinds: Iterable[str], metric) -> tuple[int, IdentifierStats | None]:
        """The identifier of `kinds` with the largest `metric`; hubs are left out (their
        counts describe a desk or a booking service that unrelated advertisers share)."""
        best, best_stat = 0, None
        for st in self.stats:
            if st.kind in kinds and st.key not in self.cluster.left_out:
                value = metric(st)
                if value > best:
                    best, best_stat = value, st
        return best, best_stat

    def as_record(self) -> dict:
        record = {
            "template_id": self.template_id,
            "identifiers": [
                {
                    "kind": st.kind,
                    "ads": st.ads,
                    "cities_30d": st.cities_30d,
                    "regions_30d": st.regions_30d,
                    "phones_30d": st.phones_30d,
                    "ages": st.ages,
                }
                for st in self.stats
            ],
        }
        if self.cluster.regrouped:  # this ad made a hub: where the ads of its old cluster went
            record["regrouped"] = self.cluster.regrouped_record()
        return record


def link_ad(store: LinkStore, obs: Observation) -> LinkFeatures:
    """Record the ad in the link state and return its linking features."""
    keys = obs.identifier_keys()
    stats, cluster = store.link(obs, keys)
    return LinkFeatures(stats=tuple(stats), cluster=cluster, template_id=obs.template_id)


def link_ads(store: LinkStore, observations: list[Observation]) -> list[LinkFeatures]:
    """`link_ad` for each observation in order, in one call to the store."""
    linked = store.link_many([(obs, obs.identifier_keys()) for obs in observations])
    return [LinkFeatures(stats=tuple(stats), cluster=cluster, template_id=obs.template_id)
            for obs, (stats, cluster) in zip(observations, linked, strict=True)]
