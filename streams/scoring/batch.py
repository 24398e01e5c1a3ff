"""`vigil score FILE|-`: the batch path, the same detectors and linking in process, no broker.

Writes one JSON line per valid ad (the documented contract, schemas/scored_ad.v1.json) and one
dead-letter record per invalid line to --dlq (default: stderr), in input order.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable, Iterator

from detectors.deadletter import dead_letter
from detectors.pipeline import AdPipeline
from detectors.validation import Invalid, parse_raw_ad
from streams.errors import CliError
from streams.scoring.runtime import MemorySuppression, alert_for, batch_pipeline

CONTRACT_FIELDS = ("ad_id", "entities", "indicators", "risk", "severity", "reasons",
                   "image_matches")


def score_lines(lines: Iterable[bytes], pipeline: AdPipeline) -> Iterator[tuple[str, dict]]:
    """("scored", record) or ("dead_letter", record) per input line, in order."""
    seen: set[str] = set()
    suppression = MemorySuppression({})
    for number, line in enumerate(lines, start=1):
        parsed = parse_raw_ad(line)
        if isinstance(parsed, Invalid):
            yield "dead_letter", dead_letter(stage="validate", error_code=parsed.code,
                                             reason=f"line {number}: {parsed.reason}",
                                             original=line, ad_id=parsed.ad_id)
            continue
        if parsed["ad_id"] in seen:
            yield "dead_letter", dead_letter(stage="validate", error_code="duplicate_ad_id",
                                             reason=f"line {number}: ad_id {parsed['ad_id']!r} "
                                                    "was already scored",
                                             original=line, ad_id=parsed["ad_id"])
            continue
        seen.add(parsed["ad_id"])
        scored = pipeline.process(parsed, ingested_at=None)
        alert = alert_for(scored, suppression)
        scored["alert_id"] = alert["alert_id"] if alert else None
        yield "scored", scored


def _cmd_score(args) -> int:
    from streams.jsonlines import read_lines

    disabled = frozenset(f for f in (args.disable or "").split(",") if f)
    pipeline = batch_pipeline(model_path=args.model, banks=_load_banks(args.banks),
                              disabled_families=disabled)
    out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout  # noqa: SIM115
    dlq = open(args.dlq, "w", encoding="utf-8") if args.dlq else sys.stderr  # noqa: SIM115
    counts = {"scored": 0, "dead_letter": 0, "alerts": 0}
    started = time.monotonic()
    try:
        source = sys.stdin.buffer if args.file == "-" else open(args.file, "rb")  # noqa: SIM115
    except FileNotFoundError as exc:
        raise CliError(f"no such file: {args.file}") from exc
    try:
        for kind, record in score_lines(read_lines(source), pipeline):
            counts[kind] += 1
            target = out if kind == "scored" else dlq
            target.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
            if kind == "scored" and record["alert"]:
                counts["alerts"] += 1
            if args.progress and sum(counts.values()) % args.progress == 0:
                print(f"score: {counts['scored']} scored, {counts['dead_letter']} dead-lettered",
                      file=sys.stderr)
    finally:
        if source is not sys.stdin.buffer:
            source.close()
        for fh in (out, dlq):
            if fh not in (sys.stdout, sys.stderr):
                fh.close()
    elapsed = time.monotonic() - started
    print(f"score: {counts['scored']} ads scored ({counts['alerts']} over the alert threshold), "
          f"{counts['dead_letter']} dead-lettered, in {elapsed:.1f} s", file=sys.stderr)
    return 0


def _load_banks(path: str | None):
    if not path:
        return None
    from streams.banks.store import load_bank_file

    return load_bank_file(path)


def register(subparsers) -> None:
    p = subparsers.add_parser("score", help="score a JSONL file in process (no broker)")
    p.add_argument("file", help="JSON lines of raw ads, or - for stdin")
    p.add_argument("--out", help="write scored ads here (default stdout)")
    p.add_argument("--dlq", help="write dead-letter records here (default stderr)")
    p.add_argument("--model", help="text model file (default .stack/models/text_model.skops)")
    p.add_argument("--banks", help="hash-bank export file to match photos against")
    p.add_argument("--disable", help="signal families to switch off: text,model,link,images")
    p.add_argument("--progress", type=int, default=0, help="print progress every N records")
    p.set_defaults(func=_cmd_score)
