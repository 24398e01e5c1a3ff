"""The Redis link store (streams/scoring/linkstore.py) gives the same answers as the in-memory one."""

import random
import time
import uuid
from collections import Counter

import pytest
import redis

from detectors.linking.links import DAY, MemoryLinkStore, Observation, link_ad
from detectors.linking.templates import MAX_CANDIDATES, TemplateIndex, memory_template_index, new_lsh_index, signature
from detectors.text.placeholders import template_text
from streams.evaluation.generate import generate_ads
from streams.scoring.linkstore import RedisLinkStore, RedisTemplateStore


@pytest.fixture
def client(stack):
    return redis.Redis.from_url(stack.redis_url)


def random_observations(seed: int, n: int) -> list[Observation]:
    rng = random.Random(seed)
    phones = [f"+1720555{rng.randrange(10**4):04d}" for _ in range(12)]
    cities = ["Denver", "Omaha", "Wichita", "Tulsa", "Boise", "Reno"]
    out, ts = [], 1.79e9
    for i in range(n):
        ts += rng.expovariate(1 / (DAY / 10))
        out.append(Observation(
            ad_id=f"a{i}", ts=ts, city=rng.choice(cities), region="XX",
            ages=tuple(rng.sample([19, 21, 23, 25], rng.randint(0, 1))),
            phones=tuple(rng.sample(phones, rng.randint(0, 2))),
            photos=tuple(rng.sample(["p1", "p2", "p3", "p4", "p5"], rng.randint(0, 1))),
            template_id=rng.choice([None, "t1", "t2", "t3"]),
        ))
    return out


def advertisers_with_hubs(seed: int, n: int) -> list[Observation]:
    """Ads of 25 advertisers (own phone and template each) of which some also list one of two
    front-desk numbers or a booking e-mail: hubs form, and some advertisers' ads pass through
    them before they do."""
    rng = random.Random(seed)
    desks, cities, out, ts = ["+17025550990", "+17025550991"], ["Reno", "Elko", "Vegas"], [], 1.79e9
    for i in range(n):
        who = rng.randrange(25)
        ts += rng.expovariate(1 / (DAY / 10))
        phones = (f"+1775555{who:04d}",) + ((rng.choice(desks),) if rng.random() < 0.3 else ())
        out.append(Observation(ad_id=f"a{i}", ts=ts, city=rng.choice(cities), region="NV",
                               phones=phones, template_id=f"t{who}",
                               emails=("book@desk.example",) if rng.random() < 0.1 else ()))
    return out


def assert_member_sets_match(client, prefix: str) -> None:
    """Each cluster's member set (what a hub's regroup reads) holds exactly the nodes whose
    root it is: merges moved them, idle nodes left, regroups rewrote them."""
    def text(value) -> str:
        return value.decode() if isinstance(value, bytes) else value

    parent = {text(k): text(v) for k, v in client.hgetall(f"{prefix}uf:parent").items()}

    def root(n: str) -> str:
        while parent[n] != n:
            n = parent[n]
        return n

    by_root: dict[str, set[str]] = {}
    for node in parent:
        by_root.setdefault(root(node), set()).add(node)
    sets = {text(key)[len(f"{prefix}uf:c:"):-len(":members")]
            for key in client.scan_iter(f"{prefix}uf:c:*:members")}
    for r, nodes in by_root.items():
        if nodes != {r}:  # a lone node (a new hub, an identifier left by a regroup) needs no set
            assert {text(m) for m in client.smembers(f"{prefix}uf:c:{r}:members")} == nodes, r
    assert sets <= set(by_root), "a member set of a cluster that is gone"


