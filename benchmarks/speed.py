"""Speed of rnnlab's cells (NumPy reference and compiled kernels) against PyTorch, on this machine.

Run by hand (not part of the tests)::

    python benchmarks/speed.py            # full run, a few minutes
    python benchmarks/speed.py --quick    # fewer repeats

A thin wrapper around ``rnnlab.bench`` (also behind ``rnnlab bench``; the method is described
there and in ``benchmarks/README.md``): float32, the standard grid ``rnnlab.bench.GRID``, PyTorch
with 2 threads, the kernels warmed up for float32 and float64 first (their compile or cache-load
seconds reported apart). Writes ``benchmarks/results/speed.md`` and ``speed.json`` next to this
file (atomically) and prints the table.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rnnlab import bench

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 repeats instead of 7 (noisier)")
    parser.add_argument("--kinds", nargs="+", default=list(bench.KINDS), choices=bench.KINDS, help="cells to measure")
    parser.add_argument("--out", type=Path, default=RESULTS, help="directory for speed.md and speed.json")
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch (its columns show '-')")
    parser.add_argument("--blas", choices=["auto", "mkl", "scipy"], default="auto",
                        help="the kernels' BLAS (auto: MKL when installed, else SciPy's OpenBLAS)")
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before each measurement, wait up to this long for other busy processes to finish (shared machines)",
    )
    args = parser.parse_args(argv)
    config = bench.BenchConfig(
        kinds=tuple(args.kinds),
        repeats=3 if args.quick else 7,
        threads=2,
        use_torch=not args.no_torch,
        wait_quiet=args.wait_quiet,
        warmup_dtypes=("float32", "float64"),
        blas=args.blas,
    )
    result = bench.run(config, log=lambda line: print(line, flush=True))
    md, js = bench.write_results(result, args.out / "speed.md")
    print(f"\nwrote {md} and {js}")
    return result


if __name__ == "__main__":
    main()
