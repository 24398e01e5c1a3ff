"""`vigil bench detection`: detection on ads vigil's authors did not write (tests/data/independent).

Fifteen writers who never read the detectors wrote concerning ads and hard benign look-alikes from
published red-flag lists; seeded splits made dev halves (studied and tuned on) and locked halves
that only this benchmark reads, printing aggregates only (never an ad, an id or a per-ad score).
Halves (`streams.evaluation.independent.HALVES`): `dev` and `locked` (writers 1 and 2),
`dev_w3` ... `locked_w15` (each later writer), `dev_all` / `locked_all` (writers 1-3 pooled),
`dev_w5_7` / `locked_w5_7`, `dev_w8_10_11` / `locked_w8_10_11` and `dev_w12_14` / `locked_w12_14`
(pooled); each file is scored on its own, as the writers' fictional phone numbers overlap, then
the rows pooled. Writers 4, 9 and 15 are kept apart from the vocabularies and from the model's
training; writers 5-8 and 10-14's dev halves train the model (and writers 7, 12 and 14's dev
misses were read for vocabulary on 2026-12-03). Only the dev halves run unless a locked one is
named: every locked run is one look at data no tuning may see.
Each half is scored by the batch path in process (no broker, no Redis), with every layer on and
then with each layer switched off: the indicator grammar, the text model, the policy floors, the
links between ads (there is no semantic layer: it was measured and left out). Per run: ROC-AUC of `risk`; the
share of concerning ads at medium or above (goal >= 0.85) and of benign ads (goal <= 0.05);
recall at medium+ per category; and the minor-age rows: writer 1's minor ages next to commercial
cues (share critical), the other writers' minors in labour recruitment (share high+), benign ads
that state a minor's age (share flagged). A model trained with `--independent-dev` has read the
dev halves in `DEV_HALVES_TRAINED_ON` (the output says so); `--leave-one-writer-out CORPUS` trains
one model per left-out writer instead, the forecast for a writer no model has read.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections import defaultdict
from pathlib import Path

from sklearn.metrics import roc_auc_score

from detectors.scoring.scorer import severity_rank
from streams.errors import CliError
from streams.evaluation.independent import DEV_HALVES_TRAINED_ON, FILES, HALVES, load_half, writer_of

DEFAULT_HALVES = "dev,dev_w3,dev_w5_7,dev_w8_10_11,dev_w12_14"
ABLATIONS = (("all layers", frozenset()), ("without grammar", frozenset({"grammar"})),
             ("without model", frozenset({"model"})), ("without floors", frozenset({"policy"})),
             ("without links", frozenset({"link"})))
# "without links": the writers drew numbers from small fictional ranges (four Australian ones),
# so unrelated ads in one file share a phone and the link layer reads them as one advertiser
# no semantic layer is shipped (README: measured on the dev halves and left out)
MEDIUM = severity_rank("medium")
BENIGN_MINOR_KINDS = ("teen", "babysitter", "ordinary_minor", "minor_ordinary")
"""Words in the writers' `kind` of a benign ad that states a minor's age (babysitters, tryouts)."""
STATED_MINOR_AGE = re.compile(
    r"\b(?:ages?|aged|edad(?:es)?|âge|idade|alter)\s*:?\s*(?:1[0-7]|[5-9])\b"
    r"|\b(?:1[0-7]|[5-9])\s*(?:\+|yo\b|y/o|yrs? old|years? old|-year-old)"
    r"|\b(?:tengo|tiene|tienen|de|a|desde|dès|tenho|tem|com|j'ai|à|ai)\s+(?:1[0-7]|[5-9])\s*(?:años|anos|ans)\b"
    r"(?!\s+(?:de\s+|d')?(?:experiencia|experiência|expérience|en|em|na|no|aqui|ici|à))",
    re.IGNORECASE)
"""A stated age under 18 ("ages 12-14", "16+", "15 y/o", "tengo 16 años"): which benign ads
state a minor, read from the text, as the writers' `kind`s name them in many ways. The
benchmark's own pattern, not the detectors' (it must not grade them by their own reading)."""


def states_minor_age(ad: dict) -> bool:
    """Does a labelled ad state a minor's age (in its text, its `kind` or its writer's file)?"""
    label = ad.get("eval") or {}
    text = f"{ad.get('title') or ''}\n{ad.get('body') or ''}"
    return (bool(STATED_MINOR_AGE.search(text))
            or label.get("file", "").endswith("minor_age.jsonl")
            or any(word in label.get("kind", "") for word in BENIGN_MINOR_KINDS))


def score_half(ads: list[dict], disabled: frozenset[str], model_path: str | None) -> list[dict]:
    """(label object, scored record) pairs as dicts, scored by the batch path in process."""
    from streams.scoring.batch import score_lines
    from streams.scoring.runtime import batch_pipeline

    pipeline = batch_pipeline(model_path=model_path, disabled_families=disabled)
    labels = {ad["ad_id"]: ad["eval"] for ad in ads}
    minors = {ad["ad_id"] for ad in ads if states_minor_age(ad)}
    lines = (json.dumps({k: v for k, v in ad.items() if k != "eval"}).encode() for ad in ads)
    out = []
    for kind, record in score_lines(lines, pipeline):
        if kind != "scored":
            raise CliError(f"an independent ad was refused: {record.get('reason')}")
        out.append({"eval": labels[record["ad_id"]], "risk": record["risk"],
                    "rank": severity_rank(record["severity"]),
                    "states_minor": record["ad_id"] in minors})
    return out


def _share(rows: list[dict], at_least: int) -> tuple[float, int]:
    if not rows:
        return float("nan"), 0
    return sum(r["rank"] >= at_least for r in rows) / len(rows), len(rows)


def summarise(rows: list[dict]) -> dict:
    """The aggregate figures of one scored half."""
    concerning = [r for r in rows if r["eval"]["label"] == "concerning"]
    benign = [r for r in rows if r["eval"]["label"] != "concerning"]
    y = [r["eval"]["label"] == "concerning" for r in rows]
    auc = roc_auc_score(y, [r["risk"] for r in rows]) if len(set(y)) == 2 else float("nan")
    per_category: dict[str, list[dict]] = defaultdict(list)
    for r in concerning:
        for category in r["eval"]["categories"]:
            per_category[category].append(r)
    # writer 1's minor-age ads state a child's age next to commercial cues; the other writers
    # wrote theirs as labour recruitment of minors
    minor = [r for r in concerning if "minor_age" in r["eval"]["categories"]]
    w1_minor = [r for r in minor if r["eval"].get("file", "").startswith("writer1")]
    w2_minor = [r for r in minor if not r["eval"].get("file", "").startswith("writer1")]
    benign_minor = [r for r in benign if r.get("states_minor")]
    return {
        "ads": len(rows), "auc": auc,
        "concerning_medium": _share(concerning, MEDIUM), "benign_medium": _share(benign, MEDIUM),
        "categories": {c: _share(v, MEDIUM) for c, v in sorted(per_category.items())},
        "minor_sex_critical": _share(w1_minor, severity_rank("critical")),
        "minor_labour_high": _share(w2_minor, severity_rank("high")),
        "minor_labour_medium": _share(w2_minor, MEDIUM),
        "benign_minor_flagged": _share(benign_minor, MEDIUM),
    }


def _cell(value: tuple[float, int]) -> str:
    share, n = value
    return f"{share:5.2f} ({n})" if n else "    -    "


def report(results: dict[str, dict[str, dict]]) -> str:
    """One table per half: a column per run."""
    lines = []
    for half, runs in results.items():
        names = list(runs)
        first = runs[names[0]]
        lines += ["", f"{half} half: {first['ads']} ads "
                      f"({first['concerning_medium'][1]} concerning, {first['benign_medium'][1]} benign)",
                  f"{'':<34}" + "".join(f"{n:>18}" for n in names)]
        lines.append(f"{'ROC-AUC of risk':<34}" + "".join(f"{runs[n]['auc']:>18.3f}" for n in names))
        rows = (("concerning at medium+ (>= 0.85)", "concerning_medium"),
                ("benign at medium+ (<= 0.05)", "benign_medium"),
                ("minor age + commercial: critical", "minor_sex_critical"),
                ("minor in labour ads (w2+): high+", "minor_labour_high"),
                ("minor in labour ads (w2+): med+", "minor_labour_medium"),
                ("benign ads stating a minor: med+", "benign_minor_flagged"))
        for title, key in rows:
            lines.append(f"{title:<34}" + "".join(f"{_cell(runs[n][key]):>18}" for n in names))
        lines.append("recall at medium+ by category:")
        for category in first["categories"]:
            lines.append(f"  {category:<32}" + "".join(
                f"{_cell(runs[n]['categories'][category]):>18}" for n in names))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    halves = [h.strip() for h in args.halves.split(",") if h.strip()]
    unknown = [h for h in halves if h not in HALVES]
    if unknown:
        raise CliError(f"unknown half {unknown[0]!r}: choose from {', '.join(HALVES)}")
    corpus = check_corpus(args.leave_one_writer_out) if args.leave_one_writer_out else None
    started = time.monotonic()
    scored: dict[tuple[str, str], list[dict]] = {}  # (file, run) -> rows, each file scored once
    results: dict[str, dict[str, dict]] = {}
    for half in halves:
        results[half] = {}
        for name, disabled in ABLATIONS:
            rows: list[dict] = []
            for file in HALVES[half]:
                if (file, name) not in scored:
                    scored[file, name] = score_half(load_half(FILES[file]), disabled, args.model)
                rows += scored[file, name]
            results[half][name] = summarise(rows)
    print(f"model: {args.model or 'default (.stack/models/text_model.skops, if trained)'}")
    learnt = model_learnt_from(args.model)
    if learnt:
        print(f"this model learnt from the independent halves {', '.join(learnt)}: with the model on, "
              "those halves are in-sample, and their writers' locked halves hold other ads by the "
              "same writers (writers 4, 9 and 15 it never read; see also --leave-one-writer-out)")
    print(report(results))
    print(f"\n{len(halves)} half(s) scored {len(ABLATIONS)} ways in {time.monotonic() - started:.1f} s")
    if corpus is not None:
        leave_one_writer_out(corpus, args.leave_one_writer_out)
    return 0


def model_learnt_from(model_path: str | None) -> list[str]:
    """The independent halves a model says (in its metadata) it was trained on."""
    from streams.scoring.runtime import load_text_model

    model = load_text_model(model_path)
    return list(model.metadata.get("independent_halves") or []) if model else []


def check_corpus(path: str) -> list[dict]:
    """The labelled corpus for --leave-one-writer-out, refused before anything is scored if it
    could not train a model."""
    from detectors.scoring.model import NEGATIVE_LABELS, POSITIVE_LABELS
    from streams.model.command import load_ads

    corpus = load_ads(path, "corpus")
    labels = {(ad.get("ground_truth") or {}).get("label") for ad in corpus}
    if not (labels & POSITIVE_LABELS and labels & NEGATIVE_LABELS):
        raise CliError(f"--leave-one-writer-out: {path} needs ground_truth labels of both kinds "
                       "(trafficking and benign ads: vigil generate)")
    return corpus


def leave_one_writer_out(corpus: list[dict], corpus_path: str,
                         halves: tuple[str, ...] = DEV_HALVES_TRAINED_ON) -> None:
    """For each writer of the dev halves: a model trained on the generated corpus plus the
    other writers' dev ads scores this writer's dev ads, beside no model and a model trained on
    the corpus alone: what the independent data teaches the model about a writer it never read.
    (The grammar and floors were tuned on writers 1-3's dev halves, and the vocabulary on the
    misses of writers 7, 12 and 14's, so for those writers only the model's lift is out of
    sample.)"""
    import tempfile

    from detectors.scoring.model import train

    ads = [ad for half in halves for ad in load_half(FILES[half])]
    writers = sorted({writer_of(ad) for ad in ads})
    print(f"\nleave one writer out (model: {corpus_path} plus the other writers' dev ads; "
          "concerning / benign at medium+, ROC-AUC):")
    print(f"{'writer':<10}{'ads':>6}{'no model':>24}{'corpus only':>24}{'+ other writers':>24}",
          flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        corpus_only = Path(tmp) / "corpus.skops"
        train(corpus).save(corpus_only)
        for writer in writers:
            held = [ad for ad in ads if writer_of(ad) == writer]
            others = [ad for ad in ads if writer_of(ad) != writer]
            path = Path(tmp) / f"{writer}.skops"
            train(corpus, independent=others).save(path)
            cells = []
            for disabled, model in ((frozenset({"model"}), None), (frozenset(), str(corpus_only)),
                                    (frozenset(), str(path))):
                summary = summarise(score_half(held, disabled, model))
                cells.append(f"{summary['concerning_medium'][0]:.2f} / "
                             f"{summary['benign_medium'][0]:.2f} ({summary['auc']:.3f})")
            print(f"{writer:<10}{len(held):>6}" + "".join(f"{c:>24}" for c in cells), flush=True)


def register_bench(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "detection", help="detection on independently written ads: dev and locked halves, each layer off"
    )
    parser.add_argument("--halves", default=DEFAULT_HALVES,
                        help=f"which halves, comma-separated: {', '.join(HALVES)} (default {DEFAULT_HALVES}; "
                             "name a locked half only for a counted run)")
    parser.add_argument("--model", help="text model file (default: the worker's)")
    parser.add_argument("--leave-one-writer-out", metavar="CORPUS",
                        help="also train a model per dev-half writer on CORPUS (vigil generate) "
                             "plus the other writers' dev ads, and score that writer's dev ads")
    parser.set_defaults(func=run)
