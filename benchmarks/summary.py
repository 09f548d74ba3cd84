"""Collect ``results/*.json`` into ``results/summary.md``: the issue's table, as measured.

    python benchmarks/summary.py

Every figure comes from the JSON files the benchmark scripts wrote; nothing is typed in by hand.
"""

from __future__ import annotations

import json
import sys

from _common import RESULTS
from music import cell_name  # the row name of a JSB run: lstm, gru, gru-torch, rnn

from rnnlab.io import atomic_write_text


def _load(name: str) -> dict | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _verdict(ok: bool) -> str:
    return "reached" if ok else "**not reached**"


def main() -> int:
    rows = ["| task | target | measured | verdict | command | run on |", "|---|---|---|---|---|---|"]
    p = _load("pos")
    if p:
        for r in p["runs"]:
            acc, minutes = 100 * r["report"]["test_accuracy"], r["seconds"] / 60
            rows.append(f"| EWT UPOS tagging, bi{r['config']['cell']} | test accuracy >= 95.0 %, <= 20 min | "
                        f"{acc:.2f} % in {minutes:.1f} min | {_verdict(acc >= 95.0 and minutes <= 20)} | "
                        f"`{p['command']}` | {p['date']} |")
    v = _load("vowels")
    if v:
        for cell in ("lstm", "gru", "rnn"):
            accs = [r["report"]["test_accuracy"] for r in v["runs"] if r["config"]["cell"] == cell]
            if accs:
                mean = sum(accs) / len(accs)
                rows.append(f"| Japanese Vowels, {cell} | test accuracy >= 98.5 % | {100 * mean:.2f} % (mean of "
                            f"{len(accs)} seeds; best {100 * max(accs):.2f} %) | {_verdict(mean >= v['target'])} | "
                            f"`{v['command']}` | {v['date']} |")
    m = _load("music")
    if m:
        for cell in dict.fromkeys(cell_name(r["config"]) for r in m["runs"]):
            cell_runs = [r for r in m["runs"] if cell_name(r["config"]) == cell]
            nlls = [r["report"]["test_nll_per_step"] for r in cell_runs]
            nll = sum(nlls) / len(nlls)
            spread = f" (mean of {len(nlls)} seeds; {min(nlls):.3f} to {max(nlls):.3f})" if len(nlls) > 1 else ""
            target = "reported beside" if cell == "rnn" else "NLL/step <= 8.45"
            verdict = f"(paper {m['paper'][cell]})" if cell == "rnn" else _verdict(nll <= m["target"])
            label = {"gru": "gru (notes' form)", "gru-torch": "gru (PyTorch's form, as in Bai et al.)"}.get(cell, cell)
            commands = ", ".join(f"`{c}`" for c in dict.fromkeys(r.get("command", m["command"]) for r in cell_runs))
            dates = ", ".join(dict.fromkeys(r.get("date", m["date"]) for r in cell_runs))
            rows.append(f"| JSB Chorales, {label} {cell_runs[0]['config']['units']} units | {target} | {nll:.3f}"
                        f"{spread} | {verdict} | {commands} | {dates} |")
    c = _load("chars")
    if c:
        r = c["runs"][0]
        rep = r["report"]
        rows.append(f"| tinyshakespeare, {r['config']['cell']} {r['config']['units']} units | validation <= 1.50 "
                    f"nats/char | {rep['valid_loss_stream']:.3f} (carried state; {rep['valid_loss']:.3f} in "
                    f"{r['config']['length']}-char windows) after {r['epochs']} epochs, {r['seconds']:.0f} s | "
                    f"{_verdict(rep['valid_loss_stream'] <= c['target'])} | `{c['command']}` | {c['date']} |")
    lr = _load("long_range")
    if lr:
        for r in lr["runs"]:
            cfg, rep = r["config"], r["report"]
            if cfg["task"] == "adding" and cfg["length"] != 1000:
                continue  # shorter runs (short time caps, no chrono init) are in results/long_range.md
            if cfg["task"] == "adding":
                target = "T = 1000: >= 99 % solved" if cfg["length"] == 1000 else "(T = 1000 is the target)"
                ok = rep["test_solved_fraction"] >= 0.99
                verdict = _verdict(ok) if cfg["length"] == 1000 else ("solved" if ok else "not solved")
                if cfg["length"] == 1000 and cfg["cell"] == "rnn":
                    target = "T = 1000: tanh RNN shown failing"
                    verdict = "fails, as expected" if not ok else "**solved (unexpected)**"
                rows.append(f"| adding T = {cfg['length']}, {cfg['cell']} | {target} | "
                            f"{100 * rep['test_solved_fraction']:.2f} % solved, MSE {rep['test_mse']:.4f}, "
                            f"{r['seconds']:.0f} s | {verdict} | `{r.get('command', lr['command'])}` | "
                            f"{r.get('date', lr['date'])} |")
            else:
                rows.append(f"| copy T = {cfg['length']}, {cfg['cell']} | (no target) | loss {rep['test_loss']:.4f} "
                            f"vs baseline {rep['baseline_loss']:.4f}; recall accuracy "
                            f"{100 * rep['test_recall_accuracy']:.1f} % | - | `{r.get('command', lr['command'])}` | "
                            f"{r.get('date', lr['date'])} |")
        if not any(r["config"]["task"] == "adding" and r["config"]["length"] == 1000 for r in lr["runs"]):
            rows.append("| adding T = 1000, lstm/gru/rnn | >= 99 % solved (LSTM, GRU) | not measured "
                        "(no run at T = 1000 in results/long_range.json) | **not reached** | "
                        "`python benchmarks/long_range.py "
                        "--adding-lengths 1000` | - |")
    machine = next((d["machine"] for d in (v, m, c, lr) if d), None)
    head = "# Benchmarks, as measured\n\n"
    if machine:
        head += (f"Machine: {machine['platform']}, {machine['cpu_count']} CPUs, Python {machine['python']}, "
                 f"NumPy {machine['numpy']}. Each row gives its run's date and command (wall-clock caps "
                 "included); how the runs shared the machine is told in the README's results section.\n\n")
    atomic_write_text(RESULTS / "summary.md", head + "\n".join(rows) + "\n")
    print(head + "\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
