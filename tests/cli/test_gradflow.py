"""``rnnlab gradflow`` at a tiny size: its plots, report.md, report.json and the JSON line."""

import json

import pytest

from rnnlab.cli.main import main

PNG = b"\x89PNG\r\n\x1a\n"
TINY = ["--lengths", "9", "--units", "3", "--epochs", "1", "--train-size", "16", "--val-size", "8",
        "--batch-size", "8", "--probe", "4", "--init-length", "12", "--explode-length", "6",
        "--explode-steps", "3", "--chain-depth", "4"]


def test_writes_plots_reports_and_a_json_line(tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["gradflow", "--out", str(out), *TINY, "--json"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    result = json.loads(lines[-1])
    assert any(line.startswith("[init] T=12") for line in lines)
    assert result["init"]["T"] == 12
    assert set(result["init"]["ratio"]) == {"rnn", "lstm", "gru"}
    assert set(result["init"]["ratio_open_gates"]) == {"lstm", "gru"}
    assert set(result["training"]["lstm"]) == {"9"}
    assert isinstance(result["training"]["gru"]["9"]["learned"], bool)
    assert isinstance(result["clipping"]["clipped_finite"], bool)
    report = json.loads((out / "report.json").read_text())
    for name in report["files"]:
        path = out / name
        assert path.exists(), f"{name} was not written"
        if name.endswith(".png"):
            data = path.read_bytes()
            assert data[:8] == PNG and len(data) > 1000, f"{name} is not a PNG"
    expected = {"chain.png", "flow_init_T12.png", "gates_init_T12.png", "gates_open_T12.png", "flow_explode.png",
                "clipping.png", "grad_norms_clipped.png", "flow_T9.png", "gates_T9.png", "grad_norms_rnn_T9.png",
                "grad_norms_lstm_T9.png", "grad_norms_gru_T9.png", "metrics.png", "report.md", "report.json"}
    assert expected <= set(report["files"])
    md = (out / "report.md").read_text()
    assert "## 2. BPTT at initialisation: T = 12" in md and "| RNN (tanh) |" in md
    assert len(report["init"]["norms"]["rnn"]) == 12


def test_bad_flags_are_refused(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["gradflow", "--out", str(tmp_path), "--lengths", "1"])
    assert "sequence length must be >= 2" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["gradflow", "--out", str(tmp_path), "--units", "0"])
    with pytest.raises(SystemExit):
        main(["gradflow"])  # --out is required
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["gradflow", "--out", str(blocker), *TINY]) == 1
    assert "not a directory" in capsys.readouterr().err


def test_every_flag_has_help(capsys):
    with pytest.raises(SystemExit):
        main(["gradflow", "--help"])
    text = capsys.readouterr().out
    for flag in ("--out", "--lengths", "--units", "--epochs", "--train-init", "--gate-bias", "--explode-gain",
                 "--clipnorm", "--json", "--quiet", "--seed", "--probe", "--chain-depth"):
        assert flag in text