def assert_stores_agree(client, observations: list[Observation]) -> set[str]:
    """Link each observation in both stores; every answer equal. Returns the hubs left out."""
    redis_store = RedisLinkStore(client, prefix=f"test:{uuid.uuid4().hex}:")
    memory_store = MemoryLinkStore()
    hubs_seen: set[str] = set()
    for o in observations:
        expected = link_ad(memory_store, o)
        got = link_ad(redis_store, o)
        for e, g in zip(expected.stats, got.stats, strict=True):
            assert (g.key, g.ads, g.cities_30d, g.regions_30d, g.phones_30d, g.ages, g.cities) == (
                e.key, e.ads, e.cities_30d, e.regions_30d, e.phones_30d, e.ages, e.cities)
            assert g.first_seen == pytest.approx(e.first_seen, abs=1e-3)
        ec, gc = expected.cluster, got.cluster
        assert (gc.cluster_id, gc.size, gc.phones, gc.cities, gc.ad_ids, gc.left_out, gc.regrouped) == (
            ec.cluster_id, ec.size, ec.phones, ec.cities, ec.ad_ids, ec.left_out, ec.regrouped)
        assert gc.first_ts == pytest.approx(ec.first_ts) and gc.last_ts == pytest.approx(ec.last_ts)
        hubs_seen.update(gc.left_out)
    # a new hub regroups its cluster, so the past ads' clusters must agree too
    for o in observations:
        assert redis_store.cluster_of(o.ad_id) == memory_store.cluster_of(o.ad_id), o.ad_id
    assert_member_sets_match(client, redis_store.prefix)
    return hubs_seen


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_redis_store_matches_memory_store(client, seed):
    assert_stores_agree(client, random_observations(seed, 150))


@pytest.mark.parametrize("seed", [1, 2])
def test_redis_store_matches_memory_store_where_hubs_form(client, seed):
    hubs = assert_stores_agree(client, advertisers_with_hubs(seed, 200))
    assert "phone:+17025550990" in hubs and "phone:+17025550991" in hubs


def test_a_shared_desk_number_becomes_a_hub_in_redis_as_in_memory(client):
    """The unit case (tests/unit/test_linking.py) on Redis: five advertisers with nothing in
    common list one front desk; the 3rd unrelated use makes it a hub."""
    store = RedisLinkStore(client, prefix=f"test:{uuid.uuid4().hex}:")
    desk, clusters = "+17025550999", []
    for i, name in enumerate(["ann", "bea", "cat", "dee", "eve"]):
        own, t = f"+1702555{i:04d}", 1.79e9 + 10 * i
        for j in range(2):
            link_ad(store, Observation(ad_id=f"{name}-{j}", ts=t + j, city="Reno", region="NV",
                                       phones=(own,), template_id=f"tpl-{name}"))
        if name == "dee":
            hub_made_at = time.time()
        clusters.append(link_ad(store, Observation(ad_id=f"{name}-desk", ts=t + 2, city="Reno", region="NV",
                                                   phones=(own, desk), template_id=f"tpl-{name}")).cluster)
    assert [c.size for c in clusters] == [3, 6, 9, 3, 3]
    assert [c.left_out for c in clusters] == [(), (), (), (f"phone:{desk}",), (f"phone:{desk}",)]
    assert store.cluster_of("dee-0") != store.cluster_of("ann-0") != store.cluster_of("eve-0")
    # dee's ad made the desk a hub and says where the desk's cluster went (for the store)
    assert [c.regrouped != () for c in clusters] == [False, False, False, True, False]
    assert {(r.size, r.ad_ids, r.cities) for r in clusters[3].regrouped} == {
        (3, (f"{name}-0", f"{name}-1", f"{name}-desk"), ("Reno",)) for name in ("ann", "bea", "cat")}
    # the desk's earlier merges are undone: ann, bea and cat are apart again, each with its ads
    roots = [store.cluster_of(f"{name}-0") for name in ("ann", "bea", "cat")]
    assert len(set(roots)) == 3
    # each new root counts as used now: pruning goes oldest first and must not take a root
    # (say an idle template) before the nodes under it
    touched = [client.zscore(f"{store.prefix}uf:touched", r) for r in roots]
    assert all(t is not None and t >= hub_made_at for t in touched), touched
    assert [store.cluster_of(f"{name}-desk") for name in ("ann", "bea", "cat")] == roots
    bea = link_ad(store, Observation(ad_id="bea-3", ts=1.79e9 + 50, city="Reno", region="NV",
                                     phones=("+17025550001",), template_id="tpl-bea")).cluster
    assert bea.size == 4 and set(bea.ad_ids) == {"bea-0", "bea-1", "bea-desk", "bea-3"}


