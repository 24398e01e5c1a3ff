"""`vigil bench text`: accuracy and speed of the text detectors against plain `phonenumbers`.

Accuracy: precision and recall per entity type on the labelled set (tests/data/
text_labelled.jsonl), with `phonenumbers.PhoneNumberMatcher` on the same ads as the phone
baseline; phone recall per obfuscation style, held-out styles apart. Then the independently
written phone snippets (tests/data/independent/): the dev half per style, the locked half as
aggregates only (precision, recall and counts; no snippet, number or per-item result is ever
printed from it). Speed: full text enrichment (normalise + all entities + indicators) in ads per
second on one core, for ads padded to about 600 characters, beside the baseline matcher's rate on
the same ads, and what each layer costs.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import phonenumbers

from detectors.text.adtext import analyse_ad
from detectors.text.compiled import TEXT_IMPLEMENTATION
from detectors.text.entities import extract_entities
from detectors.text.indicators import match_indicators
from detectors.text.phones import clear_cache as clear_phone_cache
from streams.errors import CliError

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "tests" / "data" / "text_labelled.jsonl"
INDEPENDENT = Path(__file__).resolve().parents[2] / "tests" / "data" / "independent"
PHONE_SETS = {"dev": INDEPENDENT / "phones_dev.jsonl", "locked": INDEPENDENT / "phones_locked.jsonl.gz"}
ENTITY_TYPES = ("phones", "emails", "handles", "ages", "urls", "locations")
TARGET_AD_CHARS = 600


@dataclass
class Score:
    """Micro-averaged counts of one extractor on one entity type."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, predicted: Iterable, expected: Iterable) -> None:
        p, e = set(predicted), set(expected)
        self.tp += len(p & e)
        self.fp += len(p - e)
        self.fn += len(e - p)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


@dataclass
class Evaluation:
    ads: int = 0
    negatives: int = 0
    vigil: dict[str, Score] = field(default_factory=lambda: defaultdict(Score))
    baseline_phones: Score = field(default_factory=Score)
    style_recall: dict[str, list[int]] = field(
        default_factory=dict
    )  # style -> [found, expected, baseline]
    held_out: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)


def load_labelled(path: Path) -> list[dict]:
    if not path.is_file():
        raise CliError(
            f"labelled set not found: {path} (make it with tests/data/make_text_labelled.py)"
        )
    records = []
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise CliError(f"{path}:{number}: not JSON ({exc.msg})") from exc
    return records


def baseline_phones(title: str, body: str, country: str) -> list[str]:
    """The plain library: PhoneNumberMatcher over the raw title and body."""
    out = []
    for text in (title, body):
        for match in phonenumbers.PhoneNumberMatcher(text, country):
            out.append(
                phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
            )
    return out


def evaluate(records: list[dict]) -> Evaluation:
    result = Evaluation()
    for record in records:
        title, body, country = record["title"], record["body"], record.get("country") or "US"
        expected = record["expected"]
        result.ads += 1
        result.negatives += record.get("group") == "negative"
        entities = extract_entities(title, body, country=country)
        for kind in ENTITY_TYPES:
            predicted = [item["value"] for item in entities[kind]]
            if kind == "handles":  # a handle counts whatever the platform guess
                predicted = [v.split(":", 1)[1] for v in predicted]
                wanted = [v.split(":", 1)[1] for v in expected.get(kind, [])]
            else:
                wanted = expected.get(kind, [])
            result.vigil[kind].add(predicted, wanted)
            for item in entities[kind]:
                for ev in item["evidence"]:
                    source = title if ev["field"] == "title" else body
                    if source[ev["start"] : ev["end"]] != ev["text"]:
                        result.errors.append(f"{record['id']}: evidence offsets do not match text")
        base = baseline_phones(title, body, country)
        result.baseline_phones.add(base, expected["phones"])
        if record.get("group") == "positive":
            style = record["style"]
            counts = result.style_recall.setdefault(style, [0, 0, 0])
            found = {item["value"] for item in entities["phones"]}
            counts[0] += len(found & set(expected["phones"]))
            counts[1] += len(expected["phones"])
            counts[2] += len(set(base) & set(expected["phones"]))
            if record.get("held_out"):
                result.held_out.add(style)
    return result


@dataclass
class PhoneSetResult:
    """vigil and phonenumbers on one independent phone set; per style found/expected/baseline."""

    rows: int = 0
    negatives: int = 0
    vigil: Score = field(default_factory=Score)
    baseline: Score = field(default_factory=Score)
    styles: dict[str, list[int]] = field(default_factory=dict)


