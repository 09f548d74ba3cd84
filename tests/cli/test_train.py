"""``rnnlab train / evaluate / predict``: files written, JSON line, kill -9 and --resume, bad input, --bptt."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import rnnlab
from rnnlab.cli.main import main
from rnnlab.io import load_checkpoint
from rnnlab.models import training

SMALL = ["--task", "adding", "--length", "12", "--train-size", "128", "--test-size", "64", "--epochs", "2",
         "--units", "8", "--batch-size", "32", "--quiet"]


def test_train_evaluate_predict(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", *SMALL, "--out", str(out), "--json"]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    metrics = json.loads(printed[-1])
    assert metrics["task"] == "adding" and metrics["epochs"] == 2 and 0 <= metrics["test_solved_fraction"] <= 1
    files = ("model.rnnlab", "checkpoint.rnnlab", "history.csv", "learning_curve.png", "gradient_norms.png",
             "metrics.json")
    for name in files:
        assert (out / name).stat().st_size > 0, name
    assert printed[-2] == f"saved in {out}: {', '.join(files)}"  # every file written, named
    assert (out / "learning_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "history.csv").read_text().splitlines()[0].startswith("epoch,loss,within_tolerance")
    assert main(["evaluate", str(out / "model.rnnlab"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["within_tolerance"] == pytest.approx(metrics["test_solved_fraction"])
    for key in ("test_mse", "test_solved_fraction"):  # the task's report, under train's names
        assert result[key] == pytest.approx(metrics[key], rel=1e-6), key
    assert main(["predict", str(out / "model.rnnlab"), "--examples", "2"]) == 0
    assert "target" in capsys.readouterr().out


def test_train_prepares_only_the_kernels_of_its_cell(tmp_path, monkeypatch, capsys):
    from rnnlab import backend

    calls = []
    monkeypatch.setattr(backend, "warmup", lambda *a, **k: calls.append((a, k)) or 0.5)
    monkeypatch.setattr(backend, "get_backend", lambda: "numba")
    assert main(["train", *[a for a in SMALL if a != "--quiet"], "--cell", "gru", "--epochs", "1",
                 "--out", str(tmp_path / "run")]) == 0
    assert calls == [(("float32", ("gru",)), {"streaming": False})]
    assert "kernels ready in 0.5 s" in capsys.readouterr().err


def run_cli(*args, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "rnnlab.cli.main", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, **kwargs)


@pytest.mark.slow
def test_kill_9_then_resume_gives_the_weights_of_an_uninterrupted_run(tmp_path):
    args = ["train", "--task", "adding", "--length", "100", "--train-size", "4000", "--test-size", "64",
            "--epochs", "3", "--units", "48", "--checkpoint-every", "5", "--dropout", "0.1", "--quiet"]
    whole = run_cli(*args, "--out", str(tmp_path / "whole"))
    assert whole.wait(timeout=300) == 0, whole.stderr.read().decode()

    out = tmp_path / "killed"
    proc = run_cli(*args, "--out", str(out))
    deadline = time.time() + 120
    while not (out / "checkpoint.rnnlab").exists() and time.time() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)  # let it get well past the first checkpoint
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=60) == -signal.SIGKILL, "the run finished before it could be killed"
    assert not (out / "model.rnnlab").exists()
    # a kill during a write may leave that write's temporary file; the checkpoint itself is whole
    assert all(p.startswith(".checkpoint.rnnlab.") for p in os.listdir(out) if p.endswith(".tmp"))
    load_checkpoint(out / "checkpoint.rnnlab")

    resumed = run_cli(*args, "--out", str(out), "--resume")
    assert resumed.wait(timeout=300) == 0, resumed.stderr.read().decode()
    assert not [p for p in os.listdir(out) if p.endswith(".tmp")], "the resumed run left temporary files"
    a, b = rnnlab.load_model(tmp_path / "whole" / "model.rnnlab"), rnnlab.load_model(out / "model.rnnlab")
    for k, v in a.params.items():
        np.testing.assert_array_equal(b.params[k], v, err_msg=k)


class CrashError(Exception):
    """Stands for a kill in the middle of a run."""


def test_resume_mid_epoch_with_bptt_gives_the_weights_of_an_uninterrupted_run(tmp_path, monkeypatch):
    """Stateful chars training: the checkpoint carries the streams' state; a resumed run continues them."""
    text = tmp_path / "text.txt"
    text.write_text("".join(f"{w} the quick brown fox jumps over the lazy dog.\n" for w in ("A:", "BB:") * 10),
                    encoding="utf-8")
    # 4 streams of 218 characters, windows of 10: 22 updates per epoch; checkpoints every 4 updates
    args = ["train", "--task", "chars", "--data", str(text), "--bptt", "10", "--batch-size", "4", "--units", "8",
            "--length", "16", "--epochs", "2", "--checkpoint-every", "4", "--dropout", "0.1", "--quiet"]
    assert main([*args, "--out", str(tmp_path / "whole")]) == 0

    real_step, calls = training.train_step, []

    def crash_at_update_31(*a):
        calls.append(1)
        if len(calls) == 31:  # epoch 2, window 9: the last checkpoint is after window 8, the state mid-stream
            raise CrashError
        return real_step(*a)

    out = tmp_path / "killed"
    monkeypatch.setattr(training, "train_step", crash_at_update_31)
    with pytest.raises(CrashError):
        main([*args, "--out", str(out)])
    monkeypatch.setattr(training, "train_step", real_step)
    assert not (out / "model.rnnlab").exists()
    ckpt = load_checkpoint(out / "checkpoint.rnnlab")
    assert (ckpt.training_state["epoch"], ckpt.training_state["step_in_epoch"]) == (1, 8)
    assert np.abs(ckpt.optimizer_state["carried/0/0"]).max() > 0  # the streams' state h, mid-epoch
    assert main([*args, "--out", str(out), "--resume"]) == 0
    a, b = rnnlab.load_model(tmp_path / "whole" / "model.rnnlab"), rnnlab.load_model(out / "model.rnnlab")
    for k, v in a.params.items():
        np.testing.assert_array_equal(b.params[k], v, err_msg=k)


