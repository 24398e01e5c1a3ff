"""Clusters after an erasure: a union-find cannot lose a member in place, so the cluster that
held a forgotten ad or identifier is regrouped from what remains — the ads each remaining
identifier was seen with — and may fall apart into several clusters."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Regrouped:
    """One cluster after regrouping: its root node, every node in it, and its ads by time."""

    root: str
    nodes: list[str]
    ads: list[tuple[str, float]] = field(default_factory=list)  # (ad id, first seen), oldest first

    @property
    def identifiers(self) -> list[str]:
        return [n for n in self.nodes if not n.startswith("ad:")]


def regroup(ad_nodes: set[str], seen_with: dict[str, dict[str, float]], old_root: str) -> list[Regrouped]:
    """Clusters of the remaining nodes. `ad_nodes`: the cluster's ads still kept ("ad:<id>");
    `seen_with`: each remaining identifier node → {ad id: time} of the kept ads it was seen
    with (identifiers left with no ad are dropped). A cluster keeps `old_root` as its root when
    it still holds it, else takes its greatest node (deterministic)."""
    parent: dict[str, str] = {n: n for n in ad_nodes}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    times: dict[str, float] = {}
    for identifier, ads in seen_with.items():
        linked = [f"ad:{ad}" for ad in ads if f"ad:{ad}" in ad_nodes]
        if not linked:
            continue
        parent.setdefault(identifier, identifier)
        for node in linked:
            parent[find(node)] = find(identifier)
        for ad, ts in ads.items():
            times[ad] = min(ts, times.get(ad, ts))
    groups: dict[str, list[str]] = {}
    for node in parent:
        groups.setdefault(find(node), []).append(node)
    out = []
    for nodes in groups.values():
        nodes.sort()
        root = old_root if old_root in nodes else nodes[-1]
        ads = sorted(((n[3:], times.get(n[3:], 0.0)) for n in nodes if n.startswith("ad:")),
                     key=lambda item: (item[1], item[0]))
        out.append(Regrouped(root, nodes, ads))
    return sorted(out, key=lambda g: g.root)