def evaluate_phone_set(records: list[dict]) -> PhoneSetResult:
    """Phones only, each snippet read with its own country as the default region."""
    result = PhoneSetResult()
    for record in records:
        title, body = record.get("title") or "", record.get("body") or ""
        country = record.get("country") or "US"
        expected = record["expected"]["phones"]
        found = [item["value"] for item in extract_entities(title, body, country=country)["phones"]]
        base = baseline_phones(title, body, country)
        result.rows += 1
        result.negatives += record.get("group") == "negative"
        result.vigil.add(found, expected)
        result.baseline.add(base, expected)
        if expected:
            counts = result.styles.setdefault(record.get("style") or "?", [0, 0, 0])
            counts[0] += len(set(found) & set(expected))
            counts[1] += len(set(expected))
            counts[2] += len(set(base) & set(expected))
    return result


def phone_set_report(name: str, result: PhoneSetResult, per_style: bool) -> list[str]:
    lines = [
        f"independent phone snippets, {name} half: {result.rows} rows "
        f"({result.negatives} negatives without phones)",
        f"  {'extractor':<13} {'precision':>9} {'recall':>7} {'tp':>5} {'fp':>4} {'fn':>4}",
        f"  {'vigil':<13} {_fmt(result.vigil)}",
        f"  {'phonenumbers':<13} {_fmt(result.baseline)}",
    ]
    if per_style:
        lines.append(f"  recall by style (vigil / phonenumbers){'':>10}found/expected")
        for style in sorted(result.styles):
            found, expected, base = result.styles[style]
            lines.append(f"    {style:<40} {found / expected:5.2f} / {base / expected:4.2f}   {found}/{expected}")
    return lines


# descriptive sentences of the kind that fill a classified ad around its contacts and numbers
FILLER = [
    "I am sweet, playful and easy going, and I love meeting new people.",
    "Come relax with me after a long day, everything is calm and private.",
    "Clean, friendly and always on time, I treat everyone with respect.",
    "Serious inquiries only please, no games and no time wasters.",
    "My place is quiet, safe and easy to find with parking right outside.",
    "Message me to know more about my schedule this week.",
    "Selling because I am moving across the country, pickup only.",
    "Everything works great and has been kept in a smoke free home.",
    "Friendly conversation, good vibes and a warm smile guaranteed.",
    "Please read the whole ad before you reach out to me.",
    "I speak English and a little Spanish, and I love to travel.",
    "Bring a good attitude and we will get along just fine.",
    "Located close to the highway, shopping center and restaurants.",
    "Pictures are recent and real, what you see is what you get.",
    "Available most evenings and weekends, just ask ahead of time.",
    "The apartment is bright, recently painted and close to transit.",
]


def padded_corpus(records: list[dict], target: int = TARGET_AD_CHARS) -> list[tuple[str, str, str]]:
    """(title, body, country) per record: the ad's own text plus filler prose to ~target chars.

    Each benchmark ad keeps exactly the entities of its labelled ad; the filler is ordinary prose,
    so a 600-character ad has one ad's worth of contacts and numbers, as a real one would.
    """
    corpus = []
    for i, record in enumerate(records):
        body = record["body"]
        k = i
        while len(body) < target:
            body += " " + FILLER[k % len(FILLER)]
            k += 7
        corpus.append((record["title"], body, record.get("country") or "US"))
    return corpus


def enrich(title: str, body: str, country: str) -> None:
    extract_entities(title, body, country=country)
    match_indicators(title, body)


def entities_only(title: str, body: str, country: str) -> None:
    extract_entities(title, body, country=country)


def entities_and_lexicon(title: str, body: str, country: str) -> None:
    extract_entities(title, body, country=country)
    match_indicators(title, body, layers=("lexicon",))


LAYER_STEPS = (("extractors (normalise, word scan, entities)", entities_only),
               ("+ lexicon indicators", entities_and_lexicon),
               ("+ grammar indicators (all layers on)", enrich))


def baseline_only(title: str, body: str, country: str) -> None:
    baseline_phones(title, body, country)


def rate(
    fn: Callable[[str, str, str], None], corpus: list[tuple[str, str, str]], seconds: float
) -> float:
    """Ads per CPU second of this process over whole passes of the corpus, for at least `seconds`.

    CPU time rather than wall time: other work on the machine then slows the figure less.
    """
    done = 0
    start = time.process_time()
    while True:
        analyse_ad.cache_clear()  # every pass does the full work: no cached ad or phone
        clear_phone_cache()
        for title, body, country in corpus:
            fn(title, body, country)
        done += len(corpus)
        elapsed = time.process_time() - start
        if elapsed >= seconds:
            return done / elapsed


def compare_rates(
    corpus: list[tuple[str, str, str]], seconds: float, rounds: int = 5
) -> tuple[float, float, list[float]]:
    """Best-of-`rounds` rates of vigil, the baseline and each step of LAYER_STEPS, measured
    alternately so that a noisy neighbour on the machine weighs on all alike."""
    vigil, base = 0.0, 0.0
    steps = [0.0] * len(LAYER_STEPS)
    for _ in range(rounds):
        vigil = max(vigil, rate(enrich, corpus, seconds / rounds))
        base = max(base, rate(baseline_only, corpus, seconds / rounds))
        for k, (_, fn) in enumerate(LAYER_STEPS[:-1]):
            steps[k] = max(steps[k], rate(fn, corpus, seconds / rounds / 2))
    steps[-1] = vigil
    return vigil, base, steps


