"""``Dense``: ``Y = f(X W + b)``, applied at every time step when the input is a sequence.

This is the notes' output layer ``O_t = H_t W^(2) + B^(2)`` (the softmax lives in the loss).
Shapes: ``N`` batch, ``T`` time, ``D`` inputs, ``U`` units; input ``(N, D)`` or ``(N, T, D)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnlab import activations, initializers
from rnnlab.checks import check_positive_int
from rnnlab.layers.base import Layer


class Dense(Layer):
    """A fully connected layer.

    Args:
        units: ``U``, output size.
        activation: None or ``'linear'`` (logits, the default), or any name in ``rnnlab.activations``.
        use_bias: add ``b``.
        kernel_initializer: name in ``rnnlab.initializers`` (``glorot_uniform``).
        input_dim: ``D``, to build now instead of at the first call.
    """

    def __init__(
        self,
        units: int,
        activation: str | None = None,
        use_bias: bool = True,
        kernel_initializer: str = "glorot_uniform",
        input_dim: int | None = None,
        dtype: str = "float32",
        seed: int | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name, dtype=dtype, seed=seed)
        self.units = check_positive_int(units, argument="units")
        self.activation = activation or "linear"
        self.act = activations.get(self.activation)
        self.use_bias = bool(use_bias)
        initializers.get(kernel_initializer, argument="kernel_initializer")
        self.kernel_initializer = kernel_initializer
        self.input_dim = check_positive_int(input_dim, argument="input_dim", allow_none=True)
        if self.input_dim is not None:
            self.build(self.input_dim)

    def build(self, input_dim: int) -> None:
        self.params = {"W": initializers.get(self.kernel_initializer)((input_dim, self.units), self.rng, self.dtype)}
        if self.use_bias:
            self.params["b"] = np.zeros(self.units, self.dtype)
        self.input_dim = input_dim
        self.zero_grads()
        self.built = True

    def forward(self, x: np.ndarray, mask: Any = None, training: bool = False) -> tuple[np.ndarray, dict[str, Any]]:
        if x.ndim not in (2, 3):
            raise ValueError(f"Dense takes (batch, features) or (batch, time, features), got shape {x.shape}")
        if not self.built:
            self.build(x.shape[-1])
        if x.shape[-1] != self.input_dim:
            raise ValueError(f"Dense was built for {self.input_dim} input features, got {x.shape[-1]}")
        a = x @ self.params["W"]  # (..., U)
        if self.use_bias:
            a += self.params["b"]
        y = self.act(a, out=a)
        return y, {"x": x, "y": y}

    def backward(self, dout: np.ndarray, cache: dict[str, Any]) -> np.ndarray:
        x, y = cache["x"], cache["y"]
        da = dout if self.activation == "linear" else dout * self.act.grad(y)  # (..., U)
        x2, da2 = x.reshape(-1, x.shape[-1]), da.reshape(-1, self.units)
        self.grads = {"W": x2.T @ da2}
        if self.use_bias:
            self.grads["b"] = da2.sum(axis=0)
        return da @ self.params["W"].T

    def get_config(self) -> dict[str, Any]:
        return {"units": self.units, "activation": self.activation, "use_bias": self.use_bias,
                "kernel_initializer": self.kernel_initializer, "input_dim": self.input_dim, **super().get_config()}
