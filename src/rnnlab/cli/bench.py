"""``rnnlab bench``: time rnnlab's cells (NumPy reference and compiled kernels) against PyTorch on this machine.

Prints the training-step table (forward + backward of RNN/LSTM/GRU over a (T, N, D, H) grid: numpy,
numba and torch milliseconds, torch/numba, the numba step's GFLOP/s and its share of the GEMM peak
measured in the same run) and the batch-1 streaming table, with the kernels' compile (or cache-load)
seconds reported apart. Without PyTorch (or with --no-torch) the torch columns are "-"; without
Numba the numba columns are. Speeds are noisy on a busy machine: each row says which other
processes were busy while it ran. ``benchmarks/speed.py`` runs the same harness on the full grid.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rnnlab import bench


def _size(text: str) -> bench.Size:
    try:
        return bench.parse_size(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _markdown_path(text: str) -> Path:
    path = Path(text)
    if path.suffix == ".json":
        raise argparse.ArgumentTypeError(f"expected the Markdown file (e.g. speed.md), got {text!r}; "
                                         "the JSON is written beside it")
    return path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="time rnnlab's cells against PyTorch on this machine", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cells", nargs="+", choices=bench.KINDS, default=list(bench.KINDS), metavar="CELL",
                   help="cells to time: rnn lstm gru (default all three)")
    p.add_argument("--sizes", nargs="+", type=_size, default=None, metavar="T,N,D,H",
                   help=f"problem sizes, each T,N,D,H (default the standard grid: {bench.sizes_text(bench.GRID)}; "
                        f"with --quick: {bench.sizes_text(bench.QUICK_GRID)})")
    p.add_argument("--repeats", type=_positive, default=None,
                   help="timed repeats per implementation, the median is reported (default 7; 2 with --quick)")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32",
                   help="float precision (default float32)")
    p.add_argument("--threads", type=_positive, default=None,
                   help="threads for PyTorch and for every BLAS (default: PyTorch gets one per CPU, BLAS its own "
                        "setting)")
    p.add_argument("--blas", choices=["auto", "mkl", "scipy"], default="auto",
                   help="the BLAS of the compiled kernels: mkl (Intel oneMKL, `pip install mkl`), scipy (SciPy's "
                        "OpenBLAS) or auto (mkl when installed; default)")
    p.add_argument("--no-torch", action="store_true", help="skip PyTorch (its columns show '-')")
    p.add_argument("--quick", action="store_true",
                   help="a tiny grid, shorter pauses and streaming runs, a smaller GEMM: a few seconds once the "
                        "kernels are compiled (the first run compiles them all, about 40 s), noisy")
    p.add_argument("--out", type=_markdown_path, default=None, metavar="FILE.md",
                   help="also write the tables to FILE.md and the raw numbers to FILE.json beside it")
    p.add_argument("--json", action="store_true", help="print the raw numbers as one JSON object as the last line")
    p.set_defaults(run=run)


def config_from_args(args: argparse.Namespace) -> bench.BenchConfig:
    """The ``BenchConfig`` of the command-line flags."""
    overrides: dict = dict(kinds=tuple(args.cells), dtype=args.dtype, threads=args.threads,
                           use_torch=not args.no_torch, blas=args.blas)
    if args.sizes:
        overrides["sizes"] = tuple(args.sizes)
    if args.repeats is not None:
        overrides["repeats"] = args.repeats
    return bench.BenchConfig.quick(**overrides) if args.quick else bench.BenchConfig(**overrides)


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    result = bench.run(config, log=lambda line: print(line, flush=True))
    if args.out is not None:
        md, js = bench.write_results(result, args.out)
        print(f"\nwrote {md} and {js}")
    if args.json:
        print(json.dumps(result, separators=(",", ":")))
    return 0
