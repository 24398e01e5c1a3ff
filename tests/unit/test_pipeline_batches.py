"""`AdPipeline.process_many` (the worker's batches) gives what `process` gives ad by ad."""

from streams.evaluation.generate import generate_ads
from streams.scoring.runtime import batch_pipeline


def _comparable(record: dict) -> dict:
    return {k: v for k, v in record.items() if k != "scored_at"}


def test_a_batch_scores_each_ad_as_one_ad_at_a_time_would(tmp_path):
    ads = [{k: v for k, v in ad.items() if k != "ground_truth"}
           for ad in generate_ads(300, seed=17, difficulty="hard", images=False)]
    one_by_one = batch_pipeline(model_path=tmp_path / "no-model.skops")
    batched = batch_pipeline(model_path=tmp_path / "no-model.skops")
    expected = [_comparable(one_by_one.process(ad)) for ad in ads]
    got = []
    for start in range(0, len(ads), 37):  # batches that share clusters and templates
        got += [_comparable(r) for r in batched.process_many(ads[start:start + 37])]
    assert got == expected
    assert len({r["cluster"]["cluster_id"] for r in got}) < len(got), "no ads were linked"
    assert len({r["link"]["template_id"] for r in got}) < len(got), "no templates were shared"


def test_an_ad_that_fails_gets_its_error_and_leaves_the_others_and_the_link_state_alone(tmp_path):
    ads = [{k: v for k, v in ad.items() if k != "ground_truth"}
           for ad in generate_ads(6, seed=3, difficulty="easy", images=False)]
    broken = {**ads[2], "posted_at": "not a time"}
    pipeline = batch_pipeline(model_path=tmp_path / "no-model.skops")
    timings = [{} for _ in ads]
    out = pipeline.process_many([*ads[:2], broken, *ads[3:]], timings=timings)
    assert isinstance(out[2], Exception)
    assert [r["ad_id"] for i, r in enumerate(out) if i != 2] == [a["ad_id"] for i, a in enumerate(ads) if i != 2]
    assert pipeline.link_store.cluster_of(broken["ad_id"]) == f"ad:{broken['ad_id']}", "linked although it failed"
    assert all({"text", "link", "score"} <= set(t) for i, t in enumerate(timings) if i != 2)
