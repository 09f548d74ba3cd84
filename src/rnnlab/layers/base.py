"""The ``Layer`` contract every rnnlab layer follows.

A layer owns ``params`` and ``grads`` (two dicts with the same keys) and offers an explicit pair::

    out, cache = layer.forward(x, ..., training=False)
    dx = layer.backward(dout, cache)        # parameter gradients land in layer.grads

``backward`` overwrites ``grads`` with the gradient of the forward pass that made ``cache``; nothing
else is remembered between calls, so the caller controls the order of the backward passes.
``layer(x)`` is ``layer.forward(x)[0]``. ``get_config()`` returns the constructor arguments as
JSON-able values, so ``type(layer)(**config)`` rebuilds the same layer.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnlab.checks import check_dtype


class Layer:
    """Base class: parameters, gradients, lazy building, configuration."""

    def __init__(self, *, name: str | None = None, dtype: str = "float32", seed: int | None = None) -> None:
        self.name = name or type(self).__name__.lower()
        self.dtype = check_dtype(dtype)
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.built = False

    def build(self, input_dim: int) -> None:
        """Create the parameters for inputs with ``input_dim`` features."""
        self.built = True

    def forward(self, x: Any, **kwargs: Any) -> tuple[Any, Any]:
        raise NotImplementedError

    def backward(self, dout: Any, cache: Any) -> Any:
        raise NotImplementedError

    def __call__(self, x: Any, **kwargs: Any) -> Any:
        return self.forward(x, **kwargs)[0]

    def zero_grads(self) -> None:
        """Set every gradient to explicit zeros of its parameter's shape."""
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def count_params(self) -> int:
        return int(sum(p.size for p in self.params.values()))

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype.name, "seed": self.seed}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k not in ("name",))
        return f"{type(self).__name__}({args})"
