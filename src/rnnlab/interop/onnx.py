"""A way out to ONNX: ``to_onnx(model, path)`` writes a ``Sequential`` as an ONNX model file.

The recurrent layers become ONNX's own ``RNN``, ``LSTM`` and ``GRU`` operators (opset 14), so any
ONNX runtime runs them with its fused kernels; the file is written by rnnlab itself
(``rnnlab.interop._onnx_proto``), so exporting needs neither ``onnx`` nor PyTorch. The graph
computes what ``model(x)`` computes (inference: dropout off, each call from a zero state unless
``states=True``).

Graph inputs and output (``N`` batch, ``T`` time, ``D`` features, ``F`` id features)::

    x        (N, T, D) float          or token ids (N, T) / (N, T, F) int64 after an Embedding /
                                      FeatureEmbedding
    lengths  (N,) int64               only with ``lengths=True``: real steps per sequence, the
                                      padding at the end (as ``model.predict(x, lengths=...)``)
    h0_<layer>, c0_<layer>   (N, H) each, only with ``states=True``: the state to start from
    y        what ``model(x)`` returns: (N, T, Q) for sequence outputs, else (N, Q)
    h_<layer>, c_<layer>     (N, H) each, only with ``states=True``: the state after the last real
                             step, to feed back as the next call's ``h0``/``c0`` (streaming, generation)

An ``Embedding(mask_zero=True)`` turns into lengths computed in the graph, ``sum(x != 0)`` per row,
which is rnnlab's mask when the padding id 0 appears only at the end of each row.

Weight mapping, per direction (ONNX keeps the gates in its own order and the matrices transposed)::

    ONNX W = W[:, blocks].T    (G*H, D)     blocks: LSTM [i f c o] -> [i o f c]
    ONNX R = W_R[:, blocks].T  (G*H, H)             GRU  [r z h] -> [z r h]
    ONNX B = [b | b_R][blocks] (2*G*H,)     b_R is zero except for GRU(reset_after=True)

``GRU(reset_after=False)`` (the notes' GRU) is ONNX's ``linear_before_reset=0``; ``reset_after=True``
is ``linear_before_reset=1``. Activations map by name (``hard_sigmoid`` is ONNX's ``HardSigmoid``
with alpha 0.2, beta 0.5; ``linear`` is ``Affine`` with alpha 1, beta 0).
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from rnnlab import __version__
from rnnlab.interop import _onnx_proto as proto
from rnnlab.io.atomic import atomic_write_bytes
from rnnlab.layers.bidirectional import Bidirectional
from rnnlab.layers.dense import Dense
from rnnlab.layers.dropout import Dropout
from rnnlab.layers.embedding import Embedding
from rnnlab.layers.feature_embedding import FeatureEmbedding
from rnnlab.layers.gru import GRU
from rnnlab.layers.recurrent import Recurrent

__all__ = ["OPSET", "build", "graph_dtype", "io_names", "to_onnx"]

OPSET = 14  # RNN/LSTM/GRU-14; ir_version 7 is the first that carries it
_IR_VERSION = 7
_OPS = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}
_BLOCKS = {"rnn": [0], "lstm": [0, 3, 1, 2], "gru": [1, 0, 2]}  # rnnlab's gate blocks in ONNX's order
# rnnlab activation -> (ONNX activation, alpha, beta); alpha/beta only where ONNX uses them
_RNN_ACTIVATIONS = {"tanh": ("Tanh", None, None), "sigmoid": ("Sigmoid", None, None),
                    "relu": ("Relu", None, None), "hard_sigmoid": ("HardSigmoid", 0.2, 0.5),
                    "linear": ("Affine", 1.0, 0.0)}
_DENSE_ACTIVATIONS = {"tanh": "Tanh", "sigmoid": "Sigmoid", "relu": "Relu", "linear": None}  # hard_sigmoid: _dense


class _Graph:
    """Nodes and initializers under construction; every value gets a fresh, readable name."""

    def __init__(self, dtype: np.dtype) -> None:
        self.dtype = dtype
        self.nodes: list[bytes] = []
        self.initializers: list[bytes] = []
        self.names: set[str] = set()
        self.shared: dict[tuple[str, Any], str] = {}

    def fresh(self, hint: str) -> str:
        name, k = hint, 1
        while name in self.names:
            name, k = f"{hint}_{k}", k + 1
        self.names.add(name)
        return name

    def const(self, hint: str, array: Any, dtype: Any = None) -> str:
        name = self.fresh(hint)
        self.initializers.append(proto.tensor(name, np.asarray(array, dtype=dtype or self.dtype)))
        return name

    def ints(self, hint: str, values: int | list[int], dtype: Any = np.int64) -> str:
        """An integer constant (a scalar or a list), shared by every node that asks for the same one."""
        key = (hint, values if isinstance(values, int) else tuple(values), np.dtype(dtype).name)
        if key not in self.shared:
            self.shared[key] = self.const(hint, np.asarray(values, dtype), dtype)
        return self.shared[key]

    def op(self, op_type: str, inputs: list[str], hint: str, outputs: int = 1, **attributes: Any) -> list[str]:
        outs = [self.fresh(hint if outputs == 1 else f"{hint}_{k}") for k in range(outputs)]
        self.nodes.append(proto.node(op_type, inputs, outs, self.fresh(f"{hint}_node"), attributes))
        return outs

    def op1(self, op_type: str, inputs: list[str], hint: str, **attributes: Any) -> str:
        return self.op(op_type, inputs, hint, **attributes)[0]

    def output(self, name: str, value: str) -> str:
        """``value`` under the graph output name ``name`` (reserved by ``io_names``, so no layer took it)."""
        self.nodes.append(proto.node("Identity", [value], [name], self.fresh(f"{name}_node"), {}))
        return name


def _check_model(model: Any) -> None:
    from rnnlab.models.sequential import Sequential

    if not isinstance(model, Sequential):
        raise TypeError(f"to_onnx exports an rnnlab Sequential model, got {type(model).__name__}")
    if not model.layers:
        raise ValueError("the model has no layers; there is nothing to export")
    for layer in model.layers:
        if not layer.built:
            raise ValueError(f"layer {layer.name} is not built yet (call the model on data, or give input_dim)")
        if not isinstance(layer, Recurrent | Bidirectional | Dense | Dropout | Embedding | FeatureEmbedding):
            raise ValueError(f"layer {layer.name}: {type(layer).__name__} has no ONNX export")
        if isinstance(layer, Bidirectional) and layer.merge_mode is None:
            raise ValueError(f"layer {layer.name}: merge_mode=None returns two outputs; export needs one")
    if not model._recurrent_layers():
        raise ValueError("the model has no recurrent layer; rnnlab's ONNX export writes recurrent models "
                         "(their input is a sequence)")
    for layer in model.layers[1:]:
        if isinstance(layer, Embedding | FeatureEmbedding):
            raise ValueError(f"layer {layer.name}: an embedding must be the model's first layer")


def _recurrent(g: _Graph, layer: Recurrent, x_tm: str, lens: str, reverse: bool,
               initial: list[str] | None = None) -> tuple[str, list[str]]:
    """One ONNX RNN/LSTM/GRU node for ``layer`` on ``x_tm (T, N, D)``.

    Returns ``(Y (T, N, H), final states)``, the final states ``[h (N, H)]`` (LSTM: ``[h, c]``);
    ``reverse`` runs it ONNX's ``reverse`` direction (each sequence read from its last real step,
    ``Y`` kept in the original time order); ``initial``: graph values ``(N, H)`` to start from
    (``[h]`` or ``[h, c]``) instead of zeros.
    """
    H, kind, p = layer.units, layer.kind, layer.params
    blocks = np.concatenate([np.arange(k * H, (k + 1) * H) for k in _BLOCKS[kind]])
    zeros = np.zeros(len(blocks), layer.dtype)
    b = p["b"][blocks] if "b" in p else zeros
    b_r = p["b_R"][blocks] if "b_R" in p else zeros
    base = layer.name.replace("/", "_")
    W = g.const(f"{base}_W", p["W"][:, blocks].T[None])  # (1, G*H, D)
    R = g.const(f"{base}_R", p["W_R"][:, blocks].T[None])  # (1, G*H, H)
    B = g.const(f"{base}_B", np.concatenate([b, b_r])[None])  # (1, 2*G*H)
    names = [layer.activation] if kind == "rnn" else [layer.recurrent_activation, layer.activation]
    if kind == "lstm":
        names.append(layer.activation)  # h: the squashing of C_t in H_t = O_t * g(C_t)
    acts = [_RNN_ACTIVATIONS[n] for n in names]
    attributes: dict[str, Any] = {"hidden_size": H, "direction": "reverse" if reverse else "forward",
                                  "activations": [a[0] for a in acts]}
    if any(a[1] is not None for a in acts):
        attributes["activation_alpha"] = _parameter_list([a[1] for a in acts])
        attributes["activation_beta"] = _parameter_list([a[2] for a in acts])
    if isinstance(layer, GRU):
        attributes["linear_before_reset"] = int(layer.reset_after)
    zero = g.ints("axis_0", [0])
    inputs = [x_tm, W, R, B, lens]
    if initial:  # ONNX's initial_h [, initial_c]: (1, N, H); LSTM's peephole input P stays empty
        inputs += [g.op1("Unsqueeze", [initial[0], zero], f"{base}_h0")]
        if kind == "lstm":
            inputs += [g.op1("Unsqueeze", [initial[1], zero], f"{base}_c0"), ""]
    outs = g.op(_OPS[kind], inputs, base, outputs=3 if kind == "lstm" else 2, **attributes)
    seq = g.op1("Squeeze", [outs[0], g.ints("axis_1", [1])], f"{base}_seq")
    finals = [g.op1("Squeeze", [o, zero], f"{base}_{s}") for o, s in zip(outs[1:], layer.state_names, strict=True)]
    if initial and lens:  # a sequence with no real step in this call keeps its state, as rnnlab's stepper does
        # (ONNX Runtime returns zeros for a zero length)
        stepped = g.op1("Unsqueeze", [g.op1("Greater", [lens, g.ints("zero_int32", 0, np.int32)], "has_steps"),
                                      g.ints("axis_1", [1])], "has_steps_n1")
        finals = [g.op1("Where", [stepped, f, i], f"{base}_{s}_kept")
                  for f, i, s in zip(finals, initial, layer.state_names, strict=True)]
    return seq, finals


def _parameter_list(values: list[float | None]) -> list[float]:
    """``activation_alpha``/``_beta`` for activations whose parameters are ``values`` (None: takes none).

    ONNX says the values are "consumed in the order of activation functions", which runtimes read
    two ways: ONNX Runtime hands them out in order to the activations that take one, onnx-mlir reads
    entry ``k`` for activation ``k``. The list written here satisfies both: the ``j``-th activation
    that takes a value finds it at index ``j`` and at its own index. That is possible for every
    activation list rnnlab writes (for an LSTM, g and h are the same activation).
    """
    out: list[float | None] = [None] * len(values)
    takers = [(k, v) for k, v in enumerate(values) if v is not None]
    for j, (k, v) in enumerate(takers):
        for index in (j, k):
            if out[index] not in (None, v):
                raise ValueError(f"cannot write activation parameters {values} for both ways of reading them")
            out[index] = v
    return [0.0 if v is None else v for v in out]


def _merge(g: _Graph, mode: str, a: str, b: str, hint: str) -> str:
    if mode == "concat":
        return g.op1("Concat", [a, b], hint, axis=-1)
    if mode == "sum":
        return g.op1("Add", [a, b], hint)
    if mode == "mul":
        return g.op1("Mul", [a, b], hint)
    half = g.const("half", np.asarray(0.5))
    return g.op1("Mul", [g.op1("Add", [a, b], f"{hint}_sum"), half], hint)  # "ave"


def io_names(model: Any, *, lengths: bool = False, states: bool = False) -> tuple[list[str], list[str]]:
    """The names of the graph's inputs and outputs that ``build`` writes, in order."""
    carried = [(s, layer.name) for layer in model._recurrent_layers() for s in layer.state_names] if states else []
    inputs = ["x", *(["lengths"] if lengths else []), *(f"{s}0_{name}" for s, name in carried)]
    return inputs, ["y", *(f"{s}_{name}" for s, name in carried)]


