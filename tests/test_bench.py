"""``rnnlab.bench``: the FLOP count, size parsing, the alternating timer, result tables and files."""

import importlib.util
import itertools
import json
import time
from pathlib import Path

import pytest

from rnnlab import backend, bench

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
TINY = dict(sizes=((6, 3, 2, 4),), repeats=1, gemm_n=32, stream_steps=5, settle=0.0, warm=0.0)


def _without_numba(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(backend, "_found", {})  # forget what was found before the patch; restored after
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "numba" else real(name, *a))


def test_training_flops_of_a_known_size():
    # LSTM, T=100, N=32, D=32, H=64: G=4 gates, six products of T*N rows by G*H columns,
    # three with D inner size (X W, dX, dW) and three with H (H W_R, dH, dW_R), 2 flops per multiply-add:
    # 2 * 100 * 32 * 256 * (3*32 + 3*64) = 2 * 819200 * 288 = 471,859,200
    assert bench.training_flops("lstm", 100, 32, 32, 64) == 471_859_200
    # RNN, one gate: 2 * 50 * 128 * 512 * (3*512 + 3*512) = 20,132,659,200
    assert bench.training_flops("rnn", 50, 128, 512, 512) == 20_132_659_200
    assert bench.training_flops("gru", 1, 1, 1, 1) == 2 * 3 * 6
    with pytest.raises(ValueError, match="unknown cell kind 'transformer'"):
        bench.training_flops("transformer", 1, 1, 1, 1)


def test_parse_size():
    assert bench.parse_size("100,32,32,64") == (100, 32, 32, 64)
    assert bench.parse_size(" 5, 1,2 ,3") == (5, 1, 2, 3)
    for bad in ("100,32,32", "1,2,3,4,5", "a,b,c,d", "1,2,0,4", "1,-2,3,4", ""):
        with pytest.raises(ValueError, match=r"expected T,N,D,H: four positive integers .*e\.g\. 100,32,32,64"):
            bench.parse_size(bad)
    assert bench.sizes_text([(1, 2, 3, 4), (5, 6, 7, 8)]) == "1,2,3,4 5,6,7,8"


def test_alternate_rotates_the_order_and_returns_one_median_per_function():
    calls = []
    fns = {name: (lambda name=name: calls.append(name)) for name in ("a", "b", "c")}
    times = bench.alternate(fns, repeats=3, settle=0.0, warm=0.0)
    assert len(times) == 3 and all(t >= 0 for t in times)
    # each round runs every function twice (untimed, timed), starting one further along
    assert "".join(calls) == "aabbcc" + "bbccaa" + "ccaabb"


def test_alternate_warms_each_function_up_for_the_time_asked():
    calls = []
    fns = {name: (lambda name=name: (calls.append((name, time.perf_counter())), time.sleep(0.002)))
           for name in ("a", "b")}
    bench.alternate(fns, repeats=1, settle=0.0, warm=0.02)
    runs = [[t for _, t in g] for _, g in itertools.groupby(calls, key=lambda c: c[0])]
    assert len(runs) == 2 and all(len(starts) >= 3 for starts in runs), runs  # untimed calls, then the timed one
    # the timed (last) call starts 20 ms or more after the first untimed one, however long a sleep takes
    assert all(starts[-1] - starts[0] >= 0.0195 for starts in runs), runs


@pytest.mark.parametrize("name", ["speed", "speed_openblas"])
def test_markdown_reproduces_the_committed_results_file(name):
    result = json.loads((RESULTS / f"{name}.json").read_text())
    assert bench.markdown(result) == (RESULTS / f"{name}.md").read_text()


def test_torch_is_optional(monkeypatch):
    assert bench.load_torch(False) == (None, "--no-torch was given")
    monkeypatch.setitem(__import__("sys").modules, "torch", None)  # `import torch` now raises ImportError
    torch, why = bench.load_torch(True)
    assert torch is None and "PyTorch is not installed" in why


def test_run_without_torch_or_numba_fills_dashes(monkeypatch, tmp_path):
    _without_numba(monkeypatch)
    lines = []
    result = bench.run(bench.BenchConfig(kinds=("rnn",), use_torch=False, **TINY), log=lines.append)
    assert backend.get_backend() == "numpy"
    assert result["warmup_s"] == {} and result["machine"]["torch"] is None and result["machine"]["numba"] is None
    assert any("torch columns are '-': --no-torch was given" in line for line in lines)
    assert any("numba columns are '-': Numba (with SciPy) is not installed" in line for line in lines)
    (row,) = result["training"]
    assert row["numpy_ms"] > 0
    for key in ("numba_ms", "torch_ms", "torch_over_numba", "gflops", "peak_fraction"):
        assert row[key] is None, key
    (stream,) = result["streaming"]
    assert stream["rnnlab_us"] is stream["torch_us"] is stream["torch_over_rnnlab"] is None

    md, js = bench.write_results(result, tmp_path / "out" / "speed.md")
    assert js == tmp_path / "out" / "speed.json"
    assert json.loads(js.read_text()) == json.loads(json.dumps(result))
    text = md.read_text()
    assert "| rnn" in text and "| - | - | - | - | - |" in text and "No kernel warmup (numba not installed)." in text
    assert "Torch columns are '-': --no-torch was given." in text
    with pytest.raises(ValueError, match="not .*speed.json; the JSON is written beside it"):
        bench.write_results(result, tmp_path / "speed.json")


def test_run_measures_numba(tmp_path):
    lines = []
    result = bench.run(bench.BenchConfig(kinds=("lstm",), use_torch=False, **TINY), log=lines.append)
    (row,) = result["training"]
    assert row["numba_ms"] > 0 and row["gflops"] > 0 and row["peak_fraction"] > 0
    assert set(result["warmup_s"]) == {"float32"}
    assert result["streaming"][0]["rnnlab_us"] > 0
    table = bench.console_tables(result).splitlines()
    assert table[0].split() == ["cell", "T", "N", "D", "H", "numpy", "ms", "numba", "ms", "torch", "ms",
                                "torch/numba", "GFLOP/s", "%", "peak"]
    assert table[1].split()[:5] == ["lstm", "6", "3", "2", "4"] and table[1].split()[7:9] == ["-", "-"]


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="repeats must be >= 1"):
        bench.run(bench.BenchConfig(repeats=0))
    with pytest.raises(ValueError, match="dtype must be float32 or float64"):
        bench.run(bench.BenchConfig(dtype="float16"))
    with pytest.raises(ValueError, match="unknown cell kind 'tcn'"):
        bench.run(bench.BenchConfig(kinds=("tcn",)))


def test_importing_bench_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, rnnlab.bench, rnnlab.cli.main; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_busy_others_leaves_out_this_process_and_its_children(monkeypatch):
    import os
    import subprocess

    me = os.getpid()
    table = (f"  PID  PPID %CPU COMMAND\n{me} 1 180.0 python\n99999 {me} 100.0 ps\n"
             f"4242 1 55.5 python3 other.py\n4343 1 3.0 sshd\n")

    def fake_run(*args, **kwargs):
        return subprocess.CompletedProcess(args, 0, stdout=table, stderr="")

    monkeypatch.setattr(bench.subprocess, "run", fake_run)
    assert bench.busy_others() == ["python3 other.py (55.5%)"]
