"""The recurrent layer: parameters, the batch-major boundary, masks, dropout, and the BPTT pair.

``SimpleRNN``, ``LSTM`` and ``GRU`` are this class with a different cell (``rnnlab.cells``). The
public layout is batch-major ``(N, T, D)`` like Keras; the cells run time-major ``(T, N, D)``, and
the conversion happens here, once, at the boundary.

Shapes: ``N`` batch, ``T`` time, ``D`` input features, ``H`` units, ``G`` gate blocks.

Outputs follow Keras:

=====================  ==================  =============================================
return_sequences       return_state        ``out``
=====================  ==================  =============================================
False                  False               ``H_T`` ``(N, H)`` (the state after the last real step)
True                   False               ``(N, T, H)``, zero at padded steps
either                 True                ``[output, *final_states]`` (LSTM: ``h``, ``c``)
=====================  ==================  =============================================

``backward`` takes ``dout`` of the same structure (``None`` for a part with no gradient).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from rnnlab import activations, backend, initializers, threads
from rnnlab.checks import check_float_array, check_positive_int, check_rate, check_sequences, resolve_mask
from rnnlab.layers.base import Layer

if TYPE_CHECKING:
    from rnnlab.layers.streaming import Stepper


def chrono_bias(t_max: int, units: int, rng: np.random.Generator, dtype: np.dtype) -> np.ndarray:
    """``log(u)``, ``u ~ U(1, t_max - 1)`` per unit: gate biases for memories of 1 to ``t_max`` steps.

    Tallec & Ollivier 2018 ("Can recurrent neural networks warp time?"): a gate ``sigmoid(b)`` that
    keeps ``1 - 1/u`` of the state per step remembers for about ``u`` steps.
    """
    if t_max < 3:
        raise ValueError(f"chrono_init must be at least 3 (the longest dependency, in steps), got {t_max}")
    return np.log(rng.uniform(1.0, t_max - 1.0, size=units)).astype(dtype)


def _cell_module(kind: str) -> Any:
    return backend.get_cell(kind)


class Recurrent(Layer):
    """Shared machinery of the three recurrent layers. Use ``SimpleRNN``, ``LSTM`` or ``GRU``.

    Args:
        units: ``H``, the size of the state.
        activation: ``g`` in the equations (candidate and output squashing), by name.
        recurrent_activation: ``f``, the gate activation (unused by ``SimpleRNN``).
        use_bias: add ``B`` to the pre-activations.
        kernel_initializer, recurrent_initializer, bias_initializer: names (``rnnlab.initializers``).
        dropout: rate of dropout on the inputs ``X_t``; one mask per sequence, the same at every step.
        recurrent_dropout: rate of dropout on ``H_{t-1}`` before ``W_R``; one mask per sequence,
            reused at every step (Gal & Ghahramani 2016, as in Keras).
        return_sequences, return_state: what ``forward`` returns (module docstring).
        go_backwards: process the sequence from the last step to the first; the output sequence is
            returned in processing order, as Keras does.
        stateful: start each call from the final state of the previous call (``reset_states()``).
        truncate_gradient: truncated BPTT with windows of this many steps (``rnnlab.cells.cuts_here``);
            None is full BPTT.
        input_dim: ``D``, to build the parameters now instead of at the first call.
        dtype: ``"float32"`` (default) or ``"float64"``; inputs are cast to it.
        seed: seeds the initializers and the dropout masks.
    """

    kind = ""  # "rnn", "lstm" or "gru"

    def __init__(
        self,
        units: int,
        activation: str = "tanh",
        recurrent_activation: str = "sigmoid",
        use_bias: bool = True,
        kernel_initializer: str = "glorot_uniform",
        recurrent_initializer: str = "orthogonal",
        bias_initializer: str = "zeros",
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        truncate_gradient: int | None = None,
        input_dim: int | None = None,
        dtype: str = "float32",
        seed: int | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name, dtype=dtype, seed=seed)
        self.units = check_positive_int(units, argument="units")
        activations.get(activation, argument="activation")
        activations.get(recurrent_activation, argument="recurrent_activation")
        self.activation = activation
        self.recurrent_activation = recurrent_activation
        self.use_bias = bool(use_bias)
        for arg, value in (
            ("kernel_initializer", kernel_initializer),
            ("recurrent_initializer", recurrent_initializer),
            ("bias_initializer", bias_initializer),
        ):
            initializers.get(value, argument=arg)
        self.kernel_initializer = kernel_initializer
        self.recurrent_initializer = recurrent_initializer
        self.bias_initializer = bias_initializer
        self.dropout = check_rate(dropout, argument="dropout")
        self.recurrent_dropout = check_rate(recurrent_dropout, argument="recurrent_dropout")
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.truncate_gradient = check_positive_int(truncate_gradient, argument="truncate_gradient", allow_none=True)
        self.input_dim = check_positive_int(input_dim, argument="input_dim", allow_none=True)
        self.states: tuple[np.ndarray, ...] | None = None  # carried between calls when stateful
        if self.input_dim is not None:
            self.build(self.input_dim)

    # -- structure -----------------------------------------------------------------------------

    @property
    def cell(self) -> Any:
        """The module with this layer's ``forward``/``backward`` math, under the current backend."""
        return _cell_module(self.kind)

    @property
    def state_names(self) -> tuple[str, ...]:
        return ("h", "c") if self.kind == "lstm" else ("h",)

    @property
    def gates(self) -> int:
        return {"rnn": 1, "gru": 3, "lstm": 4}[self.kind]

    def cell_options(self) -> dict[str, Any]:
        """Keyword arguments for the cell's ``forward`` beyond the arrays."""
        return {"activation": self.activation, "recurrent_activation": self.recurrent_activation}

    def build(self, input_dim: int) -> None:
        D, H, G = input_dim, self.units, self.gates
        kernel = initializers.get(self.kernel_initializer)
        recurrent = initializers.get(self.recurrent_initializer)
        bias = initializers.get(self.bias_initializer)
        self.params = {
            "W": kernel((D, G * H), self.rng, self.dtype),  # (D, G*H)
            "W_R": recurrent((H, G * H), self.rng, self.dtype),  # (H, G*H)
        }
        if self.use_bias:
            self.params["b"] = bias((G * H,), self.rng, self.dtype)  # (G*H,)
        self.input_dim = D
        self.zero_grads()
        self.built = True

    def reset_states(self) -> None:
        """Forget the state carried between calls by a ``stateful`` layer."""
        self.states = None

    def stepper(self) -> Stepper:
        """A ``Stepper`` for streaming inference: one step at a time, the state carried by the caller.

        ``step = layer.stepper()``, then ``state = step(x_t, state)`` for each ``x_t (N, D)`` or ``(D,)``,
        starting from ``state=None`` (zeros); ``state[0]`` is the output ``h``. Exact: the same numbers
        as ``forward`` over the steps so far. The weights are a snapshot taken now (call ``stepper()``
        again after training), run under the backend in effect now; dropout is off. A
        ``go_backwards`` layer is refused (its first step is the sequence's last). See
        ``rnnlab.layers.streaming`` and ``docs/streaming.md``.
        """
        from rnnlab.layers.streaming import Stepper

        return Stepper(self)

    # -- time-major core, shared with Bidirectional and the PyTorch interop ----------------------

    def run(
        self,
        x: np.ndarray,
        states: tuple[np.ndarray, ...],
        mask: np.ndarray | None,
        training: bool,
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...], dict[str, Any]]:
        """Time-major forward on validated arrays: ``x (T, N, D)``, ``mask (T, N)`` or None.

        Returns ``(seq (T, N, H), final_states, cache)``.
        """
        N, D = x.shape[1], x.shape[2]
        xdrop = rdrop = None
        if training and self.dropout > 0.0:
            xdrop = self._dropout_mask((N, D), self.dropout)  # (N, D), same at every step
            x = x * xdrop
        if training and self.recurrent_dropout > 0.0:
            rdrop = self._dropout_mask((N, self.units), self.recurrent_dropout)  # (N, H)
        cell = self.cell
        with threads.for_cell(cell, N, self.units, self.gates):
            seq, final, cell_cache = cell.forward(
                np.ascontiguousarray(x), states, self.params, mask=mask, rdrop=rdrop, **self.cell_options()
            )
        return seq, final, {"cell": cell, "cell_cache": cell_cache, "xdrop": xdrop, "batch": N}

    def run_backward(
        self, dseq: np.ndarray | None, dstates: tuple[np.ndarray | None, ...], cache: dict[str, Any]
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        """Time-major BPTT for ``run``: returns ``(dx (T, N, D), dinitial_states)``; sets ``grads``.

        The cells take C-contiguous arrays of the layer's dtype (the compiled kernels rely on it), so
        the upstream gradients, which may be slices of a merged output, are made so here.
        """
        dseq = None if dseq is None else np.ascontiguousarray(dseq, dtype=self.dtype)
        dstates = tuple(None if d is None else np.ascontiguousarray(d, dtype=self.dtype) for d in dstates)
        with threads.for_cell(cache["cell"], cache["batch"], self.units, self.gates):
            dx, dstates0, grads = cache["cell"].backward(
                dseq, dstates, cache["cell_cache"], truncate=self.truncate_gradient
            )
        if cache["xdrop"] is not None:
            dx *= cache["xdrop"]
        self.grads = grads
        return dx, dstates0

    def _dropout_mask(self, shape: tuple[int, int], rate: float) -> np.ndarray:
        keep = self.rng.random(shape) >= rate
        return keep.astype(self.dtype) / self.dtype.type(1.0 - rate)

    # -- the batch-major public pair --------------------------------------------------------------

    def forward(
        self,
        x: Any,
        initial_state: Any = None,
        mask: Any = None,
        lengths: Any = None,
        training: bool = False,
    ) -> tuple[Any, dict[str, Any]]:
        """Run the layer on ``x (N, T, D)``.

        Args:
            initial_state: an array ``(N, H)``, or a list with one per state (LSTM: ``[h, c]``);
                zeros if None (or the carried state of a stateful layer).
            mask: ``(N, T)`` bool, True where a step is real; or ``lengths (N,)``, the number of real
                steps from the start. A padded step keeps the state, outputs zero, gets no gradient.
            training: apply dropout.

        Returns:
            ``(out, cache)``, ``out`` as in the module docstring.
        """
        x = check_sequences(x, features=self.input_dim, dtype=self.dtype)
        N, T, D = x.shape
        if not self.built:
            self.build(D)
        mask = resolve_mask(mask, lengths, N, T)
        states = self._initial_states(initial_state, N)
        x_tm = x.transpose(1, 0, 2)  # (T, N, D)
        mask_tm = None if mask is None else mask.T  # (T, N)
        if self.go_backwards:
            x_tm = x_tm[::-1]
            mask_tm = None if mask_tm is None else mask_tm[::-1]
        seq, final, cache = self.run(x_tm, states, mask_tm, training)
        if self.stateful:
            self.states = tuple(s.copy() for s in final)
        main = np.ascontiguousarray(seq.transpose(1, 0, 2)) if self.return_sequences else final[0]
        out = [main, *final] if self.return_state else main
        cache["shape"] = (N, T, D)
        return out, cache

    def backward(self, dout: Any, cache: dict[str, Any]) -> tuple[np.ndarray, list[np.ndarray]]:
        """BPTT for ``forward``: returns ``(dx (N, T, D), dinitial_state list)``; sets ``grads``."""
        N, T, _ = cache["shape"]
        H, S = self.units, len(self.state_names)
        if self.return_state:
            if not isinstance(dout, list | tuple) or len(dout) != 1 + S:
                raise ValueError(f"dout must be a list of {1 + S} gradients [output, *states] (return_state=True)")
            dmain, dstates = dout[0], list(dout[1:])
        else:
            dmain, dstates = dout, [None] * S
        for i, d in enumerate(dstates):
            if d is not None:
                dstates[i] = _check_grad(d, (N, H), f"dout for state {self.state_names[i]}", self.dtype)
        dseq = None
        if dmain is not None:
            if self.return_sequences:
                dseq = _check_grad(dmain, (N, T, H), "dout", self.dtype).transpose(1, 0, 2)
            else:
                dmain = _check_grad(dmain, (N, H), "dout", self.dtype)
                dstates[0] = dmain if dstates[0] is None else dstates[0] + dmain
        dx_tm, dstates0 = self.run_backward(dseq, tuple(dstates), cache)
        if self.go_backwards:
            dx_tm = dx_tm[::-1]
        return np.ascontiguousarray(dx_tm.transpose(1, 0, 2)), list(dstates0)

    def _initial_states(self, initial_state: Any, batch: int) -> tuple[np.ndarray, ...]:
        names, H = self.state_names, self.units
        if initial_state is None:
            if self.stateful and self.states is not None:
                if self.states[0].shape[0] != batch:
                    raise ValueError(
                        f"stateful layer carries a state for batch size {self.states[0].shape[0]}, got a batch "
                        f"of {batch}; call reset_states() or keep the batch size fixed"
                    )
                return self.states
            return tuple(np.zeros((batch, H), self.dtype) for _ in names)
        if isinstance(initial_state, np.ndarray) and len(names) == 1:
            initial_state = [initial_state]
        if not isinstance(initial_state, list | tuple) or len(initial_state) != len(names):
            raise ValueError(
                f"initial_state must be a list of {len(names)} arrays ({', '.join(names)}), each ({batch}, {H})"
            )
        out = []
        for name, s in zip(names, initial_state, strict=True):
            s = check_float_array(s, f"initial_state {name}", ndim=2, layout="(batch, units)", dtype=self.dtype)
            if s.shape != (batch, H):
                raise ValueError(f"initial_state {name} must have shape ({batch}, {H}), got {s.shape}")
            out.append(np.ascontiguousarray(s))
        return tuple(out)

    def get_config(self) -> dict[str, Any]:
        return {
            "units": self.units,
            "activation": self.activation,
            "recurrent_activation": self.recurrent_activation,
            "use_bias": self.use_bias,
            "kernel_initializer": self.kernel_initializer,
            "recurrent_initializer": self.recurrent_initializer,
            "bias_initializer": self.bias_initializer,
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
            "stateful": self.stateful,
            "truncate_gradient": self.truncate_gradient,
            "input_dim": self.input_dim,
            **super().get_config(),
        }


def _check_grad(d: Any, shape: tuple[int, ...], name: str, dtype: np.dtype) -> np.ndarray:
    d = np.asarray(d)
    if d.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {d.shape}")
    return d.astype(dtype, copy=False)
