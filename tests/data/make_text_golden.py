"""Record (or check) the full text-enrichment output, so that speed work cannot change results.

`python tests/data/make_text_golden.py` rewrites tests/data/text_golden.json.gz: for every ad of
the labelled set (as is and padded to the benchmark's ~600 characters) and of the generated corpus
`vigil generate --ads 2000 --seed 7`, the entities (values, evidence spans, itinerary, flags), the
indicators (ids, weights, evidence spans) and the template text. `--check` compares instead and
prints the first differences; tests/unit/test_text_golden.py runs the same comparison.
"""

from __future__ import annotations

import gzip
import json
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from detectors.text.compiled import TEXT_IMPLEMENTATION  # noqa: E402
from detectors.text.entities import extract_entities  # noqa: E402
from detectors.text.indicators import match_indicators  # noqa: E402
from detectors.text.placeholders import template_text  # noqa: E402
from streams.bench.text import DEFAULT_DATA, load_labelled, padded_corpus  # noqa: E402
from streams.evaluation.synthetic import synthetic_ads  # noqa: E402

OUT = Path(__file__).with_name("text_golden.json.gz")
GENERATED_ADS, GENERATED_SEED = 2000, 7


def corpus() -> Iterator[tuple[str, str, str, str]]:
    """(key, title, body, country) of every ad the record covers, in a fixed order."""
    records = load_labelled(DEFAULT_DATA)
    for record in records:
        yield record["id"], record["title"], record["body"], record.get("country") or "US"
    for record, (title, body, country) in zip(records, padded_corpus(records), strict=True):
        yield record["id"] + "/padded", title, body, country
    for item in synthetic_ads(GENERATED_ADS, GENERATED_SEED):
        ad = item.ad
        country = (ad.get("location") or {}).get("country") or "US"
        yield ad["ad_id"], ad.get("title") or "", ad.get("body") or "", country


def enrichment(title: str, body: str, country: str) -> dict:
    """Everything the text detectors say about one ad, as plain JSON."""
    return {
        "entities": extract_entities(title, body, country=country),
        "indicators": match_indicators(title, body),
        "template": template_text(title, body, country),
    }


def record_all() -> dict[str, dict]:
    # JSON round trip: tuples and lists, int and float keys compare as they are stored
    return json.loads(json.dumps({key: enrichment(t, b, c) for key, t, b, c in corpus()}))


def load_golden(path: Path = OUT) -> dict[str, dict]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return json.load(handle)


def differences(expected: dict[str, dict], actual: dict[str, dict]) -> list[str]:
    out = [f"{key}: missing" for key in expected.keys() - actual.keys()]
    out += [f"{key}: not in the record" for key in actual.keys() - expected.keys()]
    for key in expected.keys() & actual.keys():
        for part in ("entities", "indicators", "template"):
            if expected[key][part] != actual[key][part]:
                out.append(f"{key} {part}:\n  was {expected[key][part]}\n  now {actual[key][part]}")
    return sorted(out)


def main(argv: list[str]) -> int:
    actual = record_all()
    if "--check" in argv:
        diffs = differences(load_golden(), actual)
        for line in diffs[:20]:
            print(line)
        print(f"{len(actual)} ads, {len(diffs)} differences (text detectors {TEXT_IMPLEMENTATION})")
        return 1 if diffs else 0
    with gzip.GzipFile(OUT, "wb", mtime=0) as raw:
        raw.write(json.dumps(actual, sort_keys=True, ensure_ascii=False).encode("utf-8"))
    print(f"wrote {OUT} ({len(actual)} ads)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
