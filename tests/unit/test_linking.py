"""Linking logic on the in-memory store (the Redis store is held to the same cases in
tests/integration/test_linkstore.py)."""

from detectors.linking.links import DAY, HOUR, LinkFeatures, MemoryLinkStore, Observation, link_ad

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


# ---------------------------------------------------------------- hubs


DESK = "+17025550999"  # a motel's front desk, in the ads of advertisers who share nothing else


def advertiser_posts(store, name: str, start: float, extra_phones=()) -> object:
    """Two ads of one advertiser (own phone and template), then one that also lists `extra_phones`."""
    own = f"+1702555{sum(map(ord, name)):04d}"  # distinct for the names below
    for i in range(2):
        link_ad(store, obs(f"{name}-{i}", start + i, phones=(own,), template_id=f"tpl-{name}"))
    return link_ad(store, obs(f"{name}-desk", start + 2, phones=(own, *extra_phones),
                              template_id=f"tpl-{name}"))


def test_a_number_shared_by_unrelated_advertisers_stops_linking_them():
    store = MemoryLinkStore()
    clusters = [advertiser_posts(store, name, T0 + 10 * i, (DESK,)).cluster
                for i, name in enumerate(["ann", "bea", "cat", "dee", "eve"])]
    # ann's ad brings the desk in; bea's and cat's are its 1st and 2nd unrelated uses and still
    # merge; dee's is the 3rd (HUB_UNRELATED_USES): the desk is a hub and links nobody more
    assert [c.size for c in clusters] == [3, 6, 9, 3, 3]
    assert [c.left_out for c in clusters] == [(), (), (), (f"phone:{DESK}",), (f"phone:{DESK}",)]
    assert clusters[3].as_record()["left_out_hubs"] == ["phone"]  # the kind, not the number
    assert "left_out_hubs" not in clusters[0].as_record()
    assert store.cluster_of("dee-0") != store.cluster_of("ann-0")
    assert store.cluster_of("eve-0") != store.cluster_of("dee-0")
    # and what the desk merged before it was known to be a hub is undone: ann, bea and cat
    # are three advertisers again, each with its own three ads
    firsts = {name: store.cluster_of(f"{name}-0") for name in ("ann", "bea", "cat")}
    assert len(set(firsts.values())) == 3
    # dee's ad, which made the desk a hub, says so for the store: the old cluster and the three
    # it fell into, each with its ads oldest first
    old_root = clusters[2].cluster_id
    regrouped = {r.cluster_id: r for r in clusters[3].regrouped}
    assert {r.from_id for r in regrouped.values()} == {old_root} and set(regrouped) == set(firsts.values())
    for i, (name, root) in enumerate(firsts.items()):
        r = regrouped[root]
        own = f"+1702555{sum(map(ord, name)):04d}"  # the desk is no longer one of its phones
        assert (r.size, r.ad_ids, r.phones) == (3, (f"{name}-0", f"{name}-1", f"{name}-desk"), (own,))
        assert (r.first_ts, r.last_ts) == (T0 + 10 * i, T0 + 10 * i + 2)
    assert old_root in firsts.values()  # one of them keeps the old id
    assert [c.regrouped for c in clusters[:3] + clusters[4:]] == [(), (), (), ()]
    feats = LinkFeatures(stats=(), cluster=clusters[3], template_id=None).as_record()
    assert [g["size"] for g in feats["regrouped"]] == [3, 3, 3] and "regrouped" not in LinkFeatures(
        stats=(), cluster=clusters[2], template_id=None).as_record()
    assert all(store.cluster_of(f"{name}-desk") == root for name, root in firsts.items())
    again = link_ad(store, obs("bea-3", T0 + 50, phones=(f"+1702555{sum(map(ord, 'bea')):04d}",),
                               template_id="tpl-bea")).cluster
    assert again.size == 4 and set(again.ad_ids) == {"bea-0", "bea-1", "bea-desk", "bea-3"}
    assert again.first_ts == T0 + 10 and again.last_ts == T0 + 50
    # the hub keeps its windows: it is evidence, just not a link
    later = link_ad(store, obs("fay-0", T0 + 100, phones=(DESK,)))
    assert later.stats[0].ads["24h"] == 6 and later.cluster.size == 1


def test_an_organisation_meeting_its_own_identifiers_again_is_not_a_hub():
    """Rotating phones, one template and a photo across cities: every use is related (another
    identifier of the ad is already in the cluster), so nothing is left out."""
    store = MemoryLinkStore()
    phones = [f"+1816555{n:04d}" for n in range(6)]
    cities = ["Denver", "Omaha", "Wichita", "Tulsa"]
    for i in range(40):
        pair = (phones[(i // 5) % 6], phones[(i // 5 + 1) % 6])
        feats = link_ad(store, obs(f"o{i}", T0 + i * HOUR, city=cities[(i // 10) % 4], phones=pair[:1 + i % 2],
                                   template_id="tpl-org", photos=("pic",) if i % 3 == 0 else ()))
        assert feats.cluster.left_out == ()
    assert feats.cluster.size == 40


def test_hub_step_counts_only_unrelated_uses_beside_established_clusters():
    from detectors.linking.links import hub_step

    holds = {"A": True, "B": True, "fresh": False}.get
    uses: dict[str, int] = {}
    # the desk's cluster is A; the ad's other identifier is in B: unrelated, counted (both ways)
    assert hub_step(["desk", "own"], {"desk": "A", "own": "B"}, "ad", holds, uses, limit=2) == []
    assert uses == {"desk": 1, "own": 1}
    # beside an identifier of its own cluster: related, not counted
    hub_step(["desk", "tpl", "own"], {"desk": "A", "tpl": "A", "own": "B"}, "ad", holds, uses, limit=2)
    assert uses == {"desk": 1, "own": 2}
    # beside fresh identifiers only: nothing to be unrelated to
    hub_step(["desk", "new"], {"desk": "A", "new": "fresh"}, "ad", holds, uses, limit=2)
    assert uses["desk"] == 1
    # at the limit it is a hub, and a hub no longer counts as evidence of relatedness
    assert hub_step(["desk", "x"], {"desk": "A", "x": "B"}, "ad", holds, uses, limit=2) == ["desk"]
    assert hub_step(["own", "desk"], {"own": "B", "desk": "A"}, "ad", holds, uses, limit=2) == ["own", "desk"]


def test_a_hubs_counts_are_not_the_advertisers_evidence():
    """Once the desk is a hub, its 24-hour volume (every advertiser's ads) no longer scores as
    this advertiser's volume; the advertiser's own number still does."""
    store = MemoryLinkStore()
    for i, name in enumerate(["ann", "bea", "cat", "dee"]):
        advertiser_posts(store, name, T0 + 10 * i, (DESK,))
    feats = advertiser_posts(store, "eve", T0 + 50, (DESK,))
    assert feats.cluster.left_out == (f"phone:{DESK}",)
    n, stat = feats.strongest(("phone",), lambda s: s.ads["24h"])
    assert stat is not None and stat.key != f"phone:{DESK}" and n == 3
    desk = next(s for s in feats.stats if s.key == f"phone:{DESK}")
    assert desk.ads["24h"] == 5  # the count is still there, for the analyst