def graph_dtype(model: Any, dtype: str | None = None) -> np.dtype:
    """The float type of ``model``'s graph: ``dtype``, or the layers' one when None (refused if they mix)."""
    layers = model.layers
    if dtype is None:
        dtypes = {layer.dtype.name for layer in layers if layer.params} or {"float32"}
        if len(dtypes) > 1:
            raise ValueError(f"the layers mix dtypes {sorted(dtypes)}; pass dtype= to export them as one")
        (dtype,) = dtypes
    elif dtype not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32', 'float64' or None (the model's), got {dtype!r}")
    return np.dtype(dtype)


def _embedding(g: _Graph, layer: Embedding | FeatureEmbedding, ids: str, lens: str) -> tuple[str, str]:
    """The lookup of the model's first layer on ``ids``; returns ``(vectors, lengths)``, the lengths
    counted from the nonzero ids with ``mask_zero`` (the smaller of them and ``lens`` when both)."""
    if layer.mask_zero:  # rnnlab's mask ids != 0 (feature 0), as lengths: the padding at the end
        words = ids if isinstance(layer, Embedding) else g.op1("Gather", [ids, g.ints("feature_0", 0)], "word_ids",
                                                                axis=2)
        padding = g.op1("Equal", [words, g.ints("pad_id", 0)], "is_padding")
        real = g.op1("Cast", [g.op1("Not", [padding], "is_real")], "real_int32", to=proto.INT32)
        counted = g.op1("ReduceSum", [real, g.ints("axis_1", [1])], "mask_lengths", keepdims=0)
        lens = counted if not lens else g.op1("Min", [lens, counted], "lengths_min")
    if isinstance(layer, Embedding):
        return g.op1("Gather", [g.const(f"{layer.name}_E", layer.params["E"]), ids], layer.name, axis=0), lens
    parts = []
    for f in range(len(layer.input_dims)):
        ids_f = g.op1("Gather", [ids, g.ints(f"feature_{f}", f)], f"{layer.name}_ids{f}", axis=2)
        parts.append(g.op1("Gather", [g.const(f"{layer.name}_E{f}", layer.params[f"E{f}"]), ids_f],
                           f"{layer.name}_{f}", axis=0))
    return g.op1("Concat", parts, layer.name, axis=-1), lens


