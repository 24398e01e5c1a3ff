"""The text detectors give exactly the recorded output (entities, spans, indicators, template text)
on the labelled set, its ~600-character padded copies and `vigil generate --ads 2000 --seed 7`.

Speed work on detectors/ must keep this passing; an intended change of output is recorded again
with `python tests/data/make_text_golden.py` and explained in its commit.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "data" / "make_text_golden.py"


def _recorder():
    spec = importlib.util.spec_from_file_location("make_text_golden", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def test_enrichment_output_matches_the_record() -> None:
    recorder = _recorder()
    expected = recorder.load_golden()
    actual = recorder.record_all()
    assert len(expected) == 2 * 561 + recorder.GENERATED_ADS  # the labelled set, as is and padded
    diffs = recorder.differences(expected, actual)
    assert not diffs, "\n".join(diffs[:10])


def test_the_comparison_sees_a_changed_span() -> None:
    recorder = _recorder()
    expected = {"a": {"entities": {"phones": [{"value": "+1", "evidence": [{"start": 1}]}]},
                      "indicators": [], "template": "x"}}
    actual = {"a": {"entities": {"phones": [{"value": "+1", "evidence": [{"start": 2}]}]},
                    "indicators": [], "template": "x"}}
    assert recorder.differences(expected, actual)
    assert not recorder.differences(expected, expected)