def test_a_cluster_from_before_member_sets_is_kept_whole_when_a_hub_forms(client):
    """Link state written by an older version has no member sets: a hub forming in such a
    cluster must leave it as it was (merged), never drop the nodes a missing set does not name."""
    prefix = f"test:{uuid.uuid4().hex}:"
    store = RedisLinkStore(client, prefix=prefix)
    desk = "+17025550999"
    for i, name in enumerate(["ann", "bea", "cat", "dee"]):
        own, t = f"+1702555{i:04d}", 1.79e9 + 10 * i
        for j in range(2):
            link_ad(store, Observation(ad_id=f"{name}-{j}", ts=t + j, city="Reno", region="NV",
                                       phones=(own,), template_id=f"tpl-{name}"))
        if name == "dee":  # the older version's state: no member sets at all; then one more
            client.delete(*client.scan_iter(f"{prefix}uf:c:*:members"))  # ad joins that cluster
            link_ad(store, Observation(ad_id="ann-2", ts=t, city="Reno", region="NV",
                                       phones=("+17025550000",), template_id="tpl-ann"))
        last = link_ad(store, Observation(ad_id=f"{name}-desk", ts=t + 2, city="Reno", region="NV",
                                          phones=(own, desk), template_id=f"tpl-{name}")).cluster
    assert last.left_out == (f"phone:{desk}",)  # dee's ad made the desk a hub
    root = store.cluster_of("ann-0")
    assert store.cluster_of("bea-0") == store.cluster_of("cat-desk") == store.cluster_of("ann-2") == root
    assert int(client.hget(f"{prefix}uf:c:{root}", "size")) == 10
    assert not client.exists(f"{prefix}uf:c:{root}:members"), "a partial member set would regroup a part"


def test_redelivered_ad_is_not_counted_twice_in_redis(client):
    store = RedisLinkStore(client, prefix=f"test:{uuid.uuid4().hex}:")
    o = Observation(ad_id="x", ts=1.79e9, city="Denver", phones=("+17205550100",))
    link_ad(store, o)
    again = link_ad(store, o)
    assert again.cluster.size == 1
    assert again.stats[0].ads["24h"] == 1


def _reference_template_ids(texts: list[tuple[str, str]]) -> list[str | None]:
    """The template ids datasketch's own LSH gives (query, first MAX_CANDIDATES candidates in
    id order, smallest of their template ids, insert): what both stores must reproduce."""
    lsh, template_of, out = new_lsh_index(), {}, []
    for ad_id, text in texts:
        sig = signature(text)
        if sig.minhash is None:
            out.append(None)
            continue
        candidates = sorted(lsh.query(sig.minhash))[:MAX_CANDIDATES]
        template_of[ad_id] = min((template_of[c] for c in candidates), default=ad_id)
        lsh.insert(ad_id, sig.minhash, check_duplication=False)
        out.append(template_of[ad_id])
    return out


def test_redis_template_store_agrees_with_memory_and_with_datasketch(client):
    ads = list(generate_ads(1500, seed=4, difficulty="hard", images=False))
    texts = [(ad["ad_id"], template_text(ad["title"], ad["body"])) for ad in ads]
    base = ("sweet and discreet companion visiting your city this week only call now "
            "for incall or outcall available late nights and weekends")
    texts += [(f"zz{i:03d}", base.replace("sweet", f"sweet{i % 3}")) for i in range(60)]
    shared = TemplateIndex(RedisTemplateStore(client, f"test:{uuid.uuid4().hex}:"))
    local = memory_template_index()
    got_redis = [shared.assign(ad_id, text) for ad_id, text in texts]
    got_memory = [local.assign(ad_id, text) for ad_id, text in texts]
    assert got_redis == got_memory == _reference_template_ids(texts)
    groups = Counter(t for t in got_memory if t)
    assert max(groups.values()) >= MAX_CANDIDATES + 20, "no group larger than the candidate cap"
    assert len(groups) > 100
    # re-delivery keeps the first answer, in both stores
    assert shared.assign(texts[5][0], base) == got_redis[5]
    assert local.assign(texts[5][0], base) == got_memory[5]


def test_cluster_of_follows_later_merges_in_both_stores(client):
    for store in (MemoryLinkStore(), RedisLinkStore(client, prefix=f"test:{uuid.uuid4().hex}:")):
        first = link_ad(store, Observation(ad_id="a", ts=1.0, phones=("+1",)))
        link_ad(store, Observation(ad_id="b", ts=2.0, phones=("+2",)))
        link_ad(store, Observation(ad_id="c", ts=3.0, phones=("+2",)))
        bridge = link_ad(store, Observation(ad_id="d", ts=4.0, phones=("+1", "+2")))
        assert first.cluster.cluster_id != bridge.cluster.cluster_id or first.cluster.size == 1
        assert store.cluster_of("a") == store.cluster_of("b") == bridge.cluster.cluster_id
        assert store.cluster_of("nobody") == "ad:nobody"