def pin_to_one_core() -> str:
    if hasattr(os, "sched_setaffinity"):
        try:
            core = min(os.sched_getaffinity(0))
            os.sched_setaffinity(0, {core})
            return f"pinned to core {core}"
        except OSError:
            pass
    return "not pinned"


def _fmt(score: Score) -> str:
    return f"{score.precision:9.3f} {score.recall:7.3f} {score.tp:5d} {score.fp:4d} {score.fn:4d}"


def report(
    result: Evaluation, vigil_rate: float, base_rate: float, corpus_chars: float, pin: str,
    steps: list[float] | None = None, phone_sets: dict[str, PhoneSetResult] | None = None,
) -> str:
    lines = [
        f"labelled set: {result.ads} ads ({result.negatives} negatives without phones)",
        "",
        f"{'entity':<10} {'extractor':<13} {'precision':>9} {'recall':>7} "
        f"{'tp':>5} {'fp':>4} {'fn':>4}",
    ]
    for kind in ENTITY_TYPES:
        lines.append(f"{kind:<10} {'vigil':<13} {_fmt(result.vigil[kind])}")
        if kind == "phones":
            lines.append(f"{'':<10} {'phonenumbers':<13} {_fmt(result.baseline_phones)}")
    lines += ["", f"phone recall by style (vigil / phonenumbers){'':>4}found/expected"]
    for style in sorted(result.style_recall, key=lambda s: (s in result.held_out, s)):
        found, expected, base = result.style_recall[style]
        tag = " (held out)" if style in result.held_out else ""
        lines.append(
            f"  {style:<24} {found / expected:5.2f} / {base / expected:4.2f}"
            f"   {found}/{expected}{tag}"
        )
    seen = [v for s, v in result.style_recall.items() if s not in result.held_out]
    held = [v for s, v in result.style_recall.items() if s in result.held_out]
    for name, group in (("styles built for", seen), ("held-out styles", held)):
        if group:
            found, expected = sum(v[0] for v in group), sum(v[1] for v in group)
            lines.append(f"  {name:<24} recall {found / expected:.3f} ({found}/{expected})")
    for name, phone_set in (phone_sets or {}).items():
        lines += ["", *phone_set_report(name, phone_set, per_style=name != "locked")]
    lines += [
        "",
        f"throughput on one core ({pin}): ads per CPU second of this process (not wall time, which"
        f" other work on the machine inflates), best of 5 alternating rounds, ads of "
        f"{corpus_chars:.0f} characters on average; text detectors {TEXT_IMPLEMENTATION}:",
        f"  vigil full text enrichment   {vigil_rate:9.0f} ads/s",
        f"  phonenumbers matcher only    {base_rate:9.0f} ads/s",
        f"  ratio vigil / baseline       {vigil_rate / base_rate:9.2f}",
    ]
    if steps:
        lines += ["", "what each layer costs (CPU microseconds per ad, best of the same rounds):"]
        previous = 0.0
        for (name, _), step in zip(LAYER_STEPS, steps, strict=True):
            cost = 1e6 / step
            lines.append(f"  {name:<44} {step:7.0f} ads/s  {cost:6.1f} us/ad  (+{cost - previous:5.1f})")
            previous = cost
    if result.errors:
        lines += ["", f"evidence errors: {len(result.errors)}", *result.errors[:5]]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    records = load_labelled(Path(args.data))
    if not records:
        raise CliError(f"labelled set is empty: {args.data}")
    pin = pin_to_one_core()
    result = evaluate(records)
    phone_sets = {}
    for name in [h.strip() for h in args.phone_halves.split(",") if h.strip()]:
        if name not in PHONE_SETS:
            raise CliError(f"--phone-halves: no half {name!r} (dev, locked)")
        if PHONE_SETS[name].is_file():
            phone_sets[name] = evaluate_phone_set(load_labelled(PHONE_SETS[name]))
    corpus = padded_corpus(records)
    rate(enrich, corpus[:50], 0.2)  # warm caches and the automata
    vigil_rate, base_rate, steps = compare_rates(corpus, args.seconds)
    corpus_chars = sum(len(t) + len(b) for t, b, _ in corpus) / len(corpus)
    print(report(result, vigil_rate, base_rate, corpus_chars, pin, steps, phone_sets))
    return 1 if result.errors else 0


def register_bench(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "text",
        help="precision/recall per entity type and ads/s of the text detectors vs phonenumbers",
    )
    parser.add_argument(
        "--data", default=str(DEFAULT_DATA), help="labelled JSONL (default: %(default)s)"
    )
    parser.add_argument(
        "--phone-halves", default="dev,locked",
        help="independent phone sets to score: dev (per style), locked (aggregates only); "
        "'' for none (default: %(default)s)",
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=3.0,
        help="CPU seconds per throughput measurement, split in 5 rounds (default: %(default)s)",
    )
    parser.set_defaults(func=run)
