"""The scorer combines families into one risk with reasons; bank matches dominate."""

from detectors.alerts.policy import alert_id, decide
from detectors.linking.links import DAY, MemoryLinkStore, Observation, link_ad
from detectors.scoring.scorer import score_ad

STRONG = {"id": "youth_new_girl", "category": "youth", "weight": 0.9,
          "evidence": [{"field": "body", "start": 0, "end": 8, "text": "new girl"}]}


def test_no_signal_gives_low_risk_and_no_reasons():
    score = score_ad(indicators=[], model_probability=None, link=None, bank_matches=[])
    assert score.severity == "none"
    assert score.reasons == ()
    assert score.risk < 0.05


def test_indicators_raise_risk_with_evidence_in_reasons():
    weak = score_ad(indicators=[], model_probability=None, link=None, bank_matches=[])
    strong = score_ad(indicators=[STRONG], model_probability=None, link=None, bank_matches=[])
    assert strong.risk > weak.risk
    assert strong.reasons[0].code == "indicator:youth_new_girl"
    assert strong.reasons[0].evidence[0]["text"] == "new girl"


def test_same_category_counts_once():
    twice = [STRONG, {**STRONG, "id": "youth_other", "weight": 0.5}]
    once = score_ad(indicators=[STRONG], model_probability=None, link=None, bank_matches=[])
    both = score_ad(indicators=twice, model_probability=None, link=None, bank_matches=[])
    assert both.risk == once.risk


def test_missing_children_match_is_always_critical():
    match = {"bank": "missing_children", "entry_id": "e1", "case_id": "MC-1", "hash_type": "pdq",
             "distance": 12, "image_index": 0, "image_ref": "inline:ab"}
    score = score_ad(indicators=[], model_probability=0.01, link=None, bank_matches=[match])
    assert score.severity == "critical"
    assert "MC-1" in score.reasons[0].detail


def test_linked_circuit_alone_can_alert():
    store = MemoryLinkStore()
    cities = ["Denver", "Omaha", "Wichita", "Tulsa", "Boise"]
    feats = None
    for i in range(40):
        feats = link_ad(store, Observation(
            ad_id=f"o{i}", ts=1.79e9 + i * DAY / 8, city=cities[i % 5],
            phones=(f"+1720555010{i % 3}",), template_id="o0"))
    score = score_ad(indicators=[], model_probability=None, link=feats, bank_matches=[])
    codes = {r.code for r in score.reasons}
    assert {"link:circuit", "link:template_phones", "link:cluster_phones"} <= codes
    assert score.severity in ("high", "critical", "medium")
    off = score_ad(indicators=[], model_probability=None, link=feats, bank_matches=[],
                   disabled_families=frozenset({"link"}))
    assert off.severity == "none"


def test_alert_ids_are_deterministic_and_suppression_lets_escalation_through():
    assert alert_id("a", "c", "high") == alert_id("a", "c", "high")
    assert alert_id("a", "c", "high") != alert_id("a", "c", "critical")
    first = decide(None, severity="medium", cluster_size=4)
    assert first.send
    assert not decide(first.state, severity="medium", cluster_size=5).send
    assert decide(first.state, severity="high", cluster_size=5).send
    assert decide(first.state, severity="medium", cluster_size=8).send


def test_suppression_remembers_the_ad_that_alerted_so_its_redelivery_alerts_again():
    first = decide(None, severity="medium", cluster_size=4, ad_id="a1")
    assert first.send and first.state["ad_id"] == "a1"
    # the same ad again (a redelivery after a crash): the same decision, state unchanged
    again = decide(first.state, severity="medium", cluster_size=4, ad_id="a1")
    assert again.send and again.why == first.why and again.state == first.state
    # another ad of the cluster is still suppressed
    assert not decide(first.state, severity="medium", cluster_size=5, ad_id="a2").send


