"""Every plot writes a real PNG (signature and content), and refuses empty input with a clear error."""

import numpy as np
import pytest

from rnnlab import plots
from rnnlab.diagnostics import chain_sweep, gate_statistics
from rnnlab.layers import GRU
from rnnlab.models.training import History

PNG = b"\x89PNG\r\n\x1a\n"


def assert_png(path):
    data = path.read_bytes()
    assert data[:8] == PNG, f"{path.name} is not a PNG"
    assert len(data) > 5000, f"{path.name} is suspiciously small ({len(data)} bytes)"


def monitored_history(steps=20, diverge_at=None):
    h = History()
    rng = np.random.default_rng(0)
    for i in range(steps):
        bad = diverge_at is not None and i >= diverge_at
        norms = {f"grad_norm/{k}": float("nan") if bad else rng.random() + 0.5 for k in ("rnn/W", "rnn/W_R")}
        h.log_step({"loss": float("nan") if bad else 1.0 / (i + 1), "grad_norm": float("nan") if bad else 2.0 + i,
                    "clipped_norm": float("nan") if bad else 1.0, **norms,
                    **{k.replace("grad_norm", "clipped_norm"): v / 2 for k, v in norms.items()}})
        if bad:
            break
    h.log_epoch(1, {"loss": 0.5, "within_tolerance": 0.2})
    return h


def test_gradient_flow_single_and_panels_with_zeros_and_styles(tmp_path):
    t = np.arange(1, 51)
    curves = {"rnn": 0.8**t, "lstm": (np.r_[np.zeros(5), 0.99 ** t[5:]], {"color": "C1", "linestyle": "--"})}
    plots.plot_gradient_flow(curves, tmp_path / "one.png")
    plots.plot_gradient_flow({"at init": curves, "trained": {"gru": 0.95**t}}, tmp_path / "two.png", title="x")
    assert_png(tmp_path / "one.png")
    assert_png(tmp_path / "two.png")
    with pytest.raises(ValueError, match="at least one curve"):
        plots.plot_gradient_flow({}, tmp_path / "none.png")


def test_gate_statistics(tmp_path):
    layer = GRU(3, input_dim=2, seed=0)
    stats = gate_statistics(layer, np.random.default_rng(0).normal(size=(4, 10, 2)))
    plots.plot_gate_statistics(stats, tmp_path / "gates.png")
    assert_png(tmp_path / "gates.png")
    with pytest.raises(ValueError, match="at least one gated layer"):
        plots.plot_gate_statistics({}, tmp_path / "none.png")


def test_grad_norms_and_clipping(tmp_path):
    plots.plot_grad_norms(monitored_history(), tmp_path / "norms.png")
    plots.plot_clipping({"unclipped": monitored_history(diverge_at=3), "clipnorm=1": monitored_history()},
                        tmp_path / "clip.png")
    assert_png(tmp_path / "norms.png")
    assert_png(tmp_path / "clip.png")
    with pytest.raises(ValueError, match="fit_monitored"):
        plots.plot_grad_norms(History(), tmp_path / "none.png")
    with pytest.raises(ValueError, match="at least one history"):
        plots.plot_clipping({}, tmp_path / "none.png")


def test_chain_and_final_metrics_and_history(tmp_path):
    plots.plot_chain(chain_sweep(weights=(-1.0, 0.5, 2.0), depth=6), tmp_path / "chain.png")  # relu w<0: zeros
    panels = {"mse": {"RNN": {50: 0.17, 100: 0.18}, "LSTM": {50: 0.002, 100: float("nan")}},
              "solved": {"RNN": {50: 0.05, 100: 0.04}, "LSTM": {50: 0.9, 100: 0.3}}}
    plots.plot_final_metrics(panels, tmp_path / "metrics.png", baselines={"mse": 0.167}, log=("mse",),
                             limits={"solved": (0, 1)})
    plots.plot_history(monitored_history(), tmp_path / "history.png")
    for name in ("chain.png", "metrics.png", "history.png"):
        assert_png(tmp_path / name)
    with pytest.raises(ValueError, match="at least one metric"):
        plots.plot_final_metrics({}, tmp_path / "none.png")
