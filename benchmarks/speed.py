"""Speed of rnnlab's cells (NumPy reference and compiled kernels) against PyTorch, on this machine.

Run by hand (not part of the tests)::

    python benchmarks/speed.py            # full run, a few minutes
    python benchmarks/speed.py --quick    # fewer repeats

Measures, in float32, one process, implementations alternating (the order rotates every repeat):

* a full training step (forward over the whole sequence, then backward with every gradient) of
  RNN, LSTM and GRU for each (T, N, D, H) of ``GRID``: rnnlab ``numpy``, rnnlab ``numba`` and
  ``torch.nn.RNN/LSTM/GRU`` (inputs and weights requiring grad, ``torch.set_num_threads(2)``);
  rnnlab's GRU runs with ``reset_after=True``, the variant ``torch.nn.GRU`` computes;
* the achieved GFLOP/s of the numba step (matrix products only: ``2 T N G H (3D + 3H)``) as a
  fraction of the float32 GEMM peak measured here with a large ``np.matmul``;
* batch-1 streaming inference, one step with the state carried by the caller: rnnlab
  ``kernels.<cell>.step`` with prepared weights against ``torch.nn.RNNCell/LSTMCell/GRUCell``
  under ``torch.no_grad()``;
* the one-off compile (or cache-load) time of the kernels, ``rnnlab.backend.warmup``.

Timings are medians over repeats. Before each timed call the script sleeps ``SETTLE`` seconds and
runs the same call once untimed: NumPy's OpenBLAS, SciPy's OpenBLAS (which Numba calls) and
PyTorch's OpenMP pool each keep their worker threads spinning for a while after a call, and on two
cores a spinning pool halves the speed of whichever library runs next; the pause frees the cores,
and the untimed call wakes the library's own threads (a cold start costs PyTorch up to 4x on a
batch-1 cell). Each library is thus timed as it runs in a loop of its own.

Writes ``benchmarks/results/speed.md`` and ``speed.json`` next to this file and prints the table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

GRID = [(100, 32, 32, 64), (100, 64, 128, 128), (100, 64, 256, 256), (50, 128, 512, 512), (1000, 16, 1, 128)]
KINDS = ("rnn", "lstm", "gru")
GATES = {"rnn": 1, "lstm": 4, "gru": 3}
TORCH_LAYER = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}
TORCH_CELL = {"rnn": "RNNCell", "lstm": "LSTMCell", "gru": "GRUCell"}
SETTLE = 0.15  # seconds between implementations (see the module docstring)
STREAM_STEPS = 2000  # steps per timed streaming run: long enough for steady state (200 was not)
RESULTS = Path(__file__).resolve().parent / "results"


def median_time(fn: Callable[[], Any], repeats: int) -> float:
    """Median seconds of ``fn()`` over ``repeats`` calls (one untimed call first)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def gemm_peak(repeats: int) -> float:
    """Float32 GEMM GFLOP/s of a large ``np.matmul`` (the ceiling every implementation shares)."""
    n = 4096
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    out = np.empty((n, n), np.float32)
    t = median_time(lambda: np.matmul(a, b, out=out), max(3, repeats // 2))
    time.sleep(SETTLE)
    return 2 * n**3 / t / 1e9


def training_flops(kind: str, T: int, N: int, D: int, H: int) -> int:
    """Matrix-product flops of forward + backward: X W, H W_R, dx, dW, dH, dW_R."""
    return 2 * T * N * GATES[kind] * H * (3 * D + 3 * H)


def rnnlab_step(kind: str, backend: str, T: int, N: int, D: int, H: int) -> Callable[[], None]:
    """A closure running one rnnlab training step (forward + backward, all gradients)."""
    from rnnlab import backend as be

    with be.use_backend(backend):
        cell = be.get_cell(kind)
    rng = np.random.default_rng(0)
    G = GATES[kind]
    x = rng.standard_normal((T, N, D), dtype=np.float32)
    params = {
        "W": (rng.standard_normal((D, G * H)) / np.sqrt(D)).astype(np.float32),
        "W_R": (rng.standard_normal((H, G * H)) / np.sqrt(H)).astype(np.float32),
        "b": np.zeros(G * H, np.float32),
    }
    extra: dict[str, Any] = {}
    if kind == "gru":
        params["b_R"] = np.zeros(G * H, np.float32)
        extra["reset_after"] = True
    state = tuple(np.zeros((N, H), np.float32) for _ in cell.STATES)
    dout = np.ones((T, N, H), np.float32)
    dstate = tuple(None for _ in cell.STATES)

    def run() -> None:
        _, _, cache = cell.forward(x, state, params, **extra)
        cell.backward(dout, dstate, cache)

    return run


def torch_step(torch: Any, kind: str, T: int, N: int, D: int, H: int) -> Callable[[], None]:
    """A closure running one PyTorch training step of the same size (input requires grad too)."""
    torch.manual_seed(0)
    layer = getattr(torch.nn, TORCH_LAYER[kind])(D, H)
    x = torch.randn(T, N, D, requires_grad=True)

    def run() -> None:
        layer.zero_grad(set_to_none=True)
        x.grad = None
        out, _ = layer(x)
        out.backward(torch.ones_like(out))

    return run


def streaming(torch: Any, kind: str, D: int, H: int, steps: int, repeats: int) -> tuple[float, float]:
    """Seconds per batch-1 inference step: (rnnlab kernels.step, torch cell under no_grad)."""
    from rnnlab import kernels

    module = kernels.KERNELS[kind]
    rng = np.random.default_rng(0)
    G = GATES[kind]
    xs = rng.standard_normal((steps, 1, D), dtype=np.float32)
    params = {
        "W": (rng.standard_normal((D, G * H)) / np.sqrt(D)).astype(np.float32),
        "W_R": (rng.standard_normal((H, G * H)) / np.sqrt(H)).astype(np.float32),
        "b": np.zeros(G * H, np.float32),
        "b_R": np.zeros(G * H, np.float32),
    }
    prepared = module.prepare(params, np.float32)
    extra = {"reset_after": True} if kind == "gru" else {}
    state0 = tuple(np.zeros((1, H), np.float32) for _ in module.STATES)

    def ours() -> None:
        state = state0
        for t in range(steps):
            state = module.step(xs[t], state, prepared, **extra)

    torch.manual_seed(0)
    cell = getattr(torch.nn, TORCH_CELL[kind])(D, H)
    txs = torch.from_numpy(xs)
    tstate0 = (torch.zeros(1, H), torch.zeros(1, H)) if kind == "lstm" else torch.zeros(1, H)

    def theirs() -> None:
        with torch.no_grad():
            state = tstate0
            for t in range(steps):
                state = cell(txs[t], state)

    return alternate({"rnnlab": ours, "torch": theirs}, repeats, per_call=steps)


def alternate(fns: dict[str, Callable[[], Any]], repeats: int, per_call: int = 1) -> tuple[float, ...]:
    """Median seconds of each function over ``repeats`` rounds, the order rotating every round.

    In each round every function runs twice in a row, untimed then timed, after a pause of
    ``SETTLE`` seconds: the timed call finds the library warm (its threads awake, its caches and
    allocator in steady state, as in a training loop) and the cores free of the previous library's
    spinning threads.
    """
    names = list(fns)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            time.sleep(SETTLE)
            fns[name]()
            start = time.perf_counter()
            fns[name]()
            times[name].append((time.perf_counter() - start) / per_call)
    return tuple(statistics.median(times[name]) for name in names)


def busy_others() -> list[str]:
    """Other processes using a noticeable share of the CPU (they make timings noisy), from ``ps``.

    ``ps`` reports each process's average CPU share over its life; this process is left out (its
    own BLAS and PyTorch threads load both cores, so the load average says nothing here).
    """
    try:
        out = subprocess.run(["ps", "-eo", "pid,pcpu,comm"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    mine = os.getpid()
    rows = [line.split(None, 2) for line in out.splitlines()[1:]]
    return [f"{c} ({p}%)" for pid, p, c in rows if int(pid) != mine and float(p) > 15.0]


def wait_for_quiet(max_wait: float) -> list[str]:
    """Wait up to ``max_wait`` seconds for ``busy_others()`` to be empty; return what is still busy."""
    deadline = time.monotonic() + max_wait
    busy = busy_others()
    while busy and time.monotonic() < deadline:
        time.sleep(5.0)
        busy = busy_others()
    return busy


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 repeats instead of 7 (noisier)")
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS, help="cells to measure")
    parser.add_argument("--out", type=Path, default=RESULTS, help="directory for speed.md and speed.json")
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before each measurement, wait up to this long for other busy processes to finish (shared machines)",
    )
    args = parser.parse_args(argv)
    repeats = 3 if args.quick else 7

    import torch

    from rnnlab import backend

    torch.set_num_threads(2)
    backend.set_backend("numba")
    compile_s = {np.dtype(dt).name: backend.warmup(dt) for dt in (np.float32, np.float64)}
    peak = gemm_peak(repeats)
    print(
        f"float32 GEMM peak (np.matmul 4096^3): {peak:.0f} GFLOP/s; kernel warmup (compile or cache "
        f"load): {compile_s['float32']:.1f} s float32, {compile_s['float64']:.1f} s float64",
        flush=True,
    )
    others = busy_others()
    if others:
        print(f"warning: other busy processes: {', '.join(others)}", flush=True)

    training = []
    header = (
        f"{'cell':5} {'T':>5} {'N':>4} {'D':>4} {'H':>4} {'numpy ms':>9} {'numba ms':>9} {'torch ms':>9} "
        f"{'torch/numba':>11} {'GFLOP/s':>8} {'% peak':>7}"
    )
    print(header, flush=True)
    for kind in args.kinds:
        for T, N, D, H in GRID:
            busy = wait_for_quiet(args.wait_quiet)
            fns = {
                "numpy": rnnlab_step(kind, "numpy", T, N, D, H),
                "numba": rnnlab_step(kind, "numba", T, N, D, H),
                "torch": torch_step(torch, kind, T, N, D, H),
            }
            t_np, t_nb, t_th = alternate(fns, repeats)
            busy = sorted(set(busy + busy_others()))
            gflops = training_flops(kind, T, N, D, H) / t_nb / 1e9
            row = dict(
                kind=kind,
                T=T,
                N=N,
                D=D,
                H=H,
                numpy_ms=t_np * 1e3,
                numba_ms=t_nb * 1e3,
                torch_ms=t_th * 1e3,
                torch_over_numba=t_th / t_nb,
                torch_over_numpy=t_th / t_np,
                gflops=gflops,
                peak_fraction=gflops / peak,
                busy=busy,
            )
            training.append(row)
            print(
                f"{kind:5} {T:5d} {N:4d} {D:4d} {H:4d} {row['numpy_ms']:9.2f} {row['numba_ms']:9.2f} "
                f"{row['torch_ms']:9.2f} {row['torch_over_numba']:11.2f} {gflops:8.0f} "
                f"{100 * row['peak_fraction']:6.1f}%{'  busy: ' + ', '.join(busy) if busy else ''}",
                flush=True,
            )

    stream = []
    print(f"\n{'cell':5} {'D':>4} {'H':>4} {'rnnlab step us':>15} {'torch cell us':>14} {'torch/rnnlab':>13}")
    for kind in args.kinds:
        for _, _, D, H in GRID:
            busy = wait_for_quiet(args.wait_quiet)
            ours, theirs = streaming(torch, kind, D, H, steps=STREAM_STEPS, repeats=repeats)
            busy = sorted(set(busy + busy_others()))
            row = dict(
                busy=busy,
                kind=kind,
                D=D,
                H=H,
                rnnlab_us=ours * 1e6,
                torch_us=theirs * 1e6,
                torch_over_rnnlab=theirs / ours,
            )
            stream.append(row)
            print(
                f"{kind:5} {D:4d} {H:4d} {row['rnnlab_us']:15.2f} {row['torch_us']:14.2f} "
                f"{row['torch_over_rnnlab']:13.2f}{'  busy: ' + ', '.join(busy) if busy else ''}",
                flush=True,
            )

    others_end = busy_others()
    result = dict(
        machine=dict(
            platform=platform.platform(),
            processor=platform.processor(),
            cpus=os.cpu_count(),
            numpy=np.__version__,
            torch=torch.__version__,
            numba=__import__("numba").__version__,
            busy_others_start=others,
            busy_others_end=others_end,
        ),
        repeats=repeats,
        settle_s=SETTLE,
        gemm_peak_gflops=peak,
        warmup_s=compile_s,
        training=training,
        streaming=stream,
    )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "speed.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "speed.md").write_text(markdown(result))
    print(f"\nwrote {args.out / 'speed.md'} and {args.out / 'speed.json'}")
    return result


def markdown(r: dict[str, Any]) -> str:
    """The results as the Markdown tables of ``benchmarks/README.md``."""
    m = r["machine"]
    lines = [
        "# rnnlab speed (float32)",
        "",
        f"{m['cpus']} CPUs, {m['platform']}; numpy {m['numpy']}, numba {m['numba']}, torch {m['torch']} "
        f"(2 threads). Float32 GEMM peak measured with `np.matmul` 4096^3: **{r['gemm_peak_gflops']:.0f} GFLOP/s**. "
        f"Medians of {r['repeats']} alternating repeats. Kernel warmup (compile, or load from the disk "
        f"cache): {r['warmup_s']['float32']:.1f} s float32, {r['warmup_s']['float64']:.1f} s float64.",
        "",
    ]
    if any(row["busy"] for row in r["training"] + r["streaming"]):
        lines += [
            "Rows marked * ran while other processes were busy on this shared machine: their timings are",
            "noisier, and multi-threaded code (BLAS, PyTorch) suffers most.",
            "",
        ]
    lines += [
        "## Training step (forward + backward, all gradients)",
        "",
        "| cell | T | N | D | H | numpy ms | numba ms | torch ms | torch / numba | numba GFLOP/s | % of peak |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for t in r["training"]:
        lines.append(
            f"| {t['kind']}{'*' if t['busy'] else ''} | {t['T']} | {t['N']} | {t['D']} | {t['H']} | "
            f"{t['numpy_ms']:.2f} | {t['numba_ms']:.2f} | {t['torch_ms']:.2f} | {t['torch_over_numba']:.2f} | "
            f"{t['gflops']:.0f} | {100 * t['peak_fraction']:.1f} |"
        )
    lines += [
        "",
        "## Streaming inference, batch 1, one step",
        "",
        "| cell | D | H | rnnlab step us | torch cell us | torch / rnnlab |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for s in r["streaming"]:
        lines.append(
            f"| {s['kind']}{'*' if s['busy'] else ''} | {s['D']} | {s['H']} | {s['rnnlab_us']:.2f} | "
            f"{s['torch_us']:.2f} | {s['torch_over_rnnlab']:.2f} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
