"""The Redis link store (streams/linkstore.py) gives the same answers as the in-memory one."""

import random
import uuid

import pytest
import redis

from detectors.linking import DAY, MemoryLinkStore, Observation, link_ad
from detectors.templates import TemplateIndex, memory_template_index, new_lsh_index
from streams.linkstore import RedisHashMap, RedisLinkStore


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


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_redis_store_matches_memory_store(client, seed):
    redis_store = RedisLinkStore(client, prefix=f"test:{uuid.uuid4().hex}:")
    memory_store = MemoryLinkStore()
    for o in random_observations(seed, 150):
        expected = link_ad(memory_store, o)
        got = link_ad(redis_store, o)
        for e, g in zip(expected.stats, got.stats, strict=True):
            assert (g.key, g.ads, g.cities_30d, g.regions_30d, g.phones_30d, g.ages, g.cities) == (
                e.key, e.ads, e.cities_30d, e.regions_30d, e.phones_30d, e.ages, e.cities)
            assert g.first_seen == pytest.approx(e.first_seen, abs=1e-3)
        ec, gc = expected.cluster, got.cluster
        assert (gc.cluster_id, gc.size, gc.phones, gc.cities, gc.ad_ids) == (
            ec.cluster_id, ec.size, ec.phones, ec.cities, ec.ad_ids)
        assert gc.first_ts == pytest.approx(ec.first_ts) and gc.last_ts == pytest.approx(ec.last_ts)


def test_redelivered_ad_is_not_counted_twice_in_redis(client):
    store = RedisLinkStore(client, prefix=f"test:{uuid.uuid4().hex}:")
    o = Observation(ad_id="x", ts=1.79e9, city="Denver", phones=("+17205550100",))
    link_ad(store, o)
    again = link_ad(store, o)
    assert again.cluster.size == 1
    assert again.stats[0].ads["24h"] == 1


def test_redis_template_index_agrees_with_memory(client, stack):
    prefix = f"test:{uuid.uuid4().hex}:"
    url = redis.connection.parse_url(stack.redis_url)
    lsh = new_lsh_index({"type": "redis", "basename": f"{prefix}lsh".encode(),
                         "redis": {"host": url["host"], "port": url["port"]}})
    shared = TemplateIndex(lsh, RedisHashMap(client, f"{prefix}tpl:of"))
    local = memory_template_index()
    base = ("sweet and discreet companion visiting your city this week only call now "
            "for incall or outcall available late nights and weekends")
    texts = [base, base.replace("sweet", "lovely"), "completely different text about a blue sofa "
             "for sale with two matching chairs and a coffee table pickup only downtown", base]
    for i, text in enumerate(texts):
        assert shared.assign(f"ad{i}", text) == local.assign(f"ad{i}", text)
    assert local.assign("ad1", texts[1]) == "ad0"
    assert local.assign("ad2", texts[2]) == "ad2"


def test_cluster_of_follows_later_merges_in_both_stores(client):
    for store in (MemoryLinkStore(), RedisLinkStore(client, prefix=f"test:{uuid.uuid4().hex}:")):
        first = link_ad(store, Observation(ad_id="a", ts=1.0, phones=("+1",)))
        link_ad(store, Observation(ad_id="b", ts=2.0, phones=("+2",)))
        link_ad(store, Observation(ad_id="c", ts=3.0, phones=("+2",)))
        bridge = link_ad(store, Observation(ad_id="d", ts=4.0, phones=("+1", "+2")))
        assert first.cluster.cluster_id != bridge.cluster.cluster_id or first.cluster.size == 1
        assert store.cluster_of("a") == store.cluster_of("b") == bridge.cluster.cluster_id
        assert store.cluster_of("nobody") == "ad:nobody"