def test_a_pending_write_lands_in_the_same_round_trip_ahead_of_the_next_link_write(client):
    """The worker queues each ad's stored result (PendingWrites); it must be in Redis once the
    next ad's link step has run, and before that step's own writes (same pipeline, in order)."""
    from streams.scoring.linkstore import PendingWrites

    prefix = f"test:{uuid.uuid4().hex}:"
    pending = PendingWrites()
    store = RedisLinkStore(client, prefix, pending=pending)
    order_key = f"{prefix}order"
    # the queued write records how many ads the link state held when it ran
    pending.add(lambda pipe: pipe.eval(
        "return redis.call('RPUSH', KEYS[1], redis.call('ZCARD', KEYS[2]))", 2, order_key,
        f"{prefix}id:phone:+17205550100:ads"))
    assert client.llen(order_key) == 0, "a queued write waits for the next write"
    obs = Observation(ad_id="p1", ts=1.79e9, city="Reno", region="NV", ages=(), phones=("+17205550100",),
                      photos=(), template_id=None)
    stats, cluster = store.link(obs, obs.identifier_keys())
    assert client.lrange(order_key, 0, -1) == [b"0"], "it ran first, before the ad was observed"
    assert pending.queued == [] and cluster.size == 1 and stats[0].ads["1h"] == 1
    pending.add(lambda pipe: pipe.set(f"{prefix}flushed", 1))
    pending.flush(client)
    assert client.get(f"{prefix}flushed") == b"1" and pending.queued == []


def test_the_link_scripts_are_loaded_again_after_redis_forgets_them(client):
    prefix = f"test:{uuid.uuid4().hex}:"
    store = RedisLinkStore(client, prefix)
    templates = RedisTemplateStore(client, prefix)
    client.script_flush()  # as after a restart without the script cache
    obs = Observation(ad_id="s1", ts=1.79e9, city="Reno", region="NV", ages=(), phones=("+17205550101",),
                      photos=(), template_id=None)
    _, cluster = store.link(obs, obs.identifier_keys())
    assert cluster.size == 1
    assert templates.assign("s1", ["b1", "b2"], MAX_CANDIDATES) == "s1"


class Clock:
    """The time the stores stamp on what they touch, moved by the test."""

    def __init__(self, now: float = 1.79e9) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _members(client, key: str) -> set[str]:
    return {m.decode() for m in client.hkeys(key)}


def test_idle_clusters_and_template_assignments_are_forgotten_after_the_link_retention(client):
    """Bounded state (issue 16): the union-find and the template index forget what has been idle
    for the retention, a few entries per call, so a stream that goes on keeps them the size of
    the retention window; a number seen again after that starts afresh."""
    prefix, clock, day = f"test:{uuid.uuid4().hex}:", Clock(), 86400
    store = RedisLinkStore(client, prefix, ttl_s=30 * day, clock=clock)
    templates = RedisTemplateStore(client, prefix, ttl_s=30 * day, clock=clock)

    def ad(ad_id: str, phones: tuple[str, ...]) -> None:
        obs = Observation(ad_id=ad_id, ts=clock.now, city="Reno", region="NV", phones=phones)
        store.link(obs, obs.identifier_keys())
        templates.assign(ad_id, ["shared-band", f"own-{ad_id}"], MAX_CANDIDATES)

    for i in range(40):  # old ads: 20 clusters of two ads sharing a number
        ad(f"old{i}", (f"+1720555{i // 2:04d}",))
    old_roots = {store.cluster_of(f"old{i}") for i in range(40)}
    assert len(old_roots) == 20 and all(client.exists(f"{prefix}uf:c:{r}") for r in old_roots)
    clock.now += 31 * day
    for i in range(20):  # new ads, one number each, none of the old ones
        ad(f"new{i}", (f"+1303555{i:04d}",))
    parent = _members(client, f"{prefix}uf:parent")
    assert parent == {f"ad:new{i}" for i in range(20)} | {f"phone:+1303555{i:04d}" for i in range(20)}
    assert not any(client.exists(f"{prefix}uf:c:{r}") for r in old_roots)
    assert client.zcard(f"{prefix}uf:touched") == len(parent)
    assert_member_sets_match(client, prefix)
    assert _members(client, f"{prefix}tpl:of") == {f"new{i}" for i in range(20)}
    # the new ads' template is their own (new0), not an old ad's forgotten one; the old ids met
    # as candidates left the shared band
    assert templates.template_of("new5") == "new0"
    assert not any(m.decode().startswith("old")
                   for m in client.zrange(f"{prefix}tpl:band:shared-band", 0, -1))
    # an old number seen again is a new cluster of one
    obs = Observation(ad_id="back", ts=clock.now, city="Reno", region="NV", phones=("+17205550003",))
    _, cluster = store.link(obs, obs.identifier_keys())
    assert cluster.size == 1 and cluster.ad_ids == ("back",)


