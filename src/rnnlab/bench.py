"""Speed of rnnlab's cells (NumPy reference and compiled kernels) against PyTorch: the timing harness.

Used by ``rnnlab bench`` and ``benchmarks/speed.py``. Measures, in one process, implementations
alternating (the order rotates every repeat):

* a full training step (forward over the whole sequence, then backward with every gradient) of
  RNN, LSTM and GRU for each ``(T, N, D, H)`` of the grid: rnnlab ``numpy``, rnnlab ``numba`` and
  ``torch.nn.RNN/LSTM/GRU`` (inputs and weights requiring grad); rnnlab's GRU runs with
  ``reset_after=True``, the variant ``torch.nn.GRU`` computes; rnnlab's cells run with the BLAS
  threads the layers give them (``threads.for_cell``: one thread for small per-step products);
* the achieved GFLOP/s of the numba step (matrix products only, ``training_flops``) as a fraction
  of the GEMM peak measured here: the faster of a large ``np.matmul`` (NumPy's OpenBLAS) and the
  same product through the kernels' own ``gemm`` (MKL when installed, ``rnnlab.kernels._blas``);
* batch-1 streaming inference, one step with the state carried by the caller: rnnlab
  ``kernels.<cell>.step`` with prepared weights against ``torch.nn.RNNCell/LSTMCell/GRUCell``
  under ``torch.no_grad()``;
* the one-off compile (or cache-load) time of the kernels, ``rnnlab.backend.warmup``, apart.

Timings are medians over repeats. Before each timed call the harness sleeps ``SETTLE`` seconds and
runs the same call untimed for ``WARM`` seconds (once at least): NumPy's OpenBLAS, the kernels'
BLAS (MKL's OpenMP threads, or SciPy's OpenBLAS) and PyTorch's OpenMP pool each keep their worker
threads spinning for a while after a call, and on two cores a spinning pool halves the speed of
whichever library runs next; the pause frees the cores, and the untimed calls wake the library's
own threads and the cores (a cold start costs PyTorch up to 4x on a batch-1 cell). Each library is
thus timed as it runs in a loop of its own.

PyTorch is optional: it is imported only inside ``load_torch`` (never when this module is
imported), and without it the torch columns hold ``None`` (``-`` in the tables) with a note saying
why. Without Numba the numba columns are ``None`` likewise.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rnnlab import backend, threads
from rnnlab.io import atomic_write_text

__all__ = [
    "GRID",
    "KINDS",
    "QUICK_GRID",
    "BenchConfig",
    "alternate",
    "console_tables",
    "gemm_peak",
    "load_torch",
    "markdown",
    "median_time",
    "parse_size",
    "rnnlab_step",
    "run",
    "sizes_text",
    "streaming",
    "torch_step",
    "training_flops",
    "write_results",
]

Size = tuple[int, int, int, int]  # (T, N, D, H)

GRID: list[Size] = [
    (100, 32, 32, 64), (100, 64, 128, 128), (100, 64, 256, 256), (50, 128, 512, 512), (1000, 16, 1, 128),
]
QUICK_GRID: list[Size] = [(20, 8, 16, 32), (50, 4, 1, 32)]
KINDS = ("rnn", "lstm", "gru")
GATES = {"rnn": 1, "lstm": 4, "gru": 3}
TORCH_LAYER = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}
TORCH_CELL = {"rnn": "RNNCell", "lstm": "LSTMCell", "gru": "GRUCell"}
SETTLE = 0.15  # seconds between implementations (see the module docstring)
QUICK_SETTLE = 0.05
WARM = 0.05  # seconds of untimed calls before each timed one (see ``alternate``)
QUICK_WARM = 0.01
STREAM_STEPS = 2000  # steps per timed streaming run: long enough for steady state (200 was not)
QUICK_STREAM_STEPS = 200
GEMM_N = 4096  # the GEMM peak multiplies two (n x n) matrices
QUICK_GEMM_N = 1024


@dataclasses.dataclass
class BenchConfig:
    """What to measure. ``threads=None`` leaves BLAS alone and gives PyTorch ``os.cpu_count()`` threads."""

    kinds: tuple[str, ...] = KINDS
    sizes: tuple[Size, ...] = tuple(GRID)
    repeats: int = 7
    dtype: str = "float32"
    threads: int | None = None
    use_torch: bool = True
    gemm_n: int = GEMM_N
    stream_steps: int = STREAM_STEPS
    settle: float = SETTLE
    warm: float = WARM
    wait_quiet: float = 0.0
    warmup_dtypes: tuple[str, ...] | None = None  # dtypes whose kernels to warm up (default: ``dtype``)
    blas: str = "auto"  # the kernels' BLAS: "mkl", "scipy" or "auto" (``rnnlab.kernels._blas.set_blas``)

    @classmethod
    def quick(cls, **overrides: Any) -> BenchConfig:
        """A tiny grid (a few seconds): ``QUICK_GRID``, 2 repeats, shorter pauses and streaming runs."""
        base: dict[str, Any] = dict(sizes=tuple(QUICK_GRID), repeats=2, gemm_n=QUICK_GEMM_N,
                                    stream_steps=QUICK_STREAM_STEPS, settle=QUICK_SETTLE, warm=QUICK_WARM)
        return cls(**{**base, **overrides})


def parse_size(text: str) -> Size:
    """``"100,32,32,64"`` -> ``(100, 32, 32, 64)``: ``T,N,D,H``, four positive integers."""
    parts = [p.strip() for p in str(text).split(",")]
    try:
        values = tuple(int(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 4 or any(v < 1 for v in values):
        raise ValueError(
            f"expected T,N,D,H: four positive integers separated by commas (e.g. 100,32,32,64), got {text!r}"
        )
    return values  # type: ignore[return-value]


def training_flops(kind: str, T: int, N: int, D: int, H: int) -> int:
    """Matrix-product flops of forward + backward: X W, H W_R, dx, dW, dH, dW_R.

    Each of the six products is ``T N`` rows times ``G H`` columns times ``D`` (input side) or
    ``H`` (recurrent side) multiply-adds: ``2 T N G H (3 D + 3 H)``.
    """
    if kind not in GATES:
        raise ValueError(f"unknown cell kind {kind!r}; expected one of {', '.join(KINDS)}")
    return 2 * T * N * GATES[kind] * H * (3 * D + 3 * H)


def load_torch(wanted: bool = True) -> tuple[Any | None, str | None]:
    """``(torch, None)``, or ``(None, why)`` when it is not wanted or cannot be imported."""
    if not wanted:
        return None, "--no-torch was given"
    try:
        import torch
    except ImportError as err:
        return None, f"PyTorch is not installed ({err}); `pip install torch` to compare against it"
    return torch, None


def numba_missing() -> str | None:
    """Why the compiled kernels cannot run, or None when they can."""
    if backend.numba_available():
        return None
    return "Numba (with SciPy) is not installed; `pip install 'rnnlab[fast]' scipy` for the compiled kernels"


def median_time(fn: Callable[[], Any], repeats: int) -> float:
    """Median seconds of ``fn()`` over ``repeats`` calls (one untimed call first)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def gemm_peak(repeats: int, dtype: str = "float32", n: int = GEMM_N, settle: float = SETTLE) -> float:
    """GEMM GFLOP/s here: the best of ``gemm_peaks`` (the ceiling every implementation shares)."""
    return max(gemm_peaks(repeats, dtype, n, settle).values())


