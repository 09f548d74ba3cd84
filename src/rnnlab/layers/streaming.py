"""Streaming inference: one time step at a time, the recurrent state carried from step to step.

For online use (tagging as the user types, a sensor read every few milliseconds) a model has to
answer after each new step without rereading the past. Two objects do that:

* ``Stepper`` (``layer.stepper()``), one recurrent layer, the state carried by the caller::

      step = lstm.stepper()
      state = None                         # zeros at the first step
      for x_t in readings:                 # x_t (D,) or (N, D)
          state = step(x_t, state)         # (h,) or, for an LSTM, (h, c); h is the output

* ``SequentialStepper`` (``model.stepper()``), a whole ``Sequential`` (Embedding or FeatureEmbedding,
  stacked unidirectional recurrent layers, Dense, Dropout), every state carried inside::

      gen = model.stepper()
      y_t = gen.step(token_id)             # the model's output for this step; gen.reset(), gen.states

Both are exact: stepping through ``T`` steps gives what the layer's (the model's) ``forward`` gives
over those ``T`` steps, to rounding (``tests/layers/test_streaming.py``, ``tests/models/test_streaming.py``).

The weights are a **snapshot**, copied and packed when the stepper is made: training the layer
afterwards does not reach an existing stepper; call ``stepper()`` again. The backend in effect at
that moment (``rnnlab.backend``) decides how a step runs: ``numba`` calls the compiled kernels'
``step`` with the weights packed once by ``prepare`` (a few microseconds for small layers, see the
streaming table of ``benchmarks/results/speed.md``), ``numpy`` runs the reference cell's ``forward``
over one step. Inference only: dropout is off, and a ``stateful`` layer's carried state is not used.

A backward direction needs the future, so ``go_backwards`` layers and ``Bidirectional`` are refused.

Shapes: ``N`` batch, ``D`` input features, ``H`` units, ``Q`` outputs of the model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from rnnlab import backend
from rnnlab.checks import check_finite, check_float_array
from rnnlab.layers.base import Layer
from rnnlab.layers.bidirectional import Bidirectional
from rnnlab.layers.dense import Dense
from rnnlab.layers.dropout import Dropout
from rnnlab.layers.embedding import Embedding, check_token_ids
from rnnlab.layers.feature_embedding import FeatureEmbedding
from rnnlab.layers.recurrent import Recurrent

__all__ = ["SequentialStepper", "Stepper", "check_streamable"]

State = tuple[np.ndarray, ...]


def check_streamable(layer: Any) -> None:
    """Refuse what cannot run one step at a time, left to right: not a recurrent layer, a
    ``Bidirectional`` layer, a ``go_backwards`` layer, a layer not built yet."""
    if isinstance(layer, Bidirectional):
        raise ValueError(
            f"layer {layer.name!r} is Bidirectional and cannot stream: its backward direction reads each sequence "
            f"from its last step, which a stream has not reached yet; stream a unidirectional layer (e.g. "
            f"its forward_layer) or rerun the whole sequence"
        )
    if not isinstance(layer, Recurrent):
        raise TypeError(f"only a SimpleRNN, LSTM or GRU layer can stream, got {type(layer).__name__}")
    if layer.go_backwards:
        raise ValueError(
            f"layer {layer.name!r} has go_backwards=True and cannot stream: it reads each sequence from its last "
            f"step, which a stream has not reached yet; build it with go_backwards=False"
        )
    if not layer.built:
        raise ValueError(
            f"layer {layer.name!r} is not built yet, so it has no weights to stream with; call it on data once "
            f"or give input_dim"
        )


class Stepper:
    """One step of a recurrent layer at a time, the state carried by the caller (``layer.stepper()``).

    ``stepper(x_t, state)`` (or ``stepper.step(x_t, state)``) returns the new state, a tuple in the
    layer's ``state_names`` order: ``(h,)``, or ``(h, c)`` for an LSTM; ``h`` is the layer's output for
    the step. Pass that tuple back with the next step; ``state=None`` starts from zeros.

    ``x_t`` is ``(N, D)`` for a batch of ``N`` streams, or ``(D,)`` for one stream: the state arrays
    then come back as ``(H,)`` instead of ``(N, H)``. It must be finite floats; it is cast to the
    layer's dtype, which the stepper runs in. A state this stepper returned is passed back without
    checks (the fast path of a streaming loop); any other state is checked (a tuple of arrays,
    ``(N, H)`` or ``(H,)`` each, finite).

    The weights are a snapshot taken by ``layer.stepper()``: after training the layer further, call
    ``stepper()`` again. The backend in effect then (``numba``: compiled ``step``; ``numpy``: the
    reference cell) is the one every step uses. Dropout is off (inference).

    Attributes: ``name``, ``kind``, ``units`` (``H``), ``input_dim`` (``D``), ``dtype``,
    ``state_names``, ``backend``.
    """

    def __init__(self, layer: Recurrent) -> None:
        check_streamable(layer)
        self.name = layer.name
        self.kind = layer.kind
        self.units = int(layer.units)
        self.input_dim = int(layer.input_dim)  # type: ignore[arg-type]  # built, so it is known
        self.dtype = layer.dtype
        self.state_names = layer.state_names
        self.backend = backend.get_backend()
        options = layer.cell_options()
        params = {k: np.array(v, dtype=self.dtype, order="C", copy=True) for k, v in layer.params.items()}
        cell = backend.get_cell(self.kind)
        advance: Callable[[np.ndarray, State], State]
        if self.backend == "numba":
            weights = cell.prepare(params, self.dtype)
            kernel_step = cell.step

            def advance(x: np.ndarray, state: State) -> State:
                return kernel_step(x, state, weights, **options)  # a tuple already
        else:
            reference = cell.forward

            def advance(x: np.ndarray, state: State) -> State:
                x = np.ascontiguousarray(x)
                return tuple(reference(x.reshape(1, *x.shape), state, params, **options)[1])

        self._advance = advance  # (N, D), (N, H) each -> (N, H) each; no checks
        self._returned: State | None = None  # the last state handed out, and its batched form
        self._batched: State | None = None

    def zero_state(self, batch: int | None = None) -> State:
        """Zeros, one array per state: ``(batch, H)`` each, or ``(H,)`` when ``batch`` is None."""
        shape = (self.units,) if batch is None else (int(batch), self.units)
        return tuple(np.zeros(shape, self.dtype) for _ in self.state_names)

    def __call__(self, x_t: Any, state: Any = None) -> State:
        """Run one step on ``x_t (N, D)`` or ``(D,)`` from ``state`` (None: zeros); return the new state."""
        x, single = self._input(x_t)
        N = x.shape[0]
        if state is None:
            s = tuple(np.zeros((N, self.units), self.dtype) for _ in self.state_names)
        elif state is self._returned and self._batched is not None and self._batched[0].shape[0] == N:
            s = self._batched  # handed out by the previous step: already checked
        else:
            s = self.check_state(state, batch=N)
        new = self._advance(x, s)
        out = tuple([a[0] for a in new]) if single else new  # (1, H) -> (H,) views
        self._returned, self._batched = out, new
        return out

    step = __call__

    def _input(self, x_t: Any) -> tuple[np.ndarray, bool]:
        """``x_t`` as ``(N, D)`` of finite floats, and whether it came as ``(D,)``."""
        D = self.input_dim
        x = x_t if type(x_t) is np.ndarray else np.asarray(x_t)
        if x.dtype.kind != "f":
            hint = " (token ids go through an Embedding layer first)" if x.dtype.kind in "iu" else ""
            raise TypeError(f"x_t must be a floating-point array, got dtype {x.dtype}{hint}")
        if x.ndim not in (1, 2) or x.shape[-1] != D or x.size == 0:
            raise ValueError(
                f"x_t must have shape (batch, {D}), or ({D},) for one stream (layer {self.name!r} was built for "
                f"{D} features), got shape {x.shape}"
            )
        if not np.isfinite(x).all():
            check_finite(x, "x_t")
        single = x.ndim == 1
        if single:
            x = x.reshape(1, D)
        if x.dtype != self.dtype:
            x = x.astype(self.dtype)
        return x, single

    def check_state(self, state: Any, batch: int | None = None, name: str = "state") -> State:
        """``state`` as a tuple of ``(N, H)`` arrays of the stepper's dtype (fresh copies are not made).

        Accepts a tuple or list with one array per state (a bare array for a one-state cell), each
        ``(N, H)`` or ``(H,)`` (one stream, ``N = 1``); ``N`` must equal ``batch`` when given.
        """
        names, H = self.state_names, self.units
        if isinstance(state, np.ndarray) and len(names) == 1:
            state = (state,)
        if not isinstance(state, list | tuple) or len(state) != len(names):
            raise ValueError(
                f"{name} for layer {self.name!r} must be a tuple of {len(names)} array(s) ({', '.join(names)}), "
                f"as a previous step returned it, or None for zeros; got {type(state).__name__}"
                + (f" of length {len(state)}" if isinstance(state, list | tuple) else "")
            )
        out = []
        for part, s in zip(names, state, strict=True):
            rank = np.ndim(s) if np.ndim(s) in (1, 2) else 2
            s = check_float_array(s, f"{name} {part}", ndim=rank, layout="(batch, units) or (units,)", dtype=self.dtype)
            if s.shape[-1] != H:
                raise ValueError(f"{name} {part} must have {H} units (shape (batch, {H}) or ({H},)), got {s.shape}")
            s = np.ascontiguousarray(s).reshape(-1, H)
            if batch is not None and s.shape[0] != batch:
                raise ValueError(
                    f"{name} {part} is for a batch of {s.shape[0]} but x_t has a batch of {batch}; "
                    f"start from None (zeros) when the batch changes"
                )
            out.append(s)
        if len({s.shape[0] for s in out}) > 1:
            raise ValueError(f"the arrays of {name} have different batch sizes: {[s.shape for s in out]}")
        return tuple(out)

    def __repr__(self) -> str:
        return (f"Stepper({self.name!r}, kind={self.kind!r}, units={self.units}, input_dim={self.input_dim}, "
                f"dtype={self.dtype.name}, backend={self.backend!r})")


class SequentialStepper:
    """A whole model, one step at a time, every recurrent state carried inside (``model.stepper()``).

    ``step(x_t)`` (or calling the stepper) returns the model's output for the step, what
    ``model.forward`` would give at that step of the sequence read so far:

    * ``x_t`` is what one step of the model's input holds: a token id (an ``int``, one stream) or ids
      ``(N,)`` before an ``Embedding``; ids ``(F,)`` or ``(N, F)`` before a ``FeatureEmbedding``; else
      floats ``(D,)`` or ``(N, D)``. The output is ``(Q,)`` for one stream, ``(N, Q)`` for ``N``.
    * A final recurrent layer with ``return_sequences=False`` (many-to-one) streams too: its output
      after each step is the prediction for the sequence so far. A recurrent layer with
      ``return_sequences=False`` followed by another recurrent layer cannot, and is refused.
    * Padding: with ``mask_zero``, a step whose id is 0 keeps that stream's states and gives the
      recurrent layers' zero output, as in ``forward``.

    ``reset()`` forgets the states (zeros at the next step, for any batch size). ``states`` is a list
    with one entry per recurrent layer, in order: a tuple of ``(N, H)`` arrays (``state_names``
    order), or None before the first step. Later steps make new arrays, so a list read from
    ``states`` stays as it was; assigning it back restores that moment (``(H,)`` arrays are taken as
    one stream). The batch size is fixed by the carried states: ``reset()`` before changing it.

    The weights are a snapshot taken by ``model.stepper()`` (call it again after training), run under
    the backend in effect then. Dropout layers are the identity (inference). ``steppers`` holds the
    ``Stepper`` of each recurrent layer, in order.
    """

    def __init__(self, layers: Sequence[Layer]) -> None:
        layers = list(layers)
        if not layers:
            raise ValueError("the model has no layers; add some first")
        self._ops: list[tuple[Any, ...]] = []
        self.steppers: list[Stepper] = []
        self._first = layers[0]
        sequence, last_recurrent = True, None
        for i, layer in enumerate(layers):
            where = f"layer {i} ({layer.name!r}, {type(layer).__name__})"
            if isinstance(layer, Bidirectional | Recurrent):
                check_streamable(layer)
                if not sequence:
                    raise ValueError(
                        f"{where} follows {last_recurrent!r}, which has return_sequences=False: it gets one vector "
                        f"per sequence, not a step at a time, so the model cannot stream; build "
                        f"{last_recurrent!r} with return_sequences=True"
                    )
                self._ops.append(("recurrent", len(self.steppers), layer.return_sequences))
                self.steppers.append(layer.stepper())
                if not layer.return_sequences:
                    sequence, last_recurrent = False, layer.name
            elif isinstance(layer, Embedding | FeatureEmbedding):
                if i != 0:
                    raise ValueError(f"{where} looks up token ids, so it must be the model's first layer to stream")
                if isinstance(layer, Embedding):
                    self._ops.append(("embedding", layer.params["E"].copy()))
                else:
                    tables = [layer.params[f"E{f}"].copy() for f in range(len(layer.input_dims))]
                    self._ops.append(("features", tables))
            elif isinstance(layer, Dense):
                if not layer.built:
                    raise ValueError(f"{where} is not built yet; call the model on data once, or give input_dim")
                b = layer.params["b"].copy() if layer.use_bias else None
                self._ops.append(("dense", layer.params["W"].copy(), b, layer.act))
            elif isinstance(layer, Dropout):
                continue  # the identity at inference
            else:
                raise TypeError(
                    f"{where} cannot stream: model.stepper() runs Embedding, FeatureEmbedding, SimpleRNN, LSTM, GRU, "
                    f"Dense and Dropout layers"
                )
        self._mask_zero = isinstance(self._first, Embedding | FeatureEmbedding) and self._first.mask_zero
        dims = [getattr(layer, "input_dim", None) for layer in layers if isinstance(layer, Recurrent | Dense)]
        self._features = dims[0] if dims else None  # D of float input
        self._states: list[State | None] = [None] * len(self.steppers)

    # -- state ---------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget every carried state: the next step starts from zeros, with any batch size."""
        self._states = [None] * len(self.steppers)

    @property
    def states(self) -> list[State | None]:
        """One entry per recurrent layer: its state tuple of ``(N, H)`` arrays, or None (zeros)."""
        return list(self._states)

    @states.setter
    def states(self, value: Sequence[Any] | None) -> None:
        if value is None:
            self.reset()
            return
        names = [st.name for st in self.steppers]
        if not isinstance(value, list | tuple) or len(value) != len(names):
            raise ValueError(
                f"states must be a list with one entry per recurrent layer ({len(names)}: {', '.join(names)}), "
                f"each a tuple of its state arrays or None; got "
                + (f"{len(value)} entries" if isinstance(value, list | tuple) else type(value).__name__)
            )
        new: list[State | None] = []
        for st, entry in zip(self.steppers, value, strict=True):
            checked = None if entry is None else st.check_state(entry, name=f"states of {st.name!r}")
            new.append(None if checked is None else tuple(a.copy() for a in checked))
        batches = {s[0].shape[0] for s in new if s is not None}
        if len(batches) > 1:
            raise ValueError(f"the states are for different batch sizes {sorted(batches)}; give one batch size")
        self._states = new

    # -- one step --------------------------------------------------------------------------------

    def step(self, x_t: Any) -> np.ndarray:
        """The model's output for one more step of input ``x_t``; updates the carried states."""
        h, single, mask = self._input(x_t)
        N = h.shape[0]
        states = list(self._states)  # replaced only once the whole step has succeeded
        for op in self._ops:
            kind = op[0]
            if kind == "recurrent":
                k, return_sequences = op[1], op[2]
                st = self.steppers[k]
                s = states[k]
                if s is None:
                    s = tuple(np.zeros((N, st.units), st.dtype) for _ in st.state_names)
                elif s[0].shape[0] != N:
                    raise ValueError(
                        f"the stepper carries states for a batch of {s[0].shape[0]}, got a batch of {N}; "
                        f"call reset() before changing the batch size"
                    )
                if h.dtype != st.dtype:
                    h = h.astype(st.dtype)
                new = st._advance(h, s)
                if mask is None:
                    h = new[0]
                else:  # a padded step keeps the state and outputs zero
                    keep = mask[:, None]
                    new = tuple(np.where(keep, a, b) for a, b in zip(new, s, strict=True))
                    h = np.where(keep, new[0], st.dtype.type(0)) if return_sequences else new[0]
                states[k] = new
                if not return_sequences:
                    mask = None
            elif kind == "dense":
                W, b, act = op[1], op[2], op[3]
                a = h @ W  # (N, Q)
                if b is not None:
                    a += b
                h = act(a, out=a)
            elif kind == "embedding":
                h = op[1][h]  # (N, E)
            else:  # features
                h = np.concatenate([table[h[:, f]] for f, table in enumerate(op[1])], axis=-1)
        self._states = states
        return h[0] if single else h

    __call__ = step

    def _input(self, x_t: Any) -> tuple[np.ndarray, bool, np.ndarray | None]:
        """``(batched input, came unbatched, padding mask (N,) or None)``."""
        first = self._first
        if isinstance(first, Embedding):
            x = np.asarray(x_t)
            if x.ndim > 1:
                raise ValueError(
                    f"x_t must be one token id or a (batch,) array of ids for {first.name!r} (one step), "
                    f"got shape {x.shape}"
                )
            single = x.ndim == 0
            ids = check_token_ids(x.reshape(1) if single else x, first.input_dim, name="x_t")
            mask = ids != 0 if self._mask_zero else None
            return ids, single, None if mask is None or mask.all() else mask
        if isinstance(first, FeatureEmbedding):
            F = len(first.input_dims)
            x = np.asarray(x_t)
            if x.dtype.kind not in "iu":
                raise TypeError(f"x_t must hold integer ids for {first.name!r}, got dtype {x.dtype}")
            if x.ndim not in (1, 2) or x.shape[-1] != F or x.size == 0:
                raise ValueError(f"x_t must have shape (batch, {F}) or ({F},) (one id per feature) for {first.name!r},"
                                 f" got shape {x.shape}")
            single = x.ndim == 1
            ids = x.reshape(1, F) if single else x
            for f, v in enumerate(first.input_dims):
                check_token_ids(ids[:, f], v, name=f"x_t feature {f}")
            mask = ids[:, 0] != 0 if self._mask_zero else None
            return ids, single, None if mask is None or mask.all() else mask
        x = x_t if type(x_t) is np.ndarray else np.asarray(x_t)
        if x.dtype.kind != "f":
            hint = " (token ids go through an Embedding layer first)" if x.dtype.kind in "iu" else ""
            raise TypeError(f"x_t must be a floating-point array, got dtype {x.dtype}{hint}")
        D = self._features
        if x.ndim not in (1, 2) or x.size == 0 or (D is not None and x.shape[-1] != D):
            expected = "features" if D is None else str(D)
            raise ValueError(f"x_t must have shape (batch, {expected}), or ({expected},) for one stream (one step of "
                             f"the model's input), got shape {x.shape}")
        if not np.isfinite(x).all():
            check_finite(x, "x_t")
        single = x.ndim == 1
        return (x.reshape(1, -1) if single else x), single, None

    def __repr__(self) -> str:
        names = ", ".join(st.name for st in self.steppers)
        backend_name = self.steppers[0].backend if self.steppers else backend.get_backend()
        return f"SequentialStepper(recurrent=[{names}], backend={backend_name!r})"
