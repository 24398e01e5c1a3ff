"""Feedback records without a broker: labels, schema checks, files and one-line CLI errors."""

from __future__ import annotations

import json

import jsonschema
import pytest

from streams.cli import main
from streams.errors import CliError
from streams.model.feedback import (
    feedback_record,
    parse_feedback,
    parse_label,
    read_feedback_file,
    with_ad_ids,
)


@pytest.mark.parametrize(("text", "expected"), [("true", True), ("TP", True), ("yes", True),
                                                 ("false", False), ("fp", False), ("0", False)])
def test_labels(text, expected):
    assert parse_label(text) is expected


def test_unknown_label_is_a_user_error():
    with pytest.raises(CliError):
        parse_label("maybe")


def test_records_follow_the_schema():
    record = feedback_record("al-1", True, note="n", ad_id="ad-1", analyst="a", at=5.0)
    assert record == {"schema_version": 1, "alert_id": "al-1", "ad_id": "ad-1", "label": True,
                      "note": "n", "analyst": "a", "at": 5.0}
    with pytest.raises(jsonschema.ValidationError):
        feedback_record("", True)
    with pytest.raises(jsonschema.ValidationError):
        feedback_record("al-1", True, note="x" * 2001)


def test_parse_feedback_keeps_valid_records_and_counts_the_rest():
    good = json.dumps(feedback_record("al-1", False, at=1.0))
    records, invalid = parse_feedback([good.encode(), b"{", b'{"alert_id": "x"}', None])
    assert [r["alert_id"] for r in records] == ["al-1"]
    assert invalid == 3


def test_missing_ad_ids_are_filled_from_alerts_only_where_known():
    records = [{"alert_id": "a", "ad_id": None}, {"alert_id": "b", "ad_id": "ad-b"},
               {"alert_id": "c"}]
    filled = with_ad_ids(records, {"a": "ad-a", "b": "other", "z": "ad-z"})
    assert [r["ad_id"] for r in filled] == ["ad-a", "ad-b", None]


def test_feedback_file_must_hold_only_valid_records(tmp_path):
    path = tmp_path / "fb.jsonl"
    path.write_text(json.dumps(feedback_record("al-1", True, at=1.0)) + "\n\n")
    assert len(read_feedback_file(str(path))) == 1
    path.write_text(json.dumps(feedback_record("al-1", True, at=1.0)) + "\n{}\n")
    with pytest.raises(CliError, match="1 of 2 lines"):
        read_feedback_file(str(path))
    with pytest.raises(CliError, match="cannot read"):
        read_feedback_file(str(tmp_path / "none.jsonl"))


def test_cli_refuses_bad_input_and_an_absent_broker_in_one_line(monkeypatch, capsys):
    monkeypatch.setenv("KAFKA_BOOTSTRAP", "127.0.0.1:9")
    assert main(["feedback", "al-1", "perhaps"]) == 2
    assert main(["feedback", "al-1", "true", "x" * 2001]) == 2
    assert main(["feedback", "al-1", "true"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3
    assert "true or false" in err[0] and "2000" in err[1]
    assert err[2] == ("vigil feedback: feedback not recorded: Kafka at 127.0.0.1:9: nothing listens there (is the "
                      "broker up? check KAFKA_BOOTSTRAP or VIGIL_KAFKA_PORT)")
