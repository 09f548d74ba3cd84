"""A way in from, and out to, ``torch.nn.RNN``, ``torch.nn.LSTM`` and ``torch.nn.GRU``.

``from_torch(module)`` builds an rnnlab ``TorchStyleRNN`` with the module's weights: the same
inputs give the same outputs, and rnnlab's hand-written BPTT gives the gradients PyTorch's autograd
gives. ``to_torch(obj)`` goes back. PyTorch is imported only when these functions are called; it is
never a dependency of rnnlab.

Weight mapping, per layer ``k`` and direction (``_reverse`` suffix for the backward one)::

    W   = weight_ih_lk.T        (D, G*H)       gate order is the same on both sides:
    W_R = weight_hh_lk.T        (H, G*H)       LSTM [i f g o], GRU [r z n]
    b   = bias_ih_lk + bias_hh_lk    (RNN, LSTM: PyTorch keeps two biases that only ever add up;
                                      to_torch puts b in bias_ih and zeros in bias_hh)
    GRU: b = bias_ih_lk, b_R = bias_hh_lk    (PyTorch's GRU is rnnlab's GRU(reset_after=True))

The notes' GRU (``reset_after=False``) applies the reset gate before the recurrent matrix and has
no PyTorch counterpart; ``to_torch`` refuses it. LSTM ``proj_size`` has no rnnlab counterpart.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from rnnlab.checks import check_sequences, resolve_mask
from rnnlab.layers.bidirectional import Bidirectional
from rnnlab.layers.gru import GRU
from rnnlab.layers.lstm import LSTM
from rnnlab.layers.recurrent import Recurrent
from rnnlab.layers.simple_rnn import SimpleRNN

_MODES = {"RNN_TANH": "rnn", "RNN_RELU": "rnn", "LSTM": "lstm", "GRU": "gru"}


class TorchStyleRNN:
    """A stack of rnnlab recurrent layers that takes and returns what ``torch.nn.RNN/LSTM/GRU`` do.

    ``forward(x, initial_state=None, mask=None, lengths=None, training=False)`` returns
    ``((y, h_n), cache)``, or ``((y, (h_n, c_n)), cache)`` for an LSTM, with ``y`` the whole output
    sequence ``(N, T, directions*H)`` (``(T, N, ...)`` unless ``batch_first``) and the final states
    ``(layers*directions, N, H)`` in PyTorch's order. ``backward((dy, dh_n[, dc_n]), cache)``
    returns ``(dx, dinitial_state)`` in the same layouts (any gradient may be None) and fills
    ``grads``. ``params``/``grads`` are keyed ``l{k}/W``, ``l{k}_reverse/W_R`` and so on.
    """

    def __init__(self, layers: list[Recurrent | Bidirectional], batch_first: bool = False) -> None:
        if not layers:
            raise ValueError("TorchStyleRNN needs at least one layer")
        self.layers = layers
        self.batch_first = bool(batch_first)
        first = layers[0].forward_layer if isinstance(layers[0], Bidirectional) else layers[0]
        self.kind = first.kind
        self.hidden_size = first.units
        self.directions = 2 if isinstance(layers[0], Bidirectional) else 1
        self.dtype = first.dtype

    def _directions(self, k: int) -> list[tuple[str, Recurrent]]:
        layer = self.layers[k]
        if isinstance(layer, Bidirectional):
            return [(f"l{k}", layer.forward_layer), (f"l{k}_reverse", layer.backward_layer)]
        return [(f"l{k}", layer)]

    @property
    def params(self) -> dict[str, np.ndarray]:
        return {
            f"{p}/{n}": v
            for k in range(len(self.layers))
            for p, lay in self._directions(k)
            for n, v in lay.params.items()
        }

    @property
    def grads(self) -> dict[str, np.ndarray]:
        return {
            f"{p}/{n}": v
            for k in range(len(self.layers))
            for p, lay in self._directions(k)
            for n, v in lay.grads.items()
        }

    def __call__(self, x: Any, **kwargs: Any) -> Any:
        return self.forward(x, **kwargs)[0]

    def forward(
        self, x: Any, initial_state: Any = None, mask: Any = None, lengths: Any = None, training: bool = False
    ) -> tuple[Any, dict[str, Any]]:
        x = np.asarray(x) if not isinstance(x, np.ndarray) else x
        if x.ndim == 3 and not self.batch_first:
            x = x.transpose(1, 0, 2)
        x = check_sequences(x, features=None, dtype=self.dtype)  # (N, T, D)
        N, T, _ = x.shape
        mask = resolve_mask(mask, lengths, N, T)
        mask_tm = None if mask is None else mask.T
        S = 2 if self.kind == "lstm" else 1
        L, dirs, H = len(self.layers), self.directions, self.hidden_size
        if initial_state is None:
            init = np.zeros((S, L * dirs, N, H), self.dtype)
        else:
            parts = initial_state if S == 2 else (initial_state,)
            if not isinstance(parts, tuple | list) or len(parts) != S:
                raise ValueError("initial_state must be h_0, or (h_0, c_0) for an LSTM")
            init = np.stack([np.asarray(p, self.dtype) for p in parts])
            if init.shape != (S, L * dirs, N, H):
                raise ValueError(f"each initial state must have shape {(L * dirs, N, H)}, got {init.shape[1:]}")
        h = np.ascontiguousarray(x.transpose(1, 0, 2))  # (T, N, D)
        caches, finals = [], []
        for k, layer in enumerate(self.layers):
            st = [tuple(init[s, k * dirs + d] for s in range(S)) for d in range(dirs)]
            if isinstance(layer, Bidirectional):
                (seq_f, seq_b), (fin_f, fin_b), cache = layer.run(h, (st[0], st[1]), mask_tm, training)
                h = np.concatenate([seq_f, seq_b], axis=-1)  # (T, N, 2H)
                finals += [fin_f, fin_b]
            else:
                h, fin, cache = layer.run(h, st[0], mask_tm, training)
                finals.append(fin)
            caches.append(cache)
        y = h if not self.batch_first else h.transpose(1, 0, 2)
        states = [np.stack([f[s] for f in finals]) for s in range(S)]  # each (L*dirs, N, H)
        out = (np.ascontiguousarray(y), states[0] if S == 1 else (states[0], states[1]))
        return out, {"caches": caches, "shape": (N, T, x.shape[2])}

    def backward(self, dout: Any, cache: dict[str, Any]) -> tuple[np.ndarray, Any]:
        dy, dstate = dout
        S = 2 if self.kind == "lstm" else 1
        L, dirs = len(self.layers), self.directions
        N = cache["shape"][0]
        dparts = (dstate,) if S == 1 else (tuple(dstate) if dstate is not None else (None, None))
        dfin = [[None if d is None else np.asarray(d, self.dtype)[i] for d in dparts] for i in range(L * dirs)]
        dh = None
        if dy is not None:
            dy = np.asarray(dy, self.dtype)
            dh = np.ascontiguousarray(dy if not self.batch_first else dy.transpose(1, 0, 2))  # (T, N, dirs*H)
        dinit = np.zeros((S, L * dirs, N, self.hidden_size), self.dtype)
        for k in reversed(range(L)):
            layer = self.layers[k]
            if isinstance(layer, Bidirectional):
                H = layer.forward_layer.units
                dseqs = (None, None) if dh is None else (dh[..., :H], dh[..., H:])
                dh, (ds_f, ds_b) = layer.run_backward(
                    dseqs, (tuple(dfin[2 * k]), tuple(dfin[2 * k + 1])), cache["caches"][k]
                )
                ds = [ds_f, ds_b]
            else:
                dh, ds0 = layer.run_backward(dh, tuple(dfin[k]), cache["caches"][k])
                ds = [ds0]
            for d in range(dirs):
                for s in range(S):
                    dinit[s, k * dirs + d] = ds[d][s]
        dx = dh if not self.batch_first else dh.transpose(1, 0, 2)
        return np.ascontiguousarray(dx), (dinit[0] if S == 1 else (dinit[0], dinit[1]))


def _layer_from_torch(module: Any, k: int, suffix: str, dtype: str) -> Recurrent:
    import torch

    def get(name: str) -> np.ndarray | None:
        t = getattr(module, f"{name}_l{k}{suffix}", None)
        return None if t is None else t.detach().to(torch.float64).numpy()

    w_ih, w_hh, b_ih, b_hh = get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh")
    kind = _MODES[module.mode]
    H, D = module.hidden_size, w_ih.shape[1]
    common = dict(return_sequences=True, return_state=True, use_bias=module.bias, input_dim=D, dtype=dtype)
    if kind == "rnn":
        layer: Recurrent = SimpleRNN(H, activation="tanh" if module.mode == "RNN_TANH" else "relu", **common)
    elif kind == "lstm":
        layer = LSTM(H, **common)
    else:
        layer = GRU(H, reset_after=True, **common)
    params = {"W": w_ih.T, "W_R": w_hh.T}
    if module.bias:
        if kind == "gru":
            params["b"], params["b_R"] = b_ih, b_hh
        else:
            params["b"] = b_ih + b_hh
    layer.params = {n: np.ascontiguousarray(v, dtype=layer.dtype) for n, v in params.items()}
    layer.zero_grads()
    return layer


def from_torch(module: Any, dtype: str | None = None) -> TorchStyleRNN:
    """Copy a ``torch.nn.RNN``, ``LSTM`` or ``GRU`` (any layers, directions, ``batch_first``).

    ``dtype`` defaults to the module's (float32 or float64).
    """
    import torch

    if not isinstance(module, torch.nn.RNNBase) or module.mode not in _MODES:
        raise TypeError(f"from_torch takes a torch.nn.RNN, LSTM or GRU, got {type(module).__name__}")
    if getattr(module, "proj_size", 0):
        raise ValueError("LSTM with proj_size > 0 has no rnnlab counterpart")
    if module.dropout:
        warnings.warn(
            f"the module's dropout between layers ({module.dropout}) is not converted; the rnnlab stack applies none",
            stacklevel=2,
        )
    if dtype is None:
        dtype = "float64" if module.weight_ih_l0.dtype == torch.float64 else "float32"
    layers: list[Recurrent | Bidirectional] = []
    for k in range(module.num_layers):
        fwd = _layer_from_torch(module, k, "", dtype)
        if module.bidirectional:
            layers.append(Bidirectional(fwd, "concat", _layer_from_torch(module, k, "_reverse", dtype)))
        else:
            layers.append(fwd)
    return TorchStyleRNN(layers, batch_first=module.batch_first)


def _check_convertible(layer: Recurrent) -> None:
    where = f"{type(layer).__name__}({layer.units})"
    if isinstance(layer, GRU) and not layer.reset_after:
        raise ValueError(
            f"{where}: the notes' GRU (reset_after=False) applies the reset gate before the recurrent matrix; "
            "torch.nn.GRU applies it after, so it has no PyTorch counterpart. Use GRU(..., reset_after=True)."
        )
    if isinstance(layer, SimpleRNN):
        if layer.activation not in ("tanh", "relu"):
            raise ValueError(f"{where}: torch.nn.RNN supports activation 'tanh' or 'relu', not {layer.activation!r}")
    elif (layer.activation, layer.recurrent_activation) != ("tanh", "sigmoid"):
        raise ValueError(
            f"{where}: PyTorch's cells fix activation='tanh' and recurrent_activation='sigmoid'; this layer has "
            f"{layer.activation!r} and {layer.recurrent_activation!r}"
        )
    if not layer.built:
        raise ValueError(f"{where} is not built yet; call it once or pass input_dim")


def to_torch(obj: TorchStyleRNN | Recurrent | Bidirectional) -> Any:
    """A ``torch.nn.RNN``/``LSTM``/``GRU`` with ``obj``'s weights (``batch_first=True`` for layers).

    Refuses what PyTorch cannot express, with the reason: the notes' GRU, other activations,
    different units or kinds across the stack.
    """
    import torch

    if isinstance(obj, TorchStyleRNN):
        layers, batch_first = obj.layers, obj.batch_first
    elif isinstance(obj, Recurrent | Bidirectional):
        layers, batch_first = [obj], True
    else:
        raise TypeError(
            f"to_torch takes a TorchStyleRNN, SimpleRNN, LSTM, GRU or Bidirectional, got {type(obj).__name__}"
        )
    dirs_list = [[lay.forward_layer, lay.backward_layer] if isinstance(lay, Bidirectional) else [lay] for lay in layers]
    for lay in layers:
        if isinstance(lay, Bidirectional) and lay.merge_mode != "concat":
            raise ValueError(
                f"PyTorch concatenates the two directions; merge_mode {lay.merge_mode!r} has no counterpart"
            )
    first = dirs_list[0][0]
    for dirs in dirs_list:
        for lay in dirs:
            _check_convertible(lay)
            if (type(lay), lay.units, lay.use_bias, lay.activation) != (
                type(first),
                first.units,
                first.use_bias,
                first.activation,
            ):
                raise ValueError("PyTorch stacks need the same kind, units, bias and activation in every layer")
        if len(dirs) != len(dirs_list[0]):
            raise ValueError("PyTorch stacks need every layer uni- or every layer bidirectional")
    kwargs = dict(
        input_size=first.input_dim,
        hidden_size=first.units,
        num_layers=len(layers),
        bias=first.use_bias,
        batch_first=batch_first,
        bidirectional=len(dirs_list[0]) == 2,
    )
    torch_dtype = torch.float64 if first.dtype == np.float64 else torch.float32
    if isinstance(first, SimpleRNN):
        module = torch.nn.RNN(nonlinearity=first.activation, **kwargs)
    elif isinstance(first, LSTM):
        module = torch.nn.LSTM(**kwargs)
    else:
        module = torch.nn.GRU(**kwargs)
    module = module.to(torch_dtype)
    with torch.no_grad():
        for k, dirs in enumerate(dirs_list):
            for d, lay in enumerate(dirs):
                sfx = f"l{k}" + ("_reverse" if d else "")
                p = lay.params
                getattr(module, f"weight_ih_{sfx}").copy_(torch.from_numpy(np.ascontiguousarray(p["W"].T)))
                getattr(module, f"weight_hh_{sfx}").copy_(torch.from_numpy(np.ascontiguousarray(p["W_R"].T)))
                if first.use_bias:
                    getattr(module, f"bias_ih_{sfx}").copy_(torch.from_numpy(p["b"]))
                    b_hh = p["b_R"] if isinstance(lay, GRU) else np.zeros_like(p["b"])
                    getattr(module, f"bias_hh_{sfx}").copy_(torch.from_numpy(b_hh))
    return module