def test_the_model_reason_names_the_words_that_moved_it_its_way():
    from detectors.scoring.model import ModelWord

    words = [ModelWord("my driver", 0.9), ModelWord("independent", -0.8), ModelWord("cash only", 0.4),
             ModelWord("hello", 0.1), ModelWord("dinner", -0.2)]
    raised = score_ad(indicators=[], model_probability=0.95, link=None, bank_matches=[], model_words=words)
    reason = next(r for r in raised.reasons if r.code == "model:text_classifier")
    assert reason.contribution > 0
    assert reason.detail.endswith('words that raised it most: "my driver", "cash only", "hello"')
    lowered = score_ad(indicators=[], model_probability=0.02, link=None, bank_matches=[], model_words=words)
    reason = next(r for r in lowered.reasons if r.code == "model:text_classifier")
    assert reason.contribution < 0
    assert reason.detail.endswith('words that lowered it most: "independent", "dinner"')
    plain = score_ad(indicators=[], model_probability=0.95, link=None, bank_matches=[])
    assert [r.detail for r in plain.reasons] == ["text classifier probability 0.95"]


def test_indicator_weights_count_less_beside_the_model_that_reads_them_and_say_so():
    import copy

    from detectors.scoring.scorer import load_scoring_config

    cfg = copy.deepcopy(load_scoring_config())
    cfg["model"]["text_weight"] = 0.25
    alone = score_ad(indicators=[STRONG], model_probability=None, link=None, bank_matches=[], config=cfg)
    beside = score_ad(indicators=[STRONG], model_probability=0.2, link=None, bank_matches=[], config=cfg)
    model_off = score_ad(indicators=[STRONG], model_probability=0.2, link=None, bank_matches=[],
                         config=cfg, disabled_families=frozenset({"model"}))
    full = alone.reasons[0].contribution
    assert beside.reasons[0].contribution == 0.25 * full
    assert "beside the text model" in beside.reasons[0].detail
    # without a model (none loaded, or the family switched off) the indicator keeps its weight
    assert model_off.reasons[0].contribution == full
    assert "text model" not in alone.reasons[0].detail


def _found(ind_id: str, category: str, start: int, end: int, weight: float = 0.6) -> dict:
    return {"id": ind_id, "category": category, "weight": weight,
            "evidence": [{"field": "body", "start": start, "end": end, "text": "x" * (end - start)}]}


def test_two_categories_on_the_same_words_are_one_finding_for_the_floors():
    from detectors.scoring.scorer import floor_reasons, load_scoring_config

    cfg = load_scoring_config()
    context = _found("commercial_sex_context", "context", 0, 6, 1.0)
    rose_as_money = _found("coded_emoji_money", "coded_emoji", 20, 21)
    rose_as_payment = _found("coded_payment", "payment", 20, 21)
    one_rose = floor_reasons([context, rose_as_money, rose_as_payment], -4.0, cfg["floors"], cfg["severity"])
    assert not one_rose
    # a payment read on the rose and on a deposit still leaves the money code nothing of its own
    deposit = _found("deposit_upfront", "payment", 40, 55)
    assert not floor_reasons([context, rose_as_money, rose_as_payment, deposit], -4.0, cfg["floors"],
                             cfg["severity"])
    around_the_clock = _found("always_available", "availability_24_7", 60, 64)
    two = floor_reasons([context, rose_as_money, rose_as_payment, around_the_clock], -4.0, cfg["floors"],
                        cfg["severity"])
    assert [r.code for r in two] == ["floor:two_categories_commercial"]


def test_a_model_that_never_read_human_wording_is_scored_beside_with_its_own_settings():
    from detectors.scoring.scorer import load_scoring_config, scoring_config_for

    base = load_scoring_config()
    assert scoring_config_for(None) is base
    assert scoring_config_for({"independent_ads": 1318}) is base
    generated_only = scoring_config_for({"examples": 20000})
    assert generated_only["model"]["text_weight"] == 1.0
    assert generated_only["model"]["logit_scale"] < base["model"]["logit_scale"]
    # the broad floors (weak categories counted) apply beside such a model, not beside the other
    context = _found("commercial_sex_context", "context", 0, 6, 1.0)
    weak_pair = [context, _found("always_available", "availability_24_7", 10, 14, 0.3),
                 _found("deposit_upfront", "payment", 20, 30, 0.3)]
    beside_generated = score_ad(indicators=weak_pair, model_probability=0.05, link=None,
                                bank_matches=[], config=generated_only)
    beside_human = score_ad(indicators=weak_pair, model_probability=0.05, link=None,
                            bank_matches=[], config=base)
    assert "floor:two_categories_commercial" in {r.code for r in beside_generated.reasons}
    assert "floor:two_categories_commercial" not in {r.code for r in beside_human.reasons}
    assert beside_generated.severity == "medium" and beside_human.severity in ("none", "low")
