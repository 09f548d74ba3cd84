r"""The pieces of the ``rnnlab gradflow`` experiment on the adding problem, usable on their own.

- ``adding_model``: an RNN / LSTM / GRU of ``H`` units and a linear read-out, ``(N, T, 2) -> (N, 1)``,
  compiled with the mean squared error (and the fraction of sequences solved, ``|error| < 0.04``).
- ``open_gates``: start the state-keeping gate open, LSTM forget gate ``F`` or GRU update gate
  ``Z`` (the ``Z`` of ``H_t = Z_t H_{t-1} + (1 - Z_t) H~_t``), by setting its bias to ``b``:
  ``sigmoid(3) = 0.95`` keeps 95% of the state per step instead of the defaults' 73% (LSTM,
  ``unit_forget_bias``) or 50% (GRU, zero bias).
- ``exploding_rnn``: a ReLU Elman RNN whose recurrent matrix is the orthogonal initialisation
  times ``gain``: with ``gain = 2`` the product of Jacobians grows with ``T - t``.
- ``flow_at_init``: ``||dL_T/dH_t||`` of several models on the same batch.
- ``train_and_measure``: train with ``fit_monitored``, gradient flow and gate statistics before and
  after, the final validation metrics.

Shapes: ``N`` batch, ``T`` time, ``H`` units. The adding problem's inputs are ``(N, T, 2)``, its
targets ``(N, 1)``; always predicting 1 scores an MSE of about 0.167.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from rnnlab.checks import check_positive_int
from rnnlab.diagnostics.gates import GateStats, gate_statistics
from rnnlab.diagnostics.gradflow import GradientFlow, gradient_flow
from rnnlab.diagnostics.monitor import first_divergence, fit_monitored
from rnnlab.layers import GRU, LSTM, Recurrent, SimpleRNN
from rnnlab.layers.dense import Dense
from rnnlab.models import Sequential
from rnnlab.models.training import History

__all__ = [
    "KINDS",
    "SOLVED_TOLERANCE",
    "RunResult",
    "adding_model",
    "exploding_rnn",
    "flow_at_init",
    "learned",
    "open_gates",
    "train_and_measure",
]

KINDS = ("rnn", "lstm", "gru")
SOLVED_TOLERANCE = 0.04  # a sequence of the adding problem is solved when |error| < 0.04
LEARNED_FRACTION = 0.1  # "learned": validation MSE below 10% of the predict-the-mean baseline's

_LAYERS: dict[str, type[Recurrent]] = {"rnn": SimpleRNN, "lstm": LSTM, "gru": GRU}


def open_gates(layer: Recurrent, bias: float) -> None:
    """Set the bias of the gate that keeps the state (LSTM ``F``, GRU ``Z``) to ``bias``, in place."""
    if layer.kind not in ("lstm", "gru"):
        raise ValueError(f"open_gates needs an LSTM or GRU layer, got {type(layer).__name__}")
    if "b" not in layer.params:
        raise ValueError(f"layer {layer.name!r} has no bias (use_bias=False); there is no gate bias to set")
    H = layer.units
    layer.params["b"][H : 2 * H] = bias  # block 1: LSTM [i | f | c~ | o], GRU [r | z | h~]


def adding_model(
    kind: str,
    units: int,
    *,
    seed: int = 0,
    gate_bias: float | None = None,
    optimizer: str | dict[str, Any] = "adam",
    activation: str = "tanh",
    dtype: str = "float32",
) -> Sequential:
    """``kind`` (``"rnn"``, ``"lstm"``, ``"gru"``) of ``units`` units + ``Dense(1)``, built for 2 inputs.

    ``gate_bias``: ``open_gates`` with this bias (LSTM/GRU only; None keeps the library's
    initialisation). Compiled with ``optimizer``, the MSE and ``within_tolerance`` (0.04).
    """
    if kind not in _LAYERS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    units = check_positive_int(units, argument="units")
    options: dict[str, Any] = {"activation": activation} if kind == "rnn" else {}
    layer = _LAYERS[kind](units, input_dim=2, seed=seed, dtype=dtype, name=kind, **options)
    if gate_bias is not None and kind != "rnn":
        open_gates(layer, gate_bias)
    model = Sequential([layer, Dense(1, input_dim=units, seed=seed + 1, dtype=dtype, name="readout")], seed=seed)
    model.compile(optimizer, "mse", [("within_tolerance", {"tol": SOLVED_TOLERANCE})])
    return model


def exploding_rnn(units: int, gain: float, *, seed: int = 0, optimizer: str | dict[str, Any] = "sgd") -> Sequential:
    """A ReLU ``SimpleRNN`` whose recurrent matrix is ``gain`` times the orthogonal initialisation."""
    if not np.isfinite(gain) or gain <= 0:
        raise ValueError(f"gain must be a positive number, got {gain!r}")
    model = adding_model("rnn", units, seed=seed, optimizer=optimizer, activation="relu")
    model.layers[0].params["W_R"] *= np.float32(gain)
    return model


def flow_at_init(models: dict[str, Sequential], x: np.ndarray, y: np.ndarray) -> dict[str, GradientFlow]:
    """``||dL_T/dH_t||`` (float64, library BPTT) of each model on the batch ``(x, y)``."""
    return {name: gradient_flow(model, x, y, last_step_only=True) for name, model in models.items()}


def learned(val_mse: float, baseline_mse: float) -> bool:
    """The criterion the report uses: validation MSE below 10% of the predict-the-mean baseline."""
    return bool(np.isfinite(val_mse) and val_mse < LEARNED_FRACTION * baseline_mse)


@dataclass
class RunResult:
    """One training run: flows and gates at initialisation and after training, and the metrics."""

    kind: str
    length: int
    flow_init: GradientFlow
    flow_trained: GradientFlow
    gates_init: dict[str, GateStats]
    gates_trained: dict[str, GateStats]
    history: History
    val_mse: float
    val_solved: float
    baseline_mse: float
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary (no arrays)."""
        return {
            "val_mse": self.val_mse,
            "val_solved": self.val_solved,
            "baseline_mse": self.baseline_mse,
            "learned": learned(self.val_mse, self.baseline_mse),
            "ratio_init": self.flow_init.ratio(self.kind),
            "ratio_trained": self.flow_trained.ratio(self.kind),
            "gates_init": {k: g.summary() for k, g in self.gates_init.items()},
            "gates_trained": {k: g.summary() for k, g in self.gates_trained.items()},
            "steps": len(self.history.steps.get("loss", [])),
            "diverged_at_step": first_divergence(self.history),
            "seconds": self.seconds,
        }


