"""One training epoch of the EWT tagger: rnnlab against the same architecture in PyTorch, same batches.

Target (issue): the end-to-end EWT tagger epoch at least as fast as the same architecture in
PyTorch on this machine. Run by hand (not part of the tests)::

    python benchmarks/pos_speed.py                   # the whole training split, median of 3 epochs each
    python benchmarks/pos_speed.py --quick           # smoke run: first 500 sentences, 1 repeat
    python benchmarks/pos_speed.py --sentences 2000 --repeats 5

The rnnlab model is the ``pos`` task's own (``rnnlab.tasks.pos.build_model`` with the task's
defaults, as ``rnnlab train`` builds it): ``FeatureEmbedding`` of 8 id features (word, suffixes 1-4,
prefixes 1-2, shape; tables of 100, 16, 24, 32, 32, 16, 16, 16 concatenated) with word dropout 0.1,
dropout 0.25, two bidirectional LSTMs of 128 units each followed by dropout 0.25, a ``Dense`` over
the 17 tags, softmax cross-entropy averaged over the real words, Adam (lr 2e-3, cosine decay),
global-norm clipping at 5. The PyTorch model is the same: one ``nn.Embedding`` per feature,
concatenated, the same word dropout and dropout, ``nn.LSTM(num_layers=2, bidirectional=True,
batch_first=True, dropout=0.25)`` on ``pack_padded_sequence`` input (so padding is never computed),
dropout, ``nn.Linear``, ``cross_entropy`` over the packed (real) words, ``torch.optim.Adam`` with
the same lr and schedule (``LambdaLR``), ``clip_grad_norm_(5)``. It starts from rnnlab's initial
weights (``rnnlab.interop.torch.to_torch`` for the LSTMs); PyTorch's LSTM has a second bias per
gate (``bias_hh``, set to zero) that rnnlab folds into one: 2,048 more parameters.

Both get the very same batches: the batches of the first epoch of ``rnnlab train`` (bucketed by
length, shuffled by the model's seeded generator, batch size 32), padded once before timing; the
same list, in the same order, is every timed epoch of both. Data loading and padding are not
timed; everything of a training step is (word dropout, embedding, dropout, recurrent layers,
softmax and loss, backward, clipping, the optimizer update, the lr schedule).

The epochs alternate (rnnlab, torch, torch, rnnlab, ...: the order rotates each round), each after
a 0.15 s pause and two untimed steps of the same implementation (so each starts with its threads
awake and the cores free of the other library's spinning threads); medians of ``--repeats``.
PyTorch runs with ``torch.set_num_threads`` equal to the threads rnnlab's BLAS uses (``--threads``
sets both). The Numba kernels' compile (or disk-cache load) time is measured apart by
``rnnlab.backend.warmup`` and is not in the epochs.

Writes ``results/pos_speed.md`` and ``results/pos_speed.json`` (atomically; ``--out DIR`` elsewhere).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from _common import RESULTS, machine, train_args

from rnnlab import backend, bench, threads
from rnnlab.io import atomic_write_text
from rnnlab.layers import Bidirectional
from rnnlab.models.training import Batches, numpy_blas_to_quiet, train_step
from rnnlab.optim.schedules import Schedule
from rnnlab.tasks import pos

WARM_STEPS = 2  # untimed steps before each timed epoch
QUICK_SENTENCES = 500


def blas_threads_in_use() -> int:
    """Threads of the BLAS libraries loaded in this process (what rnnlab's matrix products use)."""
    from threadpoolctl import threadpool_info

    counts = [int(i["num_threads"]) for i in threadpool_info() if i.get("user_api") == "blas"]
    return max(counts) if counts else 1


def rnnlab_setup(sentences: int | None) -> tuple[Any, Any, list[tuple[np.ndarray, np.ndarray, np.ndarray]]]:
    """The task's args, its compiled model and the padded batches of the first epoch of ``fit``."""
    args = train_args(["--task", "pos"])
    data = pos.load(args)
    if sentences is not None:
        x, y = data.train
        data = dataclasses.replace(data, train=(x[:sentences], y[:sentences]))
    model = pos.build_model(args, data)
    rng = np.random.Generator(type(model.rng.bit_generator)())
    rng.bit_generator.state = model.rng.bit_generator.state  # the generator fit draws the first epoch from
    batches_of = Batches(*data.train)
    batches = [batches_of.get(idx) for idx in batches_of.plan(args.batch_size, rng, shuffle=True)]
    return args, model, batches


def torch_tagger(torch: Any, model: Any) -> Any:
    """The PyTorch twin of the rnnlab tagger, starting from its weights (the model must be built)."""
    from rnnlab.interop.torch import TorchStyleRNN, to_torch

    nn = torch.nn
    emb_layer = model.layers[0]
    bidis = [lay for lay in model.layers if isinstance(lay, Bidirectional)]
    dense = model.layers[-1]
    dropout = model.layers[1].rate

    class Tagger(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embeddings = nn.ModuleList(
                nn.Embedding.from_pretrained(torch.from_numpy(emb_layer.params[f"E{f}"].copy()), freeze=False)
                for f in range(len(emb_layer.input_dims))
            )
            self.word_dropout, self.unk_index = emb_layer.word_dropout, emb_layer.unk_index
            self.dropout = nn.Dropout(dropout)
            self.lstm = to_torch(TorchStyleRNN(bidis, batch_first=True))  # nn.LSTM, 2 layers, bidirectional
            self.lstm.dropout = dropout  # between the layers, as rnnlab's Dropout after the first one
            self.out = nn.Linear(dense.params["W"].shape[0], dense.params["W"].shape[1])
            with torch.no_grad():
                self.out.weight.copy_(torch.from_numpy(dense.params["W"].T.copy()))
                self.out.bias.copy_(torch.from_numpy(dense.params["b"]))

        def forward(self, x: Any, lengths: Any) -> Any:
            """Logits ``(sum of lengths, tags)`` of the real words, in packed order."""
            feats = list(x.unbind(-1))
            if self.training and self.word_dropout > 0:
                word = feats[0]
                drop = (torch.rand(word.shape) < self.word_dropout) & (word != 0)
                feats[0] = torch.where(drop, torch.full_like(word, self.unk_index), word)
            e = self.dropout(torch.cat([emb(f) for emb, f in zip(self.embeddings, feats, strict=True)], dim=-1))
            packed = nn.utils.rnn.pack_padded_sequence(e, lengths, batch_first=True, enforce_sorted=False)
            h, _ = self.lstm(packed)
            return self.out(self.dropout(h.data))

    return Tagger()


def lr_factor(optimizer: Any, base: float) -> Callable[[int], float]:
    """rnnlab's learning rate at update ``k`` (its own schedule object), as a factor of ``base`` for ``LambdaLR``."""
    lr = optimizer.lr
    if isinstance(lr, Schedule):
        return lambda k: lr.lr_at(k) / base
    return lambda k: lr / base


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=None, help="timed epochs of each, the median is reported "
                        "(default 3; 1 with --quick)")
    parser.add_argument("--sentences", type=int, default=None, metavar="K",
                        help="use the first K training sentences (default all 12,544)")
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke run: the first {QUICK_SENTENCES} sentences, 1 repeat")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for PyTorch and rnnlab's BLAS (default: the BLAS's own count)")
    parser.add_argument("--backend", choices=backend.BACKENDS, default="auto", help="rnnlab backend (default auto)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="directory for pos_speed.md and pos_speed.json")
    args_cli = parser.parse_args(argv)
    repeats = args_cli.repeats or (1 if args_cli.quick else 3)
    sentences = args_cli.sentences or (QUICK_SENTENCES if args_cli.quick else None)
    if repeats < 1 or (sentences is not None and sentences < 1):
        parser.error("--repeats and --sentences must be positive")
    try:
        import torch
        import torch.nn.functional as functional
    except ImportError as err:
        sys.exit(f"benchmarks/pos_speed.py compares against PyTorch, which is not installed ({err})")

    backend.set_backend(args_cli.backend)
    used_backend = backend.get_backend()
    warmup_s = backend.warmup(np.float32)  # also loads the kernels' BLAS (MKL or SciPy's)
    n_threads = args_cli.threads or blas_threads_in_use()
    torch.set_num_threads(n_threads)
    print(f"rnnlab backend {used_backend}; kernel warmup (compile or cache load, not timed): {warmup_s:.1f} s; "
          f"{n_threads} threads", flush=True)

    start = time.perf_counter()
    args, model, batches = rnnlab_setup(sentences)
    n_sentences = sum(len(xb) for xb, _, _ in batches)
    tokens = int(sum(int(m.sum()) for _, _, m in batches))
    padded = int(sum(m.size for _, _, m in batches))
    print(f"data: {n_sentences} sentences, {tokens} tokens, {len(batches)} batches of {args.batch_size} "
          f"({padded - tokens} padding positions); loaded in {time.perf_counter() - start:.1f} s (not timed)",
          flush=True)

    # Build rnnlab's layers on the first batch (no update), and check both models compute the same loss.
    xb0, yb0, m0 = batches[0]
    out0, _, mask0 = model.forward(xb0, m0, training=False)
    loss_rnnlab0 = float(model.loss(out0, yb0, mask0)[0])
    torch.manual_seed(args.seed)  # word dropout and dropout draw from torch's generator
    tagger = torch_tagger(torch, model)
    tbatches = [(torch.from_numpy(xb), torch.from_numpy(yb.astype(np.int64)), torch.from_numpy(m.sum(1)))
                for xb, yb, m in batches]
    tagger.eval()
    with torch.no_grad():
        x0, y0, l0 = tbatches[0]
        target0 = torch.nn.utils.rnn.pack_padded_sequence(y0, l0, batch_first=True, enforce_sorted=False).data
        loss_torch0 = float(functional.cross_entropy(tagger(x0, l0), target0))
    print(f"initial loss on batch 1 without dropout: rnnlab {loss_rnnlab0:.6f}, torch {loss_torch0:.6f}", flush=True)
    rnnlab_params = model.count_params()
    torch_params = sum(p.numel() for p in tagger.parameters())

    ours = model.optimizer  # Adam with torch's defaults (betas, epsilon), the task's lr schedule and clipnorm
    optimizer = torch.optim.Adam(tagger.parameters(), lr=args.lr, betas=(ours.beta_1, ours.beta_2), eps=ours.epsilon)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor(ours, args.lr))
    clipnorm = ours.clipnorm

    quiet = numpy_blas_to_quiet(model)  # as fit does: looked up once

    def rnnlab_steps(items: list[Any]) -> float:
        total = 0.0
        for xb, yb, mask in items:
            total += train_step(model, xb, yb, mask, quiet)[0]
        return total / len(items)

    def torch_steps(items: list[Any]) -> float:
        tagger.train()
        total = 0.0
        for x, y, lengths in items:
            optimizer.zero_grad(set_to_none=True)
            logits = tagger(x, lengths)
            target = torch.nn.utils.rnn.pack_padded_sequence(y, lengths, batch_first=True, enforce_sorted=False).data
            loss = functional.cross_entropy(logits, target)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(tagger.parameters(), clipnorm)
            optimizer.step()
            scheduler.step()
            total += loss.item()
        return total / len(items)

    runs = {"rnnlab": (rnnlab_steps, batches), "torch": (torch_steps, tbatches)}
    times: dict[str, list[float]] = {name: [] for name in runs}
    losses: dict[str, list[float]] = {name: [] for name in runs}
    others_start = bench.busy_others()
    busy: list[str] = list(others_start)
    names = list(runs)
    with threads.blas_threads(args_cli.threads):
        for r in range(repeats):
            for name in names[r % 2 :] + names[: r % 2]:
                fn, items = runs[name]
                time.sleep(bench.SETTLE)
                fn(items[:WARM_STEPS])
                t0 = time.perf_counter()
                losses[name].append(fn(items))
                times[name].append(time.perf_counter() - t0)
                busy = sorted(set(busy + bench.busy_others()))
                print(f"epoch {r + 1}/{repeats} {name:6}: {times[name][-1]:8.2f} s, {tokens / times[name][-1]:8.0f} "
                      f"tokens/s, mean batch loss {losses[name][-1]:.4f}", flush=True)

    t_ours, t_theirs = statistics.median(times["rnnlab"]), statistics.median(times["torch"])
    ratio = t_theirs / t_ours
    result = {
        "target": "rnnlab epoch at least as fast as the same architecture in PyTorch (torch / rnnlab >= 1)",
        "verdict": "not judged (smoke run)" if args_cli.quick else "met" if ratio >= 1.0 else "not met",
        "quick": bool(args_cli.quick),
        "backend": used_backend,
        "threads": n_threads,
        "torch": torch.__version__,
        "warmup_s": warmup_s,
        "sentences": n_sentences,
        "tokens": tokens,
        "padded_positions": padded,
        "batches": len(batches),
        "batch_size": args.batch_size,
        "repeats": repeats,
        "parameters": {"rnnlab": rnnlab_params, "torch": torch_params},
        "initial_loss": {"rnnlab": loss_rnnlab0, "torch": loss_torch0},
        "epoch_seconds": times,
        "mean_batch_loss": losses,
        "median_seconds": {"rnnlab": t_ours, "torch": t_theirs},
        "tokens_per_second": {"rnnlab": tokens / t_ours, "torch": tokens / t_theirs},
        "torch_over_rnnlab": ratio,
        "busy_others_start": others_start,
        "busy_others": busy,
    }
    write(result, args_cli.out, argv)
    return result


