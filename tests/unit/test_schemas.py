"""The records vigil writes validate against their JSON Schemas in schemas/."""

import json

import jsonschema
import pytest

from detectors.alerts.policy import build_alert
from detectors.deadletter import dead_letter
from schemas import SCHEMA_FILES, load_schema
from streams.evaluation.generate import generate_ads
from streams.scoring.batch import score_lines
from streams.scoring.runtime import batch_pipeline


def validator(name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(load_schema(name),
                                           format_checker=jsonschema.FormatChecker())


@pytest.mark.parametrize("name", sorted(SCHEMA_FILES))
def test_every_schema_is_a_valid_draft_2020_12_schema(name):
    jsonschema.Draft202012Validator.check_schema(load_schema(name))


def test_generated_ads_scored_records_alerts_and_dead_letters_match_their_schemas(tmp_path):
    ads = list(generate_ads(300, seed=5, difficulty="hard", images=True))
    raw_ad = validator("raw_ad")
    for ad in ads:
        raw_ad.validate(ad)
    lines = [json.dumps(ad).encode() for ad in ads] + [b"not json", json.dumps(ads[0]).encode()]
    pipeline = batch_pipeline(model_path=tmp_path / "no-model.skops")
    scored_v, alert_v, dlq_v = validator("scored_ad"), validator("alert"), validator("dead_letter")
    kinds = {"scored": 0, "dead_letter": 0}
    alerts = 0
    for kind, record in score_lines(lines, pipeline):
        kinds[kind] += 1
        record = json.loads(json.dumps(record, default=str))  # as it travels on a topic
        if kind == "scored":
            scored_v.validate(record)
            if record["alert"]:
                alert_v.validate(json.loads(json.dumps(build_alert(record))))
                alerts += 1
        else:
            dlq_v.validate(record)
    assert kinds == {"scored": 300, "dead_letter": 2}
    assert alerts > 0


def test_schema_rejects_a_scored_record_with_a_bad_phone():
    bad = {"schema_version": 1, "ad_id": "x", "entities": {
        "phones": ["555-0101"], "emails": [], "handles": [], "urls": [], "ages": [], "prices": [],
        "locations": []}, "indicators": [], "risk": 0.1, "severity": "none", "reasons": [],
        "image_matches": []}
    with pytest.raises(jsonschema.ValidationError):
        validator("scored_ad").validate(bad)
    dead_letter(stage="validate", error_code="x", reason="y", original=b"z")  # builds