def test_bptt_is_refused_by_a_task_without_stateful_training(tmp_path, capsys):
    for value in ("5", "0"):
        assert main(["train", *SMALL, "--bptt", value, "--out", str(tmp_path / "run")]) == 1
        err = capsys.readouterr().err
        assert "--bptt: the adding task does not train with stateful truncated BPTT" in err
    assert not (tmp_path / "run").exists()


def test_bad_input_gives_a_clear_error_and_nonzero_exit(tmp_path, capsys):
    bad = tmp_path / "bad.rnnlab"
    bad.write_bytes(b"\x80\x04\x95 this is a pickle, not a model")
    assert main(["evaluate", str(bad)]) == 1
    assert "bad.rnnlab" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "missing.rnnlab")]) == 1
    assert "missing.rnnlab" in capsys.readouterr().err
    out = tmp_path / "run"
    assert main(["train", *SMALL, "--out", str(out)]) == 0
    capsys.readouterr()
    objects = tmp_path / "objects.npy"
    np.save(objects, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    assert main(["predict", str(out / "model.rnnlab"), "--input", str(objects)]) == 1
    assert "not a plain NumPy array file" in capsys.readouterr().err
    assert main(["train", *SMALL, "--units", "0", "--out", str(tmp_path / "r2")]) == 1
    assert "units must be a positive integer, got 0" in capsys.readouterr().err


def test_every_command_has_help(capsys):
    for command in ("train", "evaluate", "predict", "gradcheck"):
        with pytest.raises(SystemExit) as exit_info:
            main([command, "--help"])
        assert exit_info.value.code == 0
        assert "--json" in capsys.readouterr().out


def test_chrono_init_reaches_the_gate_biases_and_is_refused_for_the_rnn(tmp_path, capsys):
    out = tmp_path / "chrono"
    assert main(["train", *SMALL, "--cell", "lstm", "--units", "16", "--chrono-init", "500", "--epochs", "1",
                 "--out", str(out)]) == 0
    layer = rnnlab.load_model(out / "model.rnnlab").layers[0]
    assert layer.chrono_init == 500
    b_f = layer.params["b"][16:32]
    assert b_f.std() > 0.3 and b_f.max() > np.log(50), "the forget biases should spread over log(1..499)"
    capsys.readouterr()
    assert main(["train", *SMALL, "--cell", "rnn", "--chrono-init", "500", "--out", str(tmp_path / "r")]) != 0
    assert "Elman RNN (--cell rnn) has no gates" in capsys.readouterr().err


@pytest.mark.parametrize("task", ["adding", "copy"])
def test_cosine_schedule_works_for_every_synthetic_task(task, tmp_path):
    out = tmp_path / task
    assert main(["train", "--task", task, *SMALL[2:], "--lr-schedule", "cosine", "--lr", "1e-3",
                 "--out", str(out)]) == 0
    header, *rows = (out / "history.csv").read_text().splitlines()
    lr = [float(r.split(",")[header.split(",").index("lr")]) for r in rows]
    assert len(lr) == 2 and lr[0] > lr[1] and lr[1] == pytest.approx(2e-5), lr  # decays to 2 % of --lr


def test_reset_after_builds_pytorchs_gru_and_is_refused_for_other_cells(tmp_path, capsys):
    out = tmp_path / "ra"
    assert main(["train", *SMALL, "--cell", "gru", "--reset-after", "--epochs", "1", "--out", str(out)]) == 0
    layer = rnnlab.load_model(out / "model.rnnlab").layers[0]
    assert layer.reset_after and "b_R" in layer.params
    assert main(["train", *SMALL, "--cell", "gru", "--epochs", "1", "--out", str(tmp_path / "notes")]) == 0
    assert not rnnlab.load_model(tmp_path / "notes" / "model.rnnlab").layers[0].reset_after
    capsys.readouterr()
    assert main(["train", *SMALL, "--cell", "lstm", "--reset-after", "--out", str(tmp_path / "x")]) != 0
    assert "--reset-after chooses between the two forms of the GRU" in capsys.readouterr().err
