"""Bad input, searched for: generated malformed records thrown at the batch path (`vigil score`),
in process and as the CLI over a file. Every line must end scored or dead-lettered, in input
order, with a reason that says what and where; never a traceback, and the exit code stays 0.

Hypothesis runs derandomised (a fixed seed per test, no example database), so CI sees the same
records on every run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache
from pathlib import Path

import jsonschema
from hypothesis import HealthCheck, given, settings

from detectors.validation import parse_raw_ad
from schemas import load_schema
from streams.scoring.batch import score_lines
from streams.scoring.runtime import batch_pipeline
from tests.malformed import record_batches

REPO = Path(__file__).resolve().parents[2]
PROPERTY = settings(derandomize=True, database=None, deadline=None, max_examples=150,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@cache
def pipeline():
    return batch_pipeline(model_path=None)


@cache
def checker(name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(load_schema(name))


def assert_accounted(lines: list[bytes], outputs: list[tuple[str, dict]]) -> None:
    """One output per line, in order, each one writable as UTF-8 JSON and valid against its
    schema; a dead letter names its line and carries the line's bytes."""
    assert len(outputs) == len(lines)
    seen: set[str] = set()
    for number, (line, (kind, record)) in enumerate(zip(lines, outputs, strict=True), start=1):
        written = json.dumps(record, ensure_ascii=False, default=str).encode("utf-8")  # as the CLI writes it
        assert written
        if kind == "dead_letter":
            checker("dead_letter").validate(record)
            assert record["stage"] == "validate", record
            assert record["reason"].startswith(f"line {number}: "), record["reason"]
            assert record["original_size"] == len(line)
        else:
            assert kind == "scored"
            parsed = parse_raw_ad(line)
            assert isinstance(parsed, dict), "a line that fails validation was scored"
            assert record["ad_id"] == parsed["ad_id"] and parsed["ad_id"] not in seen
            seen.add(record["ad_id"])
            assert record["severity"] in ("none", "low", "medium", "high", "critical")


@PROPERTY
@given(record_batches())
def test_every_generated_line_ends_scored_or_dead_lettered_in_order(lines):
    assert_accounted(lines, list(score_lines(lines, pipeline())))


def test_the_three_lines_that_used_to_abort_the_file_are_dead_lettered_with_field_and_reason():
    good = {"ad_id": "ok", "source": "t", "posted_at": "2026-11-01T10:00:00Z", "title": "t",
            "body": "b", "location": {}}
    lines = [b"[" * 5000 + b"]" * 5000,
             json.dumps({**good, "ad_id": "d", "posted_at": "last tuesday"}).encode(),
             json.dumps({**good, "ad_id": "s", "title": "x\ud800"}).encode(),
             json.dumps(good).encode()]
    outputs = list(score_lines(lines, pipeline()))
    assert_accounted(lines, outputs)
    assert [(kind, record.get("error_code")) for kind, record in outputs] == [
        ("dead_letter", "too_deep"), ("dead_letter", "bad_date"), ("dead_letter", "invalid_unicode"),
        ("scored", None)]
    assert "5000 levels" in outputs[0][1]["reason"]
    assert "'posted_at'" in outputs[1][1]["reason"] and "last tuesday" in outputs[1][1]["reason"]
    assert "'title'" in outputs[2][1]["reason"] and "U+D800" in outputs[2][1]["reason"]


@settings(derandomize=True, database=None, deadline=None, max_examples=3,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(record_batches(min_size=40, max_size=80))
def test_vigil_score_over_a_file_of_generated_lines_exits_0_and_accounts_for_every_line(tmp_path_factory, lines):
    folder = tmp_path_factory.mktemp("score")
    source, out, dlq = folder / "in.jsonl", folder / "out.jsonl", folder / "dlq.jsonl"
    source.write_bytes(b"\n".join(lines) + b"\n")
    result = subprocess.run([sys.executable, "-m", "streams.cli", "score", str(source), "--out", str(out),
                             "--dlq", str(dlq), "--model", str(folder / "no-model.skops")],
                            cwd=REPO, capture_output=True, timeout=300)
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-2000:]
    assert b"Traceback" not in result.stderr
    scored = [json.loads(line) for line in out.read_bytes().splitlines()]
    dead = [json.loads(line) for line in dlq.read_bytes().splitlines()]
    assert len(scored) + len(dead) == len(lines)
    # in input order: dead letters by their line numbers, scored ads by their position in the input
    dead_lines = [int(record["reason"].split(":")[0].removeprefix("line ")) for record in dead]
    assert dead_lines == sorted(dead_lines)
    scored_lines = [number for number in range(1, len(lines) + 1) if number not in set(dead_lines)]
    assert [record["ad_id"] for record in scored] == [parse_raw_ad(lines[n - 1])["ad_id"] for n in scored_lines]