def train_and_measure(
    model: Sequential,
    kind: str,
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    *,
    epochs: int,
    batch_size: int,
    probe: int = 64,
) -> RunResult:
    """Measure on the first ``probe`` validation sequences, train, measure again, evaluate."""
    xp, yp = val[0][:probe], val[1][:probe]
    flow0 = gradient_flow(model, xp, yp, last_step_only=True)
    gates0 = gate_statistics(model, xp)
    start = time.perf_counter()
    history = fit_monitored(model, *train, batch_size=batch_size, epochs=epochs, validation_data=val)
    seconds = time.perf_counter() - start
    diverged = first_divergence(history) is not None
    nan_flow = GradientFlow({kind: np.full(xp.shape[1], np.nan)}, {}, float("nan"), "last")
    flow1 = nan_flow if diverged else gradient_flow(model, xp, yp, last_step_only=True)
    gates1 = {} if diverged else gate_statistics(model, xp)
    metrics = model.evaluate(*val) if not diverged else {"loss": float("nan"), "within_tolerance": float("nan")}
    baseline = float(np.mean((val[1] - 1.0) ** 2))
    return RunResult(kind, int(xp.shape[1]), flow0, flow1, gates0, gates1, history, float(metrics["loss"]),
                     float(metrics["within_tolerance"]), baseline, seconds)