def _dense(g: _Graph, layer: Dense, h: str) -> str:
    """``f(h W + b)`` on the last axis."""
    h = g.op1("MatMul", [h, g.const(f"{layer.name}_W", layer.params["W"])], f"{layer.name}_xW")
    if layer.use_bias:
        h = g.op1("Add", [h, g.const(f"{layer.name}_b", layer.params["b"])], f"{layer.name}_a")
    if layer.activation == "hard_sigmoid":  # clip(0.2 a + 0.5, 0, 1) with constants of the graph's dtype
        # (HardSigmoid's alpha is a float32 attribute, 0.2 rounded: 2e-9 off in a float64 graph)
        a = g.op1("Add", [g.op1("Mul", [h, g.const("slope", np.asarray(0.2))], f"{layer.name}_scaled"),
                          g.const("offset", np.asarray(0.5))], f"{layer.name}_shifted")
        return g.op1("Clip", [a, g.const("zero", np.asarray(0.0)), g.const("one", np.asarray(1.0))], layer.name)
    act = _DENSE_ACTIVATIONS[layer.activation]
    return h if act is None else g.op1(act, [h], layer.name)


def build(model: Any, *, lengths: bool = False, states: bool = False, dtype: str | None = None) -> bytes:
    """The ONNX model of ``model`` as bytes (``to_onnx`` writes them to a file)."""
    _check_model(model)
    if states:
        for layer in model.layers:
            if isinstance(layer, Bidirectional) or (isinstance(layer, Recurrent) and layer.go_backwards):
                raise ValueError(f"layer {layer.name}: states=True carries the state of layers that read left to "
                                 "right; a Bidirectional or go_backwards layer has no state to carry")
    layers = model.layers
    dtype = graph_dtype(model, dtype)
    g = _Graph(dtype)
    input_names, output_names = io_names(model, lengths=lengths, states=states)
    g.names.update(input_names + output_names)  # reserved: no layer's value takes them
    state_in, state_out = iter(input_names[1 + lengths :]), iter(output_names[1:])
    first = layers[0]
    x = "x"
    if isinstance(first, Embedding):
        inputs = [proto.value_info(x, proto.INT64, ["batch", "time"])]
    elif isinstance(first, FeatureEmbedding):
        inputs = [proto.value_info(x, proto.INT64, ["batch", "time", len(first.input_dims)])]
    else:
        D = getattr(first, "input_dim", None)
        if isinstance(first, Bidirectional):
            D = first.forward_layer.input_dim
        inputs = [proto.value_info(x, proto.DATA_TYPES[dtype], ["batch", "time", D or "features"])]
    lens = ""
    carried: list[tuple[str, int]] = []  # with states: each recurrent layer's final states, (name, H)
    if lengths:
        given = "lengths"
        inputs.append(proto.value_info(given, proto.INT64, ["batch"]))
        lens = g.op1("Cast", [given], "lengths_int32", to=proto.INT32)

    h, time_major, sequence = x, False, True
    for layer in layers:
        if isinstance(layer, Embedding | FeatureEmbedding):
            h, lens = _embedding(g, layer, h, lens)
        elif isinstance(layer, Recurrent | Bidirectional):
            if not sequence:
                raise ValueError(f"layer {layer.name} needs a sequence, but the layer before it returns one vector")
            if not time_major:
                h, time_major = g.op1("Transpose", [h], "time_major", perm=[1, 0, 2]), True
            if isinstance(layer, Bidirectional):
                seq_f, (last_f, *_) = _recurrent(g, layer.forward_layer, h, lens, reverse=False)
                seq_b, (last_b, *_) = _recurrent(g, layer.backward_layer, h, lens, reverse=True)
                a, b = (seq_f, seq_b) if layer.return_sequences else (last_f, last_b)
                h = _merge(g, layer.merge_mode, a, b, layer.name)
            else:
                initial = None
                if states:
                    initial = [next(state_in) for _ in layer.state_names]
                    inputs += [proto.value_info(v, proto.DATA_TYPES[dtype], ["batch", layer.units]) for v in initial]
                seq, finals = _recurrent(g, layer, h, lens, reverse=layer.go_backwards, initial=initial)
                last = finals[0]
                if states:
                    carried += [(g.output(next(state_out), v), layer.units) for v in finals]
                if layer.return_sequences and layer.go_backwards:  # Keras: outputs in processing order
                    seq = g.op1("Slice", [seq, g.ints("start_last", [-1]), g.ints("to_first", [-(2**63)]),
                                          g.ints("axis_0", [0]), g.ints("step_back", [-1])], f"{layer.name}_flip")
                h = seq if layer.return_sequences else last
            if not layer.return_sequences:
                sequence, time_major = False, False
        elif isinstance(layer, Dense):
            h = _dense(g, layer, h)
        # Dropout: the identity at inference
    if time_major:
        h = g.op1("Transpose", [h], "batch_major", perm=[1, 0, 2])
    y = g.output("y", h)
    last = layers[-1]
    width = last.units if isinstance(last, Dense) else None
    shape: list[int | str] = ["batch", "time", width or "outputs"] if sequence else ["batch", width or "outputs"]
    outputs = [proto.value_info(y, proto.DATA_TYPES[dtype], shape)]
    outputs += [proto.value_info(v, proto.DATA_TYPES[dtype], ["batch", units]) for v, units in carried]
    body = proto.graph(model.name or "rnnlab", g.nodes, g.initializers, inputs, outputs)
    metadata = {"rnnlab.config": json.dumps(model.get_config(), default=str)}
    return proto.model(body, ir_version=_IR_VERSION, opset=OPSET, producer="rnnlab", version=__version__,
                       metadata=metadata)


def to_onnx(model: Any, path: str | os.PathLike[str], *, lengths: bool = False, states: bool = False,
            dtype: str | None = None) -> None:
    """Write ``model`` (a built ``Sequential``) as an ONNX model file, atomically.

    Args:
        lengths: add a graph input ``lengths (N,)`` (int64) for right-padded batches; without it
            every step of ``x`` is real (or, after ``Embedding(mask_zero=True)``, every nonzero id).
        states: carry the recurrent state from call to call, for streaming and generation: every
            recurrent layer gets inputs ``h0_<layer>`` (LSTM: and ``c0_<layer>``), ``(N, H)``, and
            the graph returns, after ``y``, its final states ``h_<layer>`` [``c_<layer>``] in layer
            order; feed them back (zeros at the start). Layers must read left to right.
        dtype: the graph's float type; None keeps the model's. ``"float32"`` exports a float64
            model for ONNX Runtime, whose CPU RNN, LSTM and GRU kernels take float32 only.

    The graph's inputs and output are described in the module docstring. The model's
    configuration and ``metadata`` (vocabularies, labels) go into the file's ``metadata_props``
    under ``rnnlab.config``, as JSON.
    """
    atomic_write_bytes(path, build(model, lengths=lengths, states=states, dtype=dtype))
