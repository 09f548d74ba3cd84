"""Entry point of the ``rnnlab`` command: ``rnnlab <command> --help`` describes every flag."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from rnnlab import __version__
from rnnlab.cli import bench, evaluate, export, generate, gradcheck, gradflow, predict, tag, train


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
        return int(args.run(args) or 0)
    except (ValueError, TypeError, OSError, ImportError) as exc:
        print(f"rnnlab {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