def gemm_peaks(repeats: int, dtype: str = "float32", n: int = GEMM_N, settle: float = SETTLE) -> dict[str, float]:
    """GFLOP/s of a product of two ``(n, n)`` matrices, by library: ``np.matmul`` (NumPy's BLAS) and,
    with the compiled kernels, their own ``gemm`` (``kernels <provider>``, e.g. MKL)."""
    dt = np.dtype(dtype)
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(dt)
    b = rng.standard_normal((n, n)).astype(dt)
    out = np.empty((n, n), dt)
    products: dict[str, Callable[[], Any]] = {"np.matmul": lambda: np.matmul(a, b, out=out)}
    if numba_missing() is None:
        from rnnlab.kernels import _blas

        products[f"kernels {_blas.blas_provider()}"] = lambda: _blas.dot(a, b, out)
    peaks = {}
    for name, product in products.items():
        warm_up(product, WARM)
        t = median_time(product, max(3, repeats // 2))
        time.sleep(settle)
        peaks[name] = 2 * n**3 / t / 1e9
    return peaks


def _weights(kind: str, D: int, H: int, dtype: np.dtype, rng: np.random.Generator) -> dict[str, np.ndarray]:
    G = GATES[kind]
    return {
        "W": (rng.standard_normal((D, G * H)) / np.sqrt(D)).astype(dtype),
        "W_R": (rng.standard_normal((H, G * H)) / np.sqrt(H)).astype(dtype),
        "b": np.zeros(G * H, dtype),
        "b_R": np.zeros(G * H, dtype),
    }


def rnnlab_step(kind: str, backend_name: str, T: int, N: int, D: int, H: int,
                dtype: str = "float32") -> Callable[[], None]:
    """A closure running one rnnlab training step (forward + backward, all gradients)."""
    dt = np.dtype(dtype)
    with backend.use_backend(backend_name):
        cell = backend.get_cell(kind)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((T, N, D)).astype(dt)
    params = _weights(kind, D, H, dt, rng)
    extra: dict[str, Any] = {}
    if kind == "gru":
        extra["reset_after"] = True
    else:
        del params["b_R"]
    state = tuple(np.zeros((N, H), dt) for _ in cell.STATES)
    dout = np.ones((T, N, H), dt)
    dstate = tuple(None for _ in cell.STATES)

    def run_step() -> None:  # with the BLAS threads the layers give the cell
        with threads.for_cell(cell, N, H, GATES[kind]):
            _, _, cache = cell.forward(x, state, params, **extra)
            cell.backward(dout, dstate, cache)

    return run_step


def _torch_dtype(torch: Any, dtype: str) -> Any:
    return {"float32": torch.float32, "float64": torch.float64}[np.dtype(dtype).name]


def torch_step(torch: Any, kind: str, T: int, N: int, D: int, H: int, dtype: str = "float32") -> Callable[[], None]:
    """A closure running one PyTorch training step of the same size (input requires grad too)."""
    tdt = _torch_dtype(torch, dtype)
    torch.manual_seed(0)
    layer = getattr(torch.nn, TORCH_LAYER[kind])(D, H).to(tdt)
    x = torch.randn(T, N, D, dtype=tdt, requires_grad=True)

    def run_step() -> None:
        layer.zero_grad(set_to_none=True)
        x.grad = None
        out, _ = layer(x)
        out.backward(torch.ones_like(out))

    return run_step


def streaming(torch: Any | None, kind: str, D: int, H: int, steps: int, repeats: int, dtype: str = "float32",
              settle: float = SETTLE, warm: float = WARM) -> tuple[float | None, float | None]:
    """Seconds per batch-1 inference step: (rnnlab ``kernels.step``, torch cell under no_grad).

    Each is None when its library is missing (the rnnlab step needs the compiled kernels).
    """
    dt = np.dtype(dtype)
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((steps, 1, D)).astype(dt)
    fns: dict[str, Callable[[], None]] = {}
    if numba_missing() is None:
        from rnnlab import kernels

        module = kernels.KERNELS[kind]
        prepared = module.prepare(_weights(kind, D, H, dt, rng), dt)
        extra = {"reset_after": True} if kind == "gru" else {}
        state0 = tuple(np.zeros((1, H), dt) for _ in module.STATES)

        def ours() -> None:
            state = state0
            for t in range(steps):
                state = module.step(xs[t], state, prepared, **extra)

        fns["rnnlab"] = ours
    if torch is not None:
        tdt = _torch_dtype(torch, dtype)
        torch.manual_seed(0)
        cell = getattr(torch.nn, TORCH_CELL[kind])(D, H).to(tdt)
        txs = torch.from_numpy(xs)
        tstate0 = (torch.zeros(1, H, dtype=tdt), torch.zeros(1, H, dtype=tdt)) if kind == "lstm" else \
            torch.zeros(1, H, dtype=tdt)

        def theirs() -> None:
            with torch.no_grad():
                state = tstate0
                for t in range(steps):
                    state = cell(txs[t], state)

        fns["torch"] = theirs
    if not fns:
        return None, None
    times = dict(zip(fns, alternate(fns, repeats, per_call=steps, settle=settle, warm=warm), strict=True))
    return times.get("rnnlab"), times.get("torch")


def warm_up(fn: Callable[[], Any], seconds: float) -> None:
    """Call ``fn`` untimed for at least ``seconds`` (once at least): its library's threads and the
    cores awake, as in a loop of its own (see ``alternate``)."""
    until = time.perf_counter() + seconds
    fn()
    while time.perf_counter() < until:
        fn()


def alternate(fns: dict[str, Callable[[], Any]], repeats: int, per_call: int = 1,
              settle: float = SETTLE, warm: float = WARM) -> tuple[float, ...]:
    """Median seconds of each function over ``repeats`` rounds, the order rotating every round.

    In each round every function runs after a pause of ``settle`` seconds (the cores free of the
    previous library's spinning threads), untimed for at least ``warm`` seconds (once at least), then
    once timed: the timed call finds the library as in a training loop, its threads awake, its caches
    and allocator in steady state, and the cores out of their idle states. One untimed call was not
    enough for that: after 10 ms or more of idle, a step that uses both cores here ran 1.7-2.2x
    slower for several calls (the LSTM at (100, 32, 32, 64) split over two cores: 3.6 ms back to
    back, 6.4 ms after 10 ms of idle, 7.8 ms after 50 ms); PyTorch's two threads pay it too, less
    (its LSTM there: 4.3 ms back to back, 4.6 ms after the pause and one untimed call).
    """
    names = list(fns)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            time.sleep(settle)
            warm_up(fns[name], warm)
            start = time.perf_counter()
            fns[name]()
            times[name].append((time.perf_counter() - start) / per_call)
    return tuple(statistics.median(times[name]) for name in names)


def busy_others() -> list[str]:
    """Other processes using a noticeable share of the CPU (they make timings noisy), from ``ps``.

    ``ps`` reports each process's average CPU share over its life; this process and its children
    (``ps`` itself, whose short life can read 100 %) are left out (its own BLAS and PyTorch threads
    load both cores, so the load average says nothing here).
    """
    try:
        out = subprocess.run(["ps", "-eo", "pid,ppid,pcpu,comm"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    mine = os.getpid()
    busy = []
    for line in out.splitlines()[1:]:
        parts = line.split(None, 3)
        try:
            pid, ppid, pcpu, comm = int(parts[0]), int(parts[1]), float(parts[2]), parts[3]
        except (IndexError, ValueError):
            continue
        if mine not in (pid, ppid) and pcpu > 15.0:
            busy.append(f"{comm} ({parts[2]}%)")
    return busy


def wait_for_quiet(max_wait: float) -> list[str]:
    """Wait up to ``max_wait`` seconds for ``busy_others()`` to be empty; return what is still busy."""
    if max_wait <= 0:
        return busy_others()
    deadline = time.monotonic() + max_wait
    busy = busy_others()
    while busy and time.monotonic() < deadline:
        time.sleep(5.0)
        busy = busy_others()
    return busy


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a / b


def _ms(t: float | None) -> float | None:
    return None if t is None else t * 1e3


def _num(value: float | None, spec: str, width: int = 0) -> str:
    """``value`` formatted, or ``-`` when it was not measured."""
    return f"{'-' if value is None else format(value, spec):>{width}}"


TRAINING_HEADER = (
    f"{'cell':5} {'T':>5} {'N':>4} {'D':>4} {'H':>4} {'numpy ms':>9} {'numba ms':>9} {'torch ms':>9} "
    f"{'torch/numba':>11} {'GFLOP/s':>8} {'% peak':>7}"
)
STREAMING_HEADER = f"{'cell':5} {'D':>4} {'H':>4} {'rnnlab step us':>15} {'torch cell us':>14} {'torch/rnnlab':>13}"


def training_line(row: dict[str, Any]) -> str:
    """One row of the console's training table."""
    peak = None if row["peak_fraction"] is None else 100 * row["peak_fraction"]
    busy = row.get("busy") or []
    return (
        f"{row['kind']:5} {row['T']:5d} {row['N']:4d} {row['D']:4d} {row['H']:4d} {_num(row['numpy_ms'], '.2f', 9)} "
        f"{_num(row['numba_ms'], '.2f', 9)} {_num(row['torch_ms'], '.2f', 9)} "
        f"{_num(row['torch_over_numba'], '.2f', 11)} {_num(row['gflops'], '.0f', 8)} "
        f"{_num(peak, '.1f', 6)}{'%' if peak is not None else ' '}{'  busy: ' + ', '.join(busy) if busy else ''}"
    )


def streaming_line(row: dict[str, Any]) -> str:
    """One row of the console's streaming table."""
    busy = row.get("busy") or []
    return (
        f"{row['kind']:5} {row['D']:4d} {row['H']:4d} {_num(row['rnnlab_us'], '.2f', 15)} "
        f"{_num(row['torch_us'], '.2f', 14)} {_num(row['torch_over_rnnlab'], '.2f', 13)}"
        f"{'  busy: ' + ', '.join(busy) if busy else ''}"
    )


def console_tables(result: dict[str, Any]) -> str:
    """Both tables as ``run`` prints them, from a result dict."""
    lines = [TRAINING_HEADER, *(training_line(r) for r in result["training"]), "", STREAMING_HEADER]
    lines += [streaming_line(r) for r in result["streaming"]]
    return "\n".join(lines)


def run(config: BenchConfig, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Measure everything ``config`` asks for, printing each row through ``log`` as it is measured.

    Returns the result dict that ``markdown`` and ``write_results`` take (the layout of
    ``benchmarks/results/speed.json``; values not measured are None).
    """
    if config.repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {config.repeats}")
    if config.threads is not None and config.threads < 1:
        raise ValueError(f"threads must be >= 1, got {config.threads}")
    dtype = np.dtype(config.dtype).name
    if dtype not in ("float32", "float64"):
        raise ValueError(f"dtype must be float32 or float64, got {config.dtype}")
    for kind in config.kinds:
        if kind not in KINDS:
            raise ValueError(f"unknown cell kind {kind!r}; expected one of {', '.join(KINDS)}")

    torch, no_torch = load_torch(config.use_torch)
    no_numba = numba_missing()
    notes = []
    if no_torch:
        notes.append(f"torch columns are '-': {no_torch}.")
    if no_numba:
        notes.append(f"numba columns are '-': {no_numba}.")
    for note in notes:
        log(note)

    torch_threads = config.threads or os.cpu_count() or 1
    previous_torch_threads = None
    previous_blas = None
    if torch is not None:
        previous_torch_threads = torch.get_num_threads()
        torch.set_num_threads(torch_threads)
    try:
        # The warmup also loads the kernels' BLAS (MKL or SciPy's), so that ``blas_threads`` below sees it.
        warmup_s: dict[str, float] = {}
        if no_numba is None:
            with backend.use_backend("numba"):
                for dt in config.warmup_dtypes or (dtype,):
                    warmup_s[np.dtype(dt).name] = backend.warmup(dt)
            from rnnlab.kernels import _blas

            previous_blas = _blas.blas_provider()
            _blas.set_blas(config.blas)
            threads.refresh()  # MKL may have been loaded just now
        with threads.blas_threads(config.threads):
            return _measure(config, dtype, torch, torch_threads, notes, warmup_s, no_numba is None, log)
    finally:
        if previous_torch_threads is not None:
            torch.set_num_threads(previous_torch_threads)
        if previous_blas is not None:
            from rnnlab.kernels import _blas

            _blas.set_blas(previous_blas)


def _measure(config: BenchConfig, dtype: str, torch: Any | None, torch_threads: int, notes: list[str],
             warmup_s: dict[str, float], have_numba: bool, log: Callable[[str], None]) -> dict[str, Any]:
    peaks = gemm_peaks(config.repeats, dtype, config.gemm_n, config.settle)
    peak = max(peaks.values())
    blas = None
    if have_numba:
        from rnnlab.kernels import _blas

        blas = _blas.blas_provider()
    warm = ", ".join(f"{s:.1f} s {dt}" for dt, s in warmup_s.items()) if warmup_s else "none (no numba)"
    log(f"{dtype} GEMM peak ({config.gemm_n}^3; " + ", ".join(f"{k} {v:.0f}" for k, v in peaks.items())
        + f"): {peak:.0f} GFLOP/s; kernels' BLAS: {blas or '-'}; kernel warmup (compile or cache load, not in "
        f"the timings): {warm}")
    others = busy_others()
    if others:
        log(f"warning: other busy processes: {', '.join(others)}")

    training = []
    log(TRAINING_HEADER)
    for kind in config.kinds:
        for T, N, D, H in config.sizes:
            busy = wait_for_quiet(config.wait_quiet)
            fns = {"numpy": rnnlab_step(kind, "numpy", T, N, D, H, dtype)}
            if have_numba:
                fns["numba"] = rnnlab_step(kind, "numba", T, N, D, H, dtype)
            if torch is not None:
                fns["torch"] = torch_step(torch, kind, T, N, D, H, dtype)
            times: dict[str, float | None] = dict(
                zip(fns, alternate(fns, config.repeats, settle=config.settle, warm=config.warm), strict=True))
            busy = sorted(set(busy + busy_others()))
            t_np, t_nb, t_th = times["numpy"], times.get("numba"), times.get("torch")
            gflops = None if t_nb is None else training_flops(kind, T, N, D, H) / t_nb / 1e9
            row = dict(
                kind=kind, T=T, N=N, D=D, H=H,
                numpy_ms=_ms(t_np), numba_ms=_ms(t_nb), torch_ms=_ms(t_th),
                torch_over_numba=_ratio(t_th, t_nb), torch_over_numpy=_ratio(t_th, t_np),
                gflops=gflops, peak_fraction=_ratio(gflops, peak), busy=busy,
            )
            training.append(row)
            log(training_line(row))

    stream = []
    log("")
    log(STREAMING_HEADER)
    pairs = list(dict.fromkeys((D, H) for _, _, D, H in config.sizes))
    for kind in config.kinds:
        for D, H in pairs:
            busy = wait_for_quiet(config.wait_quiet)
            ours, theirs = streaming(torch, kind, D, H, config.stream_steps, config.repeats, dtype, config.settle,
                                     config.warm)
            busy = sorted(set(busy + busy_others()))
            row = dict(busy=busy, kind=kind, D=D, H=H, rnnlab_us=None if ours is None else ours * 1e6,
                       torch_us=None if theirs is None else theirs * 1e6, torch_over_rnnlab=_ratio(theirs, ours))
            stream.append(row)
            log(streaming_line(row))

    return dict(
        machine=dict(
            platform=platform.platform(),
            processor=platform.processor(),
            cpus=os.cpu_count(),
            numpy=np.__version__,
            torch=None if torch is None else torch.__version__,
            numba=_version("numba") if have_numba else None,
            blas=blas,
            mkl=_version("mkl") if blas == "mkl" else None,
            busy_others_start=others,
            busy_others_end=busy_others(),
        ),
        dtype=dtype,
        threads=torch_threads,
        blas_threads=config.threads,
        repeats=config.repeats,
        settle_s=config.settle,
        warm_s=config.warm,
        gemm_n=config.gemm_n,
        stream_steps=config.stream_steps,
        gemm_peak_gflops=peak,
        gemm_peaks=peaks,
        warmup_s=warmup_s,
        notes=notes,
        training=training,
        streaming=stream,
    )


def markdown(r: dict[str, Any]) -> str:
    """The results as the Markdown tables of ``benchmarks/results/speed.md``."""
    m = r["machine"]
    dtype = r.get("dtype", "float32")
    warm = r.get("warmup_s") or {}
    if warm:
        warm_text = "Kernel warmup (compile, or load from the disk cache): " + ", ".join(
            f"{s:.1f} s {dt}" for dt, s in warm.items()) + "."
    else:
        warm_text = "No kernel warmup (numba not installed)."
    lines = [
        f"# rnnlab speed ({dtype})",
        "",
        f"{m['cpus']} CPUs, {m['platform']}; numpy {m['numpy']}, numba {m['numba'] or '-'}, torch {m['torch'] or '-'} "
        f"({r.get('threads', 2)} threads); the kernels' BLAS: {_blas_text(m)}. {dtype.capitalize()} GEMM peak, "
        f"the best product of two {r.get('gemm_n', GEMM_N)}^2 matrices measured here"
        f"{_peaks_text(r)}: **{r['gemm_peak_gflops']:.0f} GFLOP/s**. "
        f"Medians of {r['repeats']} alternating repeats{_warm_text(r)}. {warm_text}",
        "",
    ]
    for note in r.get("notes", []):
        lines += [note[:1].upper() + note[1:], ""]
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
        peak = None if t["peak_fraction"] is None else 100 * t["peak_fraction"]
        lines.append(
            f"| {t['kind']}{'*' if t['busy'] else ''} | {t['T']} | {t['N']} | {t['D']} | {t['H']} | "
            f"{_num(t['numpy_ms'], '.2f')} | {_num(t['numba_ms'], '.2f')} | {_num(t['torch_ms'], '.2f')} | "
            f"{_num(t['torch_over_numba'], '.2f')} | {_num(t['gflops'], '.0f')} | {_num(peak, '.1f')} |"
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
            f"| {s['kind']}{'*' if s['busy'] else ''} | {s['D']} | {s['H']} | {_num(s['rnnlab_us'], '.2f')} | "
            f"{_num(s['torch_us'], '.2f')} | {_num(s['torch_over_rnnlab'], '.2f')} |"
        )
    return "\n".join(lines) + "\n"


def write_results(result: dict[str, Any], md_path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write ``markdown(result)`` to ``md_path`` and the JSON beside it (same name, ``.json``), atomically.

    Creates the folder if needed. Returns ``(md_path, json_path)``.
    """
    md = Path(md_path)
    if md.suffix == ".json":
        raise ValueError(f"give the Markdown file (e.g. speed.md), not {md}; the JSON is written beside it")
    js = md.with_suffix(".json")
    md.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(js, json.dumps(result, indent=2) + "\n")
    atomic_write_text(md, markdown(result))
    return md, js


def _warm_text(r: dict[str, Any]) -> str:
    if r.get("warm_s") is None:
        return ""
    return f", each timed call after {r['settle_s']:g} s of pause and {r['warm_s']:g} s of untimed calls"


def _blas_text(machine: dict[str, Any]) -> str:
    blas = machine.get("blas")
    if blas == "mkl":
        return f"MKL {machine.get('mkl') or ''}".strip()
    return {"scipy": "SciPy's OpenBLAS", None: "-"}.get(blas, str(blas))


def _peaks_text(r: dict[str, Any]) -> str:
    peaks = r.get("gemm_peaks")
    if not peaks:
        return " (`np.matmul`)"
    return " (" + ", ".join(f"`{k}` {v:.0f}" for k, v in peaks.items()) + ")"


def sizes_text(sizes: Sequence[Size]) -> str:
    """``[(100, 32, 32, 64)]`` -> ``"100,32,32,64"`` (space-separated), the ``--sizes`` syntax."""
    return " ".join(",".join(str(v) for v in s) for s in sizes)
