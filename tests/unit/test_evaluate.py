"""`vigil eval`'s batch path: ablation runs that reuse enrichment give the same answers."""

from streams.evaluation.evaluate import score_batch
from streams.evaluation.generate import generate_ads
from streams.evaluation.metrics import evaluate


def test_ablation_with_shared_enrichment_matches_fresh_runs(monkeypatch, tmp_path):
    monkeypatch.setenv("VIGIL_MODEL", str(tmp_path / "no-model.skops"))  # same scorer in every run
    ads = list(generate_ads(300, seed=5, difficulty="hard"))
    truth = {ad["ad_id"]: ad["ground_truth"] for ad in ads}
    cache: dict = {}
    first = score_batch(ads, enrich_cache=cache)
    assert len(cache) == len(ads)
    for family in ("text", "link"):
        fresh = score_batch(ads, disabled=frozenset({family}))
        reused = score_batch(ads, disabled=frozenset({family}), enrich_cache=cache)
        assert [(r["ad_id"], r["severity"], r["risk"]) for r in reused] == \
               [(r["ad_id"], r["severity"], r["risk"]) for r in fresh]
        assert evaluate(reused, truth).row() == evaluate(fresh, truth).row()
    # switching a family off must change something, or the comparison above proves nothing
    assert [r["risk"] for r in score_batch(ads, disabled=frozenset({"text"}), enrich_cache=cache)] != \
           [r["risk"] for r in first]


def test_hubs_left_out_keep_unrelated_advertisers_apart(monkeypatch, tmp_path):
    """On a corpus whose independents and organisations share motel desks and booking e-mails
    (`vigil generate --hubs`), linking through them merges advertisers; the hub rule stops it."""
    monkeypatch.setenv("VIGIL_MODEL", str(tmp_path / "no-model.skops"))
    ads = list(generate_ads(4000, seed=7, difficulty="hard", images=False, hubs=True))
    cache: dict = {}
    kept_apart = score_batch(ads, enrich_cache=cache)
    chained = score_batch(ads, enrich_cache=cache, hubs_left_out=False)

    org_of = {ad["ad_id"]: ad["ground_truth"].get("org_id") for ad in ads}

    def actors_per_cluster(scored: list[dict]) -> int:
        """The most advertisers in one cluster: organisations by org_id, independents by their
        own number (front desks are NXX-555-00XX, no advertiser's own)."""
        clusters: dict[str, set] = {}
        for record in scored:
            own = [p for p in record["entities"]["phones"] if not p[-4:].startswith("00")]
            actor = org_of[record["ad_id"]] or (own[0] if own else None)
            if actor and record["cluster"]:
                clusters.setdefault(record["cluster"]["cluster_id"], set()).add(actor)
        return max(len(members) for members in clusters.values())

    assert any("left_out_hubs" in r["cluster"] for r in kept_apart)
    assert not any("left_out_hubs" in r["cluster"] for r in chained)
    assert actors_per_cluster(chained) > actors_per_cluster(kept_apart)