def test_a_cluster_in_use_is_kept_and_only_its_idle_ads_are_forgotten(client):
    prefix, clock, day = f"test:{uuid.uuid4().hex}:", Clock(), 86400
    store = RedisLinkStore(client, prefix, ttl_s=30 * day, clock=clock)
    phone = ("+17205550199",)
    for ad_id in ("a1", "a2", "a3"):  # 20 days apart: the number never idles for 30
        obs = Observation(ad_id=ad_id, ts=clock.now, city="Reno", region="NV", phones=phone)
        _, cluster = store.link(obs, obs.identifier_keys())
        clock.now += 20 * day
    assert cluster.size == 3 and cluster.ad_ids == ("a1", "a2", "a3")
    parent = _members(client, f"{prefix}uf:parent")
    assert "ad:a1" not in parent, "a1 was idle for 40 days"
    assert {"ad:a2", "ad:a3", "phone:+17205550199"} <= parent
    assert store.cluster_of("a2") == store.cluster_of("a3") == cluster.cluster_id
    assert_member_sets_match(client, prefix)  # a1 left its cluster's member set too


def test_a_batch_in_one_round_trip_gives_what_ad_by_ad_calls_give(client):
    """The worker sends a batch's template and link steps in one pipelined round trip each;
    Redis runs them in order, so each ad sees the ads before it as separate calls would."""
    from detectors.linking.links import link_ads

    observations = random_observations(7, 200)
    memory_store, redis_store = MemoryLinkStore(), RedisLinkStore(client, prefix=f"test:{uuid.uuid4().hex}:")
    expected = [link_ad(memory_store, o) for o in observations]
    got = []
    for start in range(0, len(observations), 23):
        got += link_ads(redis_store, observations[start:start + 23])
    for e, g in zip(expected, got, strict=True):
        assert [(s.key, s.ads, s.cities_30d, s.phones_30d, s.ages) for s in g.stats] == [
            (s.key, s.ads, s.cities_30d, s.phones_30d, s.ages) for s in e.stats]
        assert (g.cluster.cluster_id, g.cluster.size, g.cluster.ad_ids) == (
            e.cluster.cluster_id, e.cluster.size, e.cluster.ad_ids)

    ads = list(generate_ads(400, seed=8, difficulty="hard", images=False))
    texts = [(ad["ad_id"], template_text(ad["title"], ad["body"])) for ad in ads]
    shared = TemplateIndex(RedisTemplateStore(client, f"test:{uuid.uuid4().hex}:"))
    batched = []
    for start in range(0, len(texts), 29):
        batched += shared.assign_many(texts[start:start + 29])
    assert batched == _reference_template_ids(texts)
    assert len(set(batched)) < len(batched) - 20, "too few shared templates to say anything"


def test_the_stack_redis_rewrites_its_append_only_file_at_the_configured_growth(client):
    """Link state churns; at Redis's defaults the file was rewritten every 30 s in a soak."""
    from streams.config import REDIS_AOF_REWRITE

    def setting(name: str) -> str:
        (value,) = client.config_get(name).values()
        return value.decode() if isinstance(value, bytes) else value

    assert setting("appendonly") == "yes"
    got = {name: setting(name) for name in REDIS_AOF_REWRITE}
    assert got == {"auto-aof-rewrite-percentage": "300", "auto-aof-rewrite-min-size": str(256 * 2**20)}
