"""Entry point of the ``rnnlab`` command: ``rnnlab <command> --help`` describes every flag."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from rnnlab import __version__, backend
from rnnlab.cli import bench, evaluate, export, generate, gradcheck, gradflow, predict, tag, train

# Commands that compile the kernels up front and say so themselves (train, bench) or run none (export);
# the others are wrapped in backend.announce_compilation, so that a first use's compiling is announced.
PREPARES_ITS_KERNELS = frozenset({"train", "bench", "export"})


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rnnlab", description="Recurrent neural networks with hand-derived BPTT.")
    parser.add_argument("--version", action="version", version=f"rnnlab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="command")
    for module in (train, evaluate, predict, tag, generate, export, gradcheck, gradflow, bench):
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    try:
        if args.command in PREPARES_ITS_KERNELS:
            return int(args.run(args) or 0)
        with backend.announce_compilation():
            return int(args.run(args) or 0)
    except (ValueError, TypeError, OSError, ImportError) as exc:
        print(f"rnnlab {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
