"""The `vigil` command: one console script, one sub-command per capability.

Each module in COMMAND_MODULES exposes `register(subparsers)`, which adds its sub-commands
and sets `func` on them; `func(args)` returns the process exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from streams.errors import CliError
from streams.logs import LEVELS, setup_logging

COMMAND_MODULES = [
    "streams.stack.launcher",
    "streams.stack.secure",
    "streams.worker.command",
    "streams.ingest.command",
    "streams.scoring.batch",
    "streams.evaluation.generate",
    "streams.evaluation.evaluate",
    "streams.demo",
    "streams.dispatch.dispatcher",
    "streams.dispatch.webhooks",
    "streams.dispatch.sink",
    "streams.banks.store",
    "streams.model.command",
    "streams.model.feedback",
    "streams.store.consumer",
    "streams.console.command",
    "streams.bench",
    "streams.forget.command",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vigil", description="Streaming detector of trafficking indicators in classified ads."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging (same as --log-level debug)")
    parser.add_argument("--log-level", choices=LEVELS, default=None,
                        help="log level of the JSON log lines on stderr (default info; demo: warning)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.log_level = args.log_level or ("debug" if args.verbose else
                                        getattr(args, "default_log_level", "info"))
    setup_logging(args.log_level)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except CliError as exc:
        print(f"vigil {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