def markdown(r: dict[str, Any]) -> str:
    ours, theirs = r["median_seconds"]["rnnlab"], r["median_seconds"]["torch"]
    tps = r["tokens_per_second"]
    lines = [
        f"One training epoch of the EWT tagger ({r['sentences']:,} sentences, {r['tokens']:,} tokens, "
        f"{r['batches']} batches of {r['batch_size']}), the same batches in the same order for both, float32, "
        f"{r['threads']} threads each; median of {r['repeats']} alternating epochs. Data loading and padding "
        "are not timed.",
        "",
        "| implementation | seconds / epoch | tokens / s | parameters |",
        "|---|---:|---:|---:|",
        f"| rnnlab ({r['backend']}) | {ours:.2f} | {tps['rnnlab']:,.0f} | {r['parameters']['rnnlab']:,} |",
        f"| PyTorch {r['torch']} | {theirs:.2f} | {tps['torch']:,.0f} | {r['parameters']['torch']:,} |",
        "",
        f"torch / rnnlab: **{r['torch_over_rnnlab']:.2f}** (above 1: rnnlab is faster). Target (rnnlab at least "
        f"as fast as PyTorch): **{r['verdict']}**.",
        "",
        f"Kernel warmup (compile, or load from the disk cache), not in the epochs: {r['warmup_s']:.1f} s. "
        f"Initial loss on the first batch without dropout: rnnlab {r['initial_loss']['rnnlab']:.6f}, "
        f"PyTorch {r['initial_loss']['torch']:.6f} (same weights, same architecture).",
    ]
    if r["quick"]:
        lines += ["", "**Smoke run (--quick)**: a subset and one repeat; not a measurement."]
    if r["busy_others"]:
        lines += ["", f"Other processes were busy during the run (timings are noisier): {', '.join(r['busy_others'])}."]
    return "\n".join(lines) + "\n"


def write(result: dict[str, Any], out: Path, argv: list[str] | None) -> None:
    """``out/pos_speed.json`` and ``out/pos_speed.md`` (atomically), with the date, machine and command."""
    out.mkdir(parents=True, exist_ok=True)
    meta = {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "machine": machine(),
            "command": "python " + " ".join(shlex.quote(a) for a in ["benchmarks/pos_speed.py",
                                                                        *(sys.argv[1:] if argv is None else argv)])}
    atomic_write_text(out / "pos_speed.json", json.dumps({**meta, **result}, indent=2) + "\n")
    m = meta["machine"]
    head = (f"# pos_speed\n\n- date: {meta['date']}\n- machine: {m['platform']}, {m['cpu_count']} CPUs "
            f"({m['processor']}), Python {m['python']}, NumPy {m['numpy']}\n- command: `{meta['command']}`\n\n")
    text = head + markdown(result)
    atomic_write_text(out / "pos_speed.md", text)
    print("\n" + markdown(result) + f"\nwrote {out / 'pos_speed.md'} and {out / 'pos_speed.json'}")


if __name__ == "__main__":
    main()
