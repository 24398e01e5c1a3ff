"""`vigil model train | info`: fit the text classifier on a labelled corpus plus analyst feedback.

Training data: the corpus's ground truth (positive: trafficking, missing_child; negative:
benign, adult — see detectors/model.py), overridden by analyst verdicts. Feedback comes from a
file (`--feedback`) and/or the feedback topic (`--feedback-topic`, with ad ids missing from a
record looked up in the alerts topic); a verdict is used when its ad's text is in the corpus
or in `--ads` (e.g. the ads that were ingested).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from streams.config import REPO_ROOT
from streams.errors import CliError
from streams.evaluation.independent import DEV_HALVES_TRAINED_ON, dev_ads_trained_on

DEFAULT_OUT = REPO_ROOT / ".stack" / "models" / "text_model.skops"


def sidecar_path(model_path: Path) -> Path:
    """The human-readable copy of a model's metadata, next to it."""
    return model_path.with_name(model_path.name + ".json")


def save_with_sidecar(model, path: Path) -> Path:
    model.save(path)
    sidecar_path(path).write_text(json.dumps(model.metadata, indent=2, sort_keys=True) + "\n")
    return path


def train_default_model(path: Path, *, ads: int = 6000, seed: int = 99) -> dict:
    """Train on a freshly generated hard corpus plus the independent dev halves (for `vigil
    demo` on its first run)."""
    from detectors.scoring.model import train
    from streams.evaluation.generate import generate_ads

    corpus = list(generate_ads(ads, seed=seed, difficulty="hard", images=False))
    try:
        independent = dev_ads_trained_on()
    except CliError as exc:  # an installed package without the repository's tests/data
        print(f"training on generated ads only: {exc}", file=sys.stderr)
        independent = []
    model = train(corpus, independent=independent)
    model.metadata["corpus"] = f"generated: {ads} ads, seed {seed}, hard"
    if independent:
        model.metadata["independent_halves"] = list(DEV_HALVES_TRAINED_ON)
    save_with_sidecar(model, Path(path))
    return model.metadata


def load_ads(path: str, what: str) -> list[dict]:
    try:
        with open(path, encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]
    except OSError as exc:
        raise CliError(f"cannot read {what} {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise CliError(f"{path} is not JSON lines: {exc}") from exc


def _topic_feedback() -> list[dict]:
    from streams.config import load_settings
    from streams.model.feedback import alert_ads, read_feedback, with_ad_ids
    from streams.preflight import kafka_problem
    from streams.stack.launcher import services

    settings = load_settings()
    problem = kafka_problem(settings) if settings.external_kafka else None
    if problem:
        raise CliError(f"--feedback-topic: {problem}")
    with services(settings, kafka=True):  # the local broker if none runs; stopped again after
        records = read_feedback(settings)
        if any(not r.get("ad_id") for r in records):
            records = with_ad_ids(records, alert_ads(settings))
    return records


def format_metrics(held: dict) -> str:
    line = (f"held-out ({held['examples']} ads, {held['positives']} positive; split by "
            f"organisation): PR-AUC {held['pr_auc']:.3f}  ROC-AUC {held['roc_auc']:.3f}  "
            f"F1 {held['f1']:.3f}  precision {held['precision']:.3f}  recall "
            f"{held['recall']:.3f} (at {held['threshold']})")
    if "adult_flagged_rate" in held:
        line += f"  legal adult ads flagged {held['adult_flagged_rate']:.1%}"
    return line


def _cmd_train(args) -> int:
    from detectors.scoring.model import INDEPENDENT_SHARE, train

    corpus = load_ads(args.corpus, "corpus")
    if not any((ad.get("ground_truth") or {}).get("label") for ad in corpus):
        raise CliError(f"{args.corpus} has no ground_truth labels (make one: vigil generate)")
    feedback: list[dict] = []
    if args.feedback:
        from streams.model.feedback import read_feedback_file

        feedback += read_feedback_file(args.feedback)
    if args.feedback_topic:
        feedback += _topic_feedback()
    extra = load_ads(args.ads, "ads file") if args.ads else []
    if args.independent_share is not None and not args.independent_dev:
        raise CliError("--independent-share needs --independent-dev")
    share = INDEPENDENT_SHARE if args.independent_share is None else args.independent_share
    independent = dev_ads_trained_on() if args.independent_dev else []
    try:
        model = train(corpus, feedback, extra, seed=args.seed, independent=independent,
                      independent_share=share)
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    model.metadata["corpus"] = str(args.corpus)
    if independent:
        model.metadata["independent_halves"] = list(DEV_HALVES_TRAINED_ON)
    out = save_with_sidecar(model, Path(args.out))
    meta = model.metadata
    print(format_metrics(meta["held_out"]))
    print(f"feedback: {meta['feedback_used']} verdicts used, {meta['feedback_unused']} unused "
          f"(no ad id or ad text), from {meta['feedback_records']} records")
    if independent:
        print(f"independent dev halves: {meta['independent_ads']} human-written ads "
              f"({meta['independent_positives']} concerning) at {meta['independent_share']:.0%} "
              "of the corpus's weight")
    print(f"model {meta['version']}: {meta['examples']} ads ({meta['positives']} positive) "
          f"-> {out}")
    return 0


def _cmd_info(args) -> int:
    from detectors.scoring.model import ModelFileError, load_model

    try:
        model = load_model(args.path)
    except ModelFileError as exc:
        raise CliError(str(exc)) from exc
    print(json.dumps(model.metadata, indent=2, sort_keys=True))
    held = model.metadata.get("held_out")
    if held:
        print(format_metrics(held), file=sys.stderr)
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("model", help="train or inspect the text classifier")
    sub = p.add_subparsers(dest="model_command", required=True, metavar="ACTION")
    t = sub.add_parser("train", help="fit on a labelled corpus plus analyst feedback")
    t.add_argument("--corpus", required=True, help="labelled JSON lines (vigil generate)")
    t.add_argument("--feedback", metavar="FILE", help="feedback records as JSON lines")
    t.add_argument("--feedback-topic", action="store_true",
                   help="also read every verdict on the feedback topic")
    t.add_argument("--ads", metavar="FILE",
                   help="raw ads (JSON lines) holding the text of ads feedback names")
    t.add_argument("--out", default=str(DEFAULT_OUT), help=f"model file (default {DEFAULT_OUT})")
    t.add_argument("--seed", type=int, default=0, help="seed of the held-out split")
    t.add_argument("--independent-dev", action="store_true",
                   help="also learn from the dev halves of the independently written ads "
                        "(tests/data/independent; never the locked halves)")
    t.add_argument("--independent-share", type=float, metavar="SHARE",
                   help="their weight as a share of the corpus's (default: "
                        "detectors.scoring.model.INDEPENDENT_SHARE, 1.0)")
    t.set_defaults(func=_cmd_train)
    i = sub.add_parser("info", help="print a model's version, training counts and metrics")
    i.add_argument("path")
    i.set_defaults(func=_cmd_info)
