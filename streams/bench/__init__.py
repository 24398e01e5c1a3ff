"""`vigil bench ...`: benchmarks that print their figures beside a baseline run in the same process.

Each module in BENCHMARKS exposes `register_bench(subparsers)`, which adds one benchmark as a
sub-command of `vigil bench` and sets `func` on it; `func(args)` returns the exit code.
"""

from __future__ import annotations

import argparse
import importlib

BENCHMARKS = [
    "streams.bench.text",
    "streams.bench.dispatch",
    "streams.bench.images",
    "streams.bench.pipeline",
    "streams.bench.links",
    "streams.bench.store",
    "streams.bench.detection",
]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "bench", help="run a benchmark (figures and a ratio against a baseline from the same run)"
    )
    benchmarks = parser.add_subparsers(dest="benchmark", metavar="BENCHMARK", required=True)
    for name in BENCHMARKS:
        importlib.import_module(name).register_bench(benchmarks)
