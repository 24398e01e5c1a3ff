"""Linking logic on the in-memory store (the Redis store is held to the same cases in
tests/integration/test_linkstore.py)."""

from detectors.linking.links import DAY, HOUR, MemoryLinkStore, Observation, link_ad

T0 = 1_790_000_000.0


def obs(ad_id, ts, city="Denver", region="CO", phones=("+17205550101",), **kw):
    return Observation(ad_id=ad_id, ts=ts, city=city, region=region, phones=tuple(phones), **kw)


def test_windowed_counts_per_phone():
    store = MemoryLinkStore()
    for i, dt in enumerate([0, 10 * 60, 5 * HOUR, 2 * DAY]):
        feats = link_ad(store, obs(f"a{i}", T0 + dt))
    (stat,) = feats.stats
    assert stat.ads == {"1h": 1, "24h": 1, "7d": 4}
    feats = link_ad(store, obs("a9", T0 + 2 * DAY + 60))
    assert feats.stats[0].ads["1h"] == 2


def test_movement_counts_distinct_cities_in_30_days():
    store = MemoryLinkStore()
    cities = ["Denver", "Omaha", "Wichita", "Omaha", "Tulsa"]
    for i, city in enumerate(cities):
        feats = link_ad(store, obs(f"a{i}", T0 + i * DAY, city=city, region=city[:2]))
    assert feats.stats[0].cities_30d == 4
    assert feats.stats[0].cities == ("Denver", "Omaha", "Tulsa", "Wichita")
    late = link_ad(store, obs("late", T0 + 40 * DAY, city="Boise"))
    assert late.stats[0].cities_30d == 1


def test_distinct_ages_behind_one_phone():
    store = MemoryLinkStore()
    link_ad(store, obs("a1", T0, ages=(19,)))
    feats = link_ad(store, obs("a2", T0 + 60, ages=(22,)))
    assert feats.stats[0].ages == 2


def test_clusters_join_through_shared_identifiers_and_count_each_ad_once():
    store = MemoryLinkStore()
    link_ad(store, obs("a1", T0, phones=("+1111",)))
    link_ad(store, obs("a2", T0 + 1, phones=("+2222",), city="Omaha"))
    assert link_ad(store, obs("a1", T0, phones=("+1111",))).cluster.size == 1  # redelivery
    bridge = link_ad(store, obs("a3", T0 + 2, phones=("+1111", "+2222"), city="Tulsa"))
    assert bridge.cluster.size == 3
    assert set(bridge.cluster.phones) == {"+1111", "+2222"}
    assert set(bridge.cluster.cities) == {"Denver", "Omaha", "Tulsa"}
    assert bridge.cluster.span_days == 2 / DAY
    lone = link_ad(store, Observation(ad_id="z", ts=T0))
    assert lone.cluster.size == 1 and lone.cluster.cluster_id == "ad:z"


def test_template_and_photo_are_identifiers_with_phone_counts():
    store = MemoryLinkStore()
    link_ad(store, obs("a1", T0, phones=("+1",), photos=("p1",), template_id="a1"))
    feats = link_ad(store, obs("a2", T0 + 5, phones=("+2",), photos=("p1",), template_id="a1"))
    by_kind = {s.kind: s for s in feats.stats}
    assert by_kind["photo"].phones_30d == 2
    assert by_kind["tpl"].phones_30d == 2
    assert feats.cluster.size == 2
