"""Inference speed of rnnlab against the same model exported to ONNX and run by ONNX Runtime, and PyTorch.

    python benchmarks/onnx_speed.py [--quick] [--repeats R] [--cells lstm ...]

For each cell and ``(T, N, D, H)`` of ``rnnlab.bench.GRID``: one recurrent layer over the whole
sequence, all outputs, no gradient (what ``model.predict`` runs), timed in one process with the
implementations alternating (``rnnlab.bench.alternate``: pauses between libraries, untimed warm
calls, medians):

* rnnlab: ``Sequential([layer])`` called on the batch (the compiled kernels);
* ONNX Runtime: the same model, ``rnnlab.interop.onnx.to_onnx`` -> ``InferenceSession`` with as
  many intra-op threads as cores (its CPU RNN/LSTM/GRU kernels);
* PyTorch: ``torch.nn.RNN/LSTM/GRU`` under ``torch.inference_mode``.

The GRU is the form all three compute alike, ``reset_after=True``. Before timing, ONNX Runtime's
outputs are checked against rnnlab's (float32, 1e-4). Then streaming, batch 1: 500 steps, one per
call with the state carried, rnnlab's ``model.stepper()`` against ONNX Runtime on the export with
``states=True`` (one ``session.run`` per step) and ``torch.nn.*Cell``.
Writes ``results/onnx_speed.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from typing import Any

import numpy as np
from _common import write_results

from rnnlab import bench
from rnnlab.interop.onnx import to_onnx
from rnnlab.layers import GRU, LSTM, SimpleRNN
from rnnlab.models.sequential import Sequential

CELLS = {"rnn": SimpleRNN, "lstm": LSTM, "gru": GRU}
STREAM_SIZES = [(128, 128), (512, 512)]
STREAM_STEPS = 500


def layer(kind: str, H: int, D: int, **options: Any) -> Any:
    extra = {"reset_after": True} if kind == "gru" else {}
    return CELLS[kind](H, input_dim=D, seed=0, **extra, **options)


def session(ort: Any, model: Sequential, path: str, **options: Any) -> Any:
    to_onnx(model, path, **options)
    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads = os.cpu_count() or 1, 1
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def sequences(ort: Any, torch: Any, kind: str, size: bench.Size, repeats: int, tmp: str) -> dict[str, Any]:
    T, N, D, H = size
    x = np.random.default_rng(0).standard_normal((N, T, D)).astype(np.float32)
    model = Sequential([layer(kind, H, D, return_sequences=True)])
    run = session(ort, model, f"{tmp}/{kind}.onnx")
    ours = model(x)
    theirs = run.run(None, {"x": x})[0]
    np.testing.assert_allclose(theirs, ours, rtol=1e-4, atol=1e-4, err_msg=f"{kind} {size}: ONNX Runtime differs")
    fns = {"rnnlab": lambda: model(x), "onnxruntime": lambda: run.run(None, {"x": x})}
    if torch is not None:
        module = getattr(torch.nn, bench.TORCH_LAYER[kind])(D, H, batch_first=True)
        tx = torch.from_numpy(x)

        def torch_forward() -> None:
            with torch.inference_mode():
                module(tx)

        fns["torch"] = torch_forward
    times = dict(zip(fns, bench.alternate(fns, repeats), strict=True))
    return {"kind": kind, "T": T, "N": N, "D": D, "H": H, **{f"{k}_ms": 1e3 * v for k, v in times.items()}}


def streams(ort: Any, torch: Any, kind: str, D: int, H: int, repeats: int, tmp: str) -> dict[str, Any]:
    xs = np.random.default_rng(1).standard_normal((STREAM_STEPS, 1, 1, D)).astype(np.float32)
    model = Sequential([layer(kind, H, D, return_sequences=True)])
    run = session(ort, model, f"{tmp}/{kind}_states.onnx", states=True)
    names = [i.name for i in run.get_inputs()[1:]]
    zeros = {n: np.zeros((1, H), np.float32) for n in names}

    step = model.stepper()  # made once: it snapshots and packs the weights (39 ms for an LSTM at H = 512)

    def ours() -> None:
        step.reset()
        for t in range(STREAM_STEPS):
            step.step(xs[t, 0])

    def onnxruntime() -> None:
        feed = dict(zeros)
        for t in range(STREAM_STEPS):
            _, *state = run.run(None, {"x": xs[t], **feed})
            feed = dict(zip(names, state, strict=True))

    fns = {"rnnlab": ours, "onnxruntime": onnxruntime}
    if torch is not None:
        cell = getattr(torch.nn, bench.TORCH_CELL[kind])(D, H)
        txs = torch.from_numpy(xs[:, 0])

        def torch_cells() -> None:
            with torch.inference_mode():
                state = (torch.zeros(1, H), torch.zeros(1, H)) if kind == "lstm" else torch.zeros(1, H)
                for t in range(STREAM_STEPS):
                    state = cell(txs[t], state)

        fns["torch"] = torch_cells
    times = dict(zip(fns, bench.alternate(fns, repeats, per_call=STREAM_STEPS), strict=True))
    return {"kind": kind, "D": D, "H": H, **{f"{k}_us": 1e6 * v for k, v in times.items()}}


def ratio(row: dict[str, Any], peer: str, unit: str) -> str:
    theirs = row.get(f"{peer}_{unit}")
    return "-" if theirs is None else f"{theirs / row[f'rnnlab_{unit}']:.2f}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="the tiny grid, 2 repeats: a smoke test, not the figures")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--cells", nargs="+", default=list(CELLS), choices=list(CELLS))
    opts = p.parse_args(argv)
    try:
        import onnxruntime as ort
    except ImportError:
        sys.exit("onnxruntime is not installed: pip install -e '.[test]' (it pins the build that installs here)")
    torch, why = bench.load_torch()
    if torch is not None:
        torch.set_num_threads(os.cpu_count() or 1)
    sizes = bench.QUICK_GRID if opts.quick else bench.GRID
    repeats = 2 if opts.quick else opts.repeats
    with tempfile.TemporaryDirectory() as tmp:
        rows, stream_rows = [], []
        for kind in opts.cells:
            for size in sizes:
                rows.append(sequences(ort, torch, kind, size, repeats, tmp))
                r = rows[-1]
                print(f"{kind} {size}: rnnlab {r['rnnlab_ms']:.2f} ms, onnxruntime {r['onnxruntime_ms']:.2f} ms, "
                      f"torch {r.get('torch_ms', float('nan')):.2f} ms", flush=True)
            for D, H in STREAM_SIZES[:1] if opts.quick else STREAM_SIZES:
                stream_rows.append(streams(ort, torch, kind, D, H, repeats, tmp))
                r = stream_rows[-1]
                print(f"{kind} stream ({D}, {H}): rnnlab {r['rnnlab_us']:.1f} us, onnxruntime "
                      f"{r['onnxruntime_us']:.1f} us, torch {r.get('torch_us', float('nan')):.1f} us", flush=True)
    table = ["| cell | (T, N, D, H) | rnnlab ms | ONNX Runtime ms | PyTorch ms | ORT / rnnlab | torch / rnnlab |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        torch_ms = "-" if "torch_ms" not in r else f"{r['torch_ms']:.2f}"
        table.append(f"| {r['kind']} | ({r['T']}, {r['N']}, {r['D']}, {r['H']}) | {r['rnnlab_ms']:.2f} | "
                     f"{r['onnxruntime_ms']:.2f} | {torch_ms} | {ratio(r, 'onnxruntime', 'ms')} | "
                     f"{ratio(r, 'torch', 'ms')} |")
    stream_table = ["| cell | (D, H) | rnnlab us/step | ONNX Runtime us/step | PyTorch us/step | ORT / rnnlab | "
                    "torch / rnnlab |", "|---|---|---|---|---|---|---|"]
    for r in stream_rows:
        torch_us = "-" if "torch_us" not in r else f"{r['torch_us']:.1f}"
        stream_table.append(f"| {r['kind']} | ({r['D']}, {r['H']}) | {r['rnnlab_us']:.1f} | "
                            f"{r['onnxruntime_us']:.1f} | {torch_us} | {ratio(r, 'onnxruntime', 'us')} | "
                            f"{ratio(r, 'torch', 'us')} |")
    versions = {name: bench._version(name) for name in ("onnxruntime", "torch", "numba", "mkl")}
    md = ("Inference (no gradient), one recurrent layer, all outputs, float32; medians of "
          f"{repeats} alternating rounds in one process (`rnnlab.bench.alternate`). A ratio above 1: rnnlab is "
          f"faster. Versions: {', '.join(f'{k} {v}' for k, v in versions.items() if v)}."
          + (f" PyTorch: {why}." if why else "") + "\n\n## Whole sequences\n\n" + "\n".join(table)
          + f"\n\n## Streaming, batch 1, {STREAM_STEPS} steps, one call per step\n\n" + "\n".join(stream_table) + "\n")
    if not opts.quick:
        write_results("onnx_speed", {"quick": opts.quick, "repeats": repeats, "versions": versions,
                                     "sequences": rows, "streaming": stream_rows}, md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
