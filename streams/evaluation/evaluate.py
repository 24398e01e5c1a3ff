"""`vigil eval`: alert and cluster quality on a generated corpus, batch and stream, with ablation.

The corpus carries its ground truth (`ground_truth` on every ad from `vigil generate`). The
batch path scores it in process; `--stream` also feeds it through the real worker on a fresh
topic prefix and compares the two paths' severities ad by ad.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

from detectors.scoring.scorer import SIGNAL_FAMILIES
from streams.errors import CliError
from streams.evaluation.metrics import evaluate, is_positive, severity_agreement, with_final_clusters
from streams.scoring.runtime import batch_pipeline

COLUMNS = ("ads", "positives", "alerts", "precision", "recall", "f1", "pr_auc",
           "precision_at_100", "alerts_per_10k", "cluster_ari", "cluster_homogeneity",
           "cluster_completeness")


def load_corpus(path: str) -> list[dict]:
    try:
        with open(path, encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]
    except FileNotFoundError as exc:
        raise CliError(f"no such corpus file: {path} (make one: vigil generate)") from exc


def score_batch(ads: list[dict], *, disabled=frozenset(), model_path=None, banks=None,
                enrich_cache: dict | None = None, hubs_left_out: bool = True) -> list[dict]:
    """Score the corpus in process. `enrich_cache` (ad_id -> enrichment) lets ablation runs
    reuse the text and image enrichment, which does not depend on the signals switched off;
    `hubs_left_out=False` links through shared identifiers too (the comparison before hubs)."""
    from detectors.linking.links import MemoryLinkStore
    from streams.scoring.batch import score_lines

    pipeline = batch_pipeline(model_path=model_path, disabled_families=disabled, banks=banks)
    if not hubs_left_out:
        pipeline.link_store = MemoryLinkStore(hub_unrelated_uses=None)
    if enrich_cache is not None:
        pipeline.enrich = _cached_enrich(pipeline.enrich, enrich_cache)
    lines = (json.dumps(ad).encode() for ad in ads)
    scored = [rec for kind, rec in score_lines(lines, pipeline) if kind == "scored"]
    return with_final_clusters(scored, pipeline.link_store.cluster_of)


def _cached_enrich(enrich, cache: dict):
    def cached(ad: dict, timings: dict | None = None) -> dict:
        key = ad["ad_id"]
        if key not in cache:
            cache[key] = enrich(ad, timings)
        return cache[key]
    return cached


def score_stream(ads: list[dict], *, timeout_s: float, bank_entries=None) -> list[dict]:
    """Feed the corpus through a real worker on a fresh topic prefix; the scored records."""
    from streams.broker.kafkaio import produce, read_topic, running_worker, worker_death
    from streams.broker.topics import ensure_topics
    from streams.clients import redis_client
    from streams.config import load_settings, redis_prefix
    from streams.scoring.linkstore import RedisLinkStore
    from streams.stack.launcher import services

    prefix = f"eval{uuid.uuid4().hex[:8]}."
    os.environ["VIGIL_TOPIC_PREFIX"] = prefix
    # One partition: the worker then sees ads in the corpus order, as the batch path does, so
    # point-in-time link features (counts "as of this ad") are comparable ad by ad.
    os.environ["VIGIL_PARTITIONS"] = "1"
    settings = load_settings()
    with services(settings, kafka=True, redis=True):  # stopped again at the end if started here
        ensure_topics(settings)
        client = redis_client(settings)
        if bank_entries:
            from streams.banks.store import BankStore

            BankStore(client, redis_prefix(settings)).add_entries(bank_entries)
        produce(settings.kafka_bootstrap, settings.topics.raw,
                [(ad["ad_id"].encode(), json.dumps(ad).encode()) for ad in ads])
        wanted = {ad["ad_id"] for ad in ads}
        log_path = Path(tempfile.gettempdir()) / f"vigil-eval-worker-{prefix}log"
        print(f"eval: stream worker log: {log_path}", file=sys.stderr)
        with running_worker({"VIGIL_TOPIC_PREFIX": prefix, "VIGIL_PARTITIONS": "1"}, log_path) as proc:
            try:
                scored = read_topic(settings.kafka_bootstrap, settings.topics.scored,
                                    until=lambda recs: len({r["ad_id"] for r in recs}) >= len(wanted),
                                    timeout_s=timeout_s, progress=True,
                                    abort_if=worker_death(proc, log_path))
            except RuntimeError as exc:
                raise CliError(f"the stream worker stopped before scoring every ad: {exc}") from exc
        store = RedisLinkStore(client, redis_prefix(settings))
        final = with_final_clusters(scored, store.cluster_of)
        from streams.broker.topics import delete_prefixed_topics
        from streams.config import app_id_for

        delete_prefixed_topics(settings.kafka_bootstrap, prefix, app_id_for(settings) + "-")
        return final


def print_table(rows: list[tuple[str, dict]]) -> None:
    header = f"{'run':<22}" + "".join(f"{c[:12]:>13}" for c in COLUMNS)
    print(header)
    print("-" * len(header))
    for name, row in rows:
        cells = "".join(
            f"{row[c]:>13.3f}" if isinstance(row[c], float) else f"{row[c]:>13}" for c in COLUMNS
        )
        print(f"{name:<22}{cells}")


HOLDOUT_COLUMNS = ("ads", "positives", "recall", "benign_fpr", "precision")


def alert_rates(scored: list[dict], truth: dict[str, dict]) -> dict:
    """Recall over trafficking ads, alerts among ads that are not (benign and legal adult)."""
    positives = [s for s in scored if is_positive(truth[s["ad_id"]])]
    negatives = [s for s in scored if not is_positive(truth[s["ad_id"]])]
    alerts = [s for s in scored if s.get("alert")]
    true_alerts = sum(1 for s in positives if s.get("alert"))
    return {"ads": len(scored), "positives": len(positives),
            "recall": true_alerts / max(len(positives), 1),
            "benign_fpr": sum(1 for s in negatives if s.get("alert")) / max(len(negatives), 1),
            "precision": true_alerts / max(len(alerts), 1)}


def holdout_families(args) -> int:
    """Train on the paraphrase families of one parity, test on unseen families and on fresh ads
    of the seen ones (streams/evaluation/synthetic.py: FAMILY_PARITY)."""
    from detectors.scoring.model import train
    from streams.evaluation.generate import generate_ads
    from streams.evaluation.synthetic import only_families

    with only_families(0):
        train_ads = list(generate_ads(args.ads, seed=args.seed, difficulty="hard", images=False))
        in_family = list(generate_ads(args.ads, seed=args.seed + 1, difficulty="hard", images=False))
    with only_families(1):
        out_family = list(generate_ads(args.ads, seed=args.seed + 1, difficulty="hard", images=False))
    model = train(train_ads)
    path = Path(tempfile.mkdtemp(prefix="vigil-holdout-")) / "model.skops"
    model.save(path)
    rows = []
    for name, ads in (("in-family", in_family), ("out-of-family", out_family)):
        truth = {ad["ad_id"]: ad.get("ground_truth") or {} for ad in ads}
        for signals, disabled in (("all signals", frozenset()), ("without link", frozenset({"link"}))):
            scored = score_batch(ads, disabled=disabled, model_path=str(path))
            rows.append((f"{name}, {signals}", alert_rates(scored, truth)))
    print(f"trained on {len(train_ads)} ads written with paraphrase families of parity 0; tested "
          f"on {args.ads} fresh ads of those families and {args.ads} of the others (seed {args.seed + 1})")
    header = f"{'run':<32}" + "".join(f"{c:>12}" for c in HOLDOUT_COLUMNS)
    print(header)
    print("-" * len(header))
    for name, row in rows:
        print(f"{name:<32}" + "".join(f"{row[c]:>12.3f}" if isinstance(row[c], float) else f"{row[c]:>12}"
                                      for c in HOLDOUT_COLUMNS))
    return 0


def _cmd_eval(args) -> int:
    if args.holdout_families:
        return holdout_families(args)
    if not args.corpus:
        raise CliError("give --corpus FILE (or --holdout-families)")
    ads = load_corpus(args.corpus)
    truth = {ad["ad_id"]: ad.get("ground_truth") or {} for ad in ads}
    if not any(truth.values()):
        raise CliError("the corpus has no ground_truth: generate one with `vigil generate`")
    banks, bank_entries = None, None
    if args.banks:
        from streams.banks.store import load_bank_file

        banks = load_bank_file(args.banks)
        bank_entries = banks.entries
    if args.bank_dir:
        from detectors.images.banks import BankSet
        from streams.banks.store import entries_from_path

        bank_entries = entries_from_path("missing_children", Path(args.bank_dir))
        banks = BankSet(bank_entries)
    started = time.monotonic()
    enrich_cache: dict = {}
    batch = score_batch(ads, model_path=args.model, banks=banks, enrich_cache=enrich_cache)
    rows = [("batch (all signals)", evaluate(batch, truth).row())]
    print(f"eval: batch scored {len(batch)} ads in {time.monotonic() - started:.1f} s",
          file=sys.stderr)
    if args.ablation:
        for family in SIGNAL_FAMILIES:
            scored = score_batch(ads, disabled=frozenset({family}), model_path=args.model,
                                 banks=banks, enrich_cache=enrich_cache)
            rows.append((f"batch without {family}", evaluate(scored, truth).row()))
    if args.hubs_linked:
        scored = score_batch(ads, model_path=args.model, banks=banks, enrich_cache=enrich_cache,
                             hubs_left_out=False)
        rows.append(("batch, hubs linked", evaluate(scored, truth).row()))
    if args.stream:
        if args.model:  # the worker must score with the same model as the batch path
            os.environ["VIGIL_MODEL"] = str(Path(args.model).resolve())
        stream = score_stream(ads, timeout_s=args.timeout, bank_entries=bank_entries)
        rows.append(("stream (all signals)", evaluate(stream, truth).row()))
        agreement, compared = severity_agreement(batch, stream)
        print(f"stream vs batch: severities agree on {agreement:.4%} of {compared} ads")
    print_table(rows)
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("eval", help="precision/recall/cluster quality on a labelled corpus")
    p.add_argument("--corpus", help="JSONL from `vigil generate`")
    p.add_argument("--holdout-families", action="store_true",
                   help="train on some paraphrase families of every category, test on the others "
                        "(generates its own corpora: --ads, --seed)")
    p.add_argument("--ads", type=int, default=6000, help="ads per generated corpus (--holdout-families)")
    p.add_argument("--seed", type=int, default=31, help="seed of the generated corpora (--holdout-families)")
    p.add_argument("--model", help="text model file")
    p.add_argument("--banks", help="hash-bank export file to match photos against")
    p.add_argument("--bank-dir", help="missing-children photos + manifest (vigil generate --bank-out)")
    p.add_argument("--ablation", action="store_true", help="also switch each signal family off")
    p.add_argument("--hubs-linked", action="store_true",
                   help="also score with no identifier treated as a hub (union-find through "
                        "shared desks and e-mails, as before): the comparison for the hub rule")
    p.add_argument("--stream", action="store_true", help="also run the corpus through the worker")
    p.add_argument("--timeout", type=float, default=1800, help="stream run time-out, seconds")
    p.set_defaults(func=_cmd_eval)
