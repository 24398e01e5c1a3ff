"""The `vigil` command: one console script, one sub-command per capability.

Each module in COMMAND_MODULES exposes `register(subparsers)`, which adds its sub-commands
and sets `func` on them; `func(args)` returns the process exit code.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from streams.errors import CliError

COMMAND_MODULES = [
    "streams.stack",
    "streams.worker",
    "streams.ingest",
    "streams.score",
    "streams.generate",
    "streams.evaluate",
    "streams.demo",
    "streams.dispatch",
    "streams.webhooks",
    "streams.webhook_sink",
    "streams.banks",
    "streams.model_cli",
    "streams.feedback",
    "streams.bench",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vigil", description="Streaming detector of trafficking indicators in classified ads."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("kafka", "aiokafka", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if args.verbose else logging.ERROR)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except CliError as exc:
        print(f"vigil {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
