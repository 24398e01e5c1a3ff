"""`vigil model train | info`: fit the text classifier on a labelled corpus plus feedback."""

from __future__ import annotations

import json
from pathlib import Path

from streams.config import REPO_ROOT
from streams.errors import CliError


def train_default_model(path: Path, *, ads: int = 4000, seed: int = 99) -> dict:
    """Train on a freshly generated corpus (used by `vigil demo` on first run)."""
    from detectors.model import train
    from streams.generate import generate_ads

    corpus = list(generate_ads(ads, seed=seed, difficulty="hard", images=False))
    model = train(corpus)
    model.save(path)
    return model.metadata


def _cmd_train(args) -> int:
    from detectors.model import train
    from streams.evaluate import load_corpus

    ads = load_corpus(args.corpus)
    feedback = []
    if args.feedback:
        with open(args.feedback, encoding="utf-8") as fh:
            feedback = [json.loads(line) for line in fh if line.strip()]
    if args.feedback_topic:
        from streams.config import load_settings
        from streams.feedback import read_feedback

        feedback += read_feedback(load_settings())
    try:
        model = train(ads, feedback)
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    model.save(args.out)
    held = model.metadata["held_out"]
    print(f"model {model.metadata['version']} written to {args.out}")
    print(f"held-out: PR-AUC {held['pr_auc']:.3f}, F1@0.5 {held['f1_at_0.5']:.3f} "
          f"({held['test_rows']} ads); feedback used {model.metadata['feedback_used']} of "
          f"{model.metadata['feedback_total']}")
    return 0


def _cmd_info(args) -> int:
    from detectors.model import load_model

    model = load_model(args.path)
    print(json.dumps(model.metadata, indent=2))
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("model", help="train or inspect the text classifier")
    sub = p.add_subparsers(dest="model_command", required=True)
    t = sub.add_parser("train", help="fit on a labelled corpus (+ analyst feedback)")
    t.add_argument("--corpus", required=True, help="JSONL from `vigil generate`")
    t.add_argument("--feedback", help="JSONL of feedback records")
    t.add_argument("--feedback-topic", action="store_true", help="also read the feedback topic")
    t.add_argument("--out", default=str(REPO_ROOT / ".stack" / "models" / "text_model.skops"))
    t.set_defaults(func=_cmd_train)
    i = sub.add_parser("info", help="print a model's version and metrics")
    i.add_argument("path")
    i.set_defaults(func=_cmd_info)
