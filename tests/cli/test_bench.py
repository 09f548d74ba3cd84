"""``rnnlab bench``: the tables it prints, the files it writes, missing PyTorch, bad flags."""

import json
import sys

import pytest

from rnnlab.cli.main import main

TINY = ["bench", "--quick", "--repeats", "1", "--sizes", "10,4,3,5"]


def _rows(out, first_word):
    return [line.split() for line in out.splitlines() if line.split()[:1] == [first_word]]


def test_quick_run_prints_both_tables_and_writes_md_and_json(tmp_path, capsys):
    out = tmp_path / "res" / "speed.md"
    assert main([*TINY, "--cells", "rnn", "lstm", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "kernel warmup (compile or cache load, not in the timings):" in printed
    header = next(line for line in printed.splitlines() if line.startswith("cell      T"))
    assert header.split()[5:] == ["numpy", "ms", "numba", "ms", "torch", "ms", "torch/numba", "GFLOP/s", "%", "peak"]
    assert "rnnlab step us" in printed and "torch cell us" in printed
    rnn, lstm = _rows(printed, "rnn"), _rows(printed, "lstm")
    assert len(rnn) == len(lstm) == 2  # one training row and one streaming row each
    assert rnn[0][:5] == ["rnn", "10", "4", "3", "5"]
    assert all(float(v) > 0 for v in rnn[0][5:9])  # numpy, numba, torch ms, torch/numba
    assert float(rnn[0][9]) >= 0 and rnn[0][10].endswith("%")  # GFLOP/s (rounds to 0 at this size), % peak
    result = json.loads(out.with_suffix(".json").read_text())
    assert [(r["kind"], r["T"], r["N"], r["D"], r["H"]) for r in result["training"]] == [
        ("rnn", 10, 4, 3, 5), ("lstm", 10, 4, 3, 5)]
    assert [(s["kind"], s["D"], s["H"]) for s in result["streaming"]] == [("rnn", 3, 5), ("lstm", 3, 5)]
    assert result["training"][0]["torch_ms"] > 0 and result["machine"]["torch"]
    md = out.read_text()
    assert md.startswith("# rnnlab speed (float32)")
    assert "| cell | T | N | D | H | numpy ms | numba ms | torch ms | torch / numba | numba GFLOP/s | % of peak |" in md
    assert "| cell | D | H | rnnlab step us | torch cell us | torch / rnnlab |" in md
    assert f"wrote {out} and {out.with_suffix('.json')}" in printed


def test_no_torch_gives_dash_columns(capsys):
    assert main([*TINY, "--cells", "gru", "--no-torch"]) == 0
    printed = capsys.readouterr().out
    assert "torch columns are '-': --no-torch was given." in printed
    training, stream = _rows(printed, "gru")
    assert training[7:9] == ["-", "-"]  # torch ms, torch/numba
    assert float(training[6]) > 0  # numba ms
    assert stream[4:6] == ["-", "-"]


def test_without_torch_installed_the_columns_say_why(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` fail, as if not installed
    assert main([*TINY, "--cells", "rnn"]) == 0
    printed = capsys.readouterr().out
    assert "torch columns are '-': PyTorch is not installed" in printed
    assert _rows(printed, "rnn")[0][7:9] == ["-", "-"]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--sizes", "100,32,32"], "argument --sizes: expected T,N,D,H: four positive integers separated by commas "
                                   "(e.g. 100,32,32,64), got '100,32,32'"),
        (["--sizes", "100,32,x,64"], "argument --sizes: expected T,N,D,H"),
        (["--cells", "tcn"], "argument --cells: invalid choice: 'tcn'"),
        (["--repeats", "0"], "argument --repeats: expected a positive integer, got '0'"),
        (["--out", "speed.json"], "argument --out: expected the Markdown file"),
    ],
)
def test_bad_flags_are_argparse_errors(flags, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["bench", *flags])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_json_prints_the_raw_numbers_last(capsys):
    import json

    assert main([*TINY, "--cells", "rnn", "--no-torch", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    (row,) = result["training"]
    assert row["kind"] == "rnn" and row["numba_ms"] > 0 and row["torch_ms"] is None
    assert {r["kind"] for r in result["streaming"]} == {"rnn"}
