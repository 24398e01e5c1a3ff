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
