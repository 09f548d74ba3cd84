"""``Sequential``: a stack of layers with a loss and an optimizer, trained by rnnlab's own BPTT.

The model is the third level of the code (cell -> layer -> model): it chains the layers' explicit
forward/backward pairs, carries the padding mask from an ``Embedding(mask_zero=True)`` or from the
data to the recurrent layers and the loss, and owns saving and loading. The training loop itself
(batches, progress, checkpoints) lives in ``rnnlab.models.training``.

Shapes: ``N`` batch, ``T`` time, ``D`` features, ``Q`` outputs.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import numpy as np

from rnnlab import losses as losses_
from rnnlab import metrics as metrics_
from rnnlab import optim as optim_
from rnnlab.io import load_model_file, save_model_file
from rnnlab.io.errors import ModelFileError
from rnnlab.layers import GRU, LSTM, Bidirectional, Layer, Recurrent, SimpleRNN
from rnnlab.layers.dense import Dense
from rnnlab.layers.dropout import Dropout
from rnnlab.layers.embedding import Embedding
from rnnlab.layers.feature_embedding import FeatureEmbedding
from rnnlab.layers.streaming import SequentialStepper

# The only classes a model file may name: loading never imports or evaluates anything else.
LAYER_CLASSES: dict[str, type[Layer]] = {
    cls.__name__: cls
    for cls in (SimpleRNN, LSTM, GRU, Bidirectional, Dense, Dropout, Embedding, FeatureEmbedding)
}


def register_layer(cls: type[Layer]) -> type[Layer]:
    """Allow a custom layer class in model files (by its class name)."""
    LAYER_CLASSES[cls.__name__] = cls
    return cls


class Sequential:
    """Layers applied one after the other.

    Args:
        layers: the layers, first to last.
        name: a label for summaries.
        seed: seeds the shuffling of training batches.

    ``metadata`` is a JSON-able dict saved with the model (vocabularies, label names, the task).
    """

    def __init__(self, layers: Iterable[Layer] = (), name: str = "sequential", seed: int | None = None) -> None:
        self.layers: list[Layer] = []
        self.name = name
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.metadata: dict[str, Any] = {}
        self.optimizer: optim_.Optimizer | None = None
        self.loss: losses_.Loss | None = None
        self.metrics: list[metrics_.Metric] = []
        self.compile_config: dict[str, Any] | None = None
        for layer in layers:
            self.add(layer)

    # -- structure ------------------------------------------------------------------------------

    def add(self, layer: Layer) -> None:
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential takes rnnlab layers, got {type(layer).__name__}")
        if isinstance(layer, Recurrent | Bidirectional) and layer.return_state:
            raise ValueError(f"{layer.name}: return_state=True has no place in a Sequential model")
        names = {lay.name for lay in self.layers}
        if layer.name in names:
            base, k = layer.name, 1
            while f"{base}_{k}" in names:
                k += 1
            layer.name = f"{base}_{k}"
        self.layers.append(layer)

    @property
    def params(self) -> dict[str, np.ndarray]:
        """Every parameter, keyed ``layer_name/param`` (the arrays themselves, not copies)."""
        return {f"{layer.name}/{k}": v for layer in self.layers for k, v in layer.params.items()}

    @property
    def grads(self) -> dict[str, np.ndarray]:
        return {f"{layer.name}/{k}": v for layer in self.layers for k, v in layer.grads.items()}

    def get_weights(self) -> dict[str, np.ndarray]:
        return {k: v.copy() for k, v in self.params.items()}

    def set_weights(self, weights: dict[str, np.ndarray]) -> None:
        """Copy ``weights`` into the parameters, checking names and shapes.

        Layers not built yet are built first, their input size read off their kernel ``W (D, ...)``.
        """
        for layer in self.layers:
            if not layer.built:
                prefix = f"{layer.name}/" + ("forward/" if isinstance(layer, Bidirectional) else "")
                kernel = weights.get(prefix + "W")
                if kernel is not None:
                    layer.build(kernel.shape[0])
        params = self.params
        missing, extra = set(params) - set(weights), set(weights) - set(params)
        if missing or extra:
            raise ValueError(f"weights do not fit this model: missing {sorted(missing)}, unexpected {sorted(extra)}")
        for k, v in weights.items():
            if params[k].shape != v.shape:
                raise ValueError(f"weight {k}: the model has shape {params[k].shape}, got {v.shape}")
            params[k][...] = v

    def count_params(self) -> int:
        return int(sum(v.size for v in self.params.values()))

    def reset_states(self) -> None:
        """Forget the state carried by stateful recurrent layers."""
        for layer in self._recurrent_layers():
            layer.reset_states()

    def _recurrent_layers(self) -> list[Recurrent]:
        out: list[Recurrent] = []
        for layer in self.layers:
            if isinstance(layer, Bidirectional):
                out += [layer.forward_layer, layer.backward_layer]
            elif isinstance(layer, Recurrent):
                out.append(layer)
        return out

    # -- the forward/backward pair ----------------------------------------------------------------

    def forward(
        self, x: Any, mask: np.ndarray | None = None, training: bool = False
    ) -> tuple[np.ndarray, list[Any], np.ndarray | None]:
        """Run every layer. Returns ``(outputs, caches, mask of the outputs)``.

        ``mask (N, T)`` marks real steps of padded input; an ``Embedding`` or ``FeatureEmbedding`` with
        ``mask_zero`` adds its own.
        The output mask is the input mask while outputs are sequences, and None once a recurrent
        layer returns one vector per sequence.
        """
        if not self.layers:
            raise ValueError("the model has no layers; add some first")
        h, m, caches = x, mask, []
        for layer in self.layers:
            if isinstance(layer, Embedding | FeatureEmbedding):
                m = layer.compute_mask(h, m)
                h, cache = layer.forward(h, training=training)
            elif isinstance(layer, Recurrent | Bidirectional):
                h, cache = layer.forward(h, mask=m, training=training)
                if not layer.return_sequences:
                    m = None
            else:
                h, cache = layer.forward(h, training=training)
            caches.append(cache)
        return h, caches, m

    def backward(self, dout: np.ndarray, caches: list[Any]) -> np.ndarray | None:
        """BPTT through every layer; fills each layer's ``grads``. Returns the input gradient."""
        d = dout
        for layer, cache in zip(reversed(self.layers), reversed(caches), strict=True):
            d = layer.backward(d, cache)
            if isinstance(layer, Recurrent | Bidirectional):
                d = d[0]
        return d

    def __call__(self, x: Any, mask: np.ndarray | None = None) -> np.ndarray:
        return self.forward(x, mask)[0]

    def stepper(self) -> SequentialStepper:
        """Streaming inference: a ``SequentialStepper`` that runs the model one step at a time.

        ``gen = model.stepper()``, then ``y_t = gen.step(x_t)`` for each step (a token id, ids
        ``(N,)``, or features ``(D,)``/``(N, D)``); the recurrent states are carried inside
        (``gen.reset()``, ``gen.states``). Exact: ``y_t`` is what ``forward`` gives at that step of the
        sequence so far. Layers: Embedding or FeatureEmbedding first, unidirectional recurrent layers,
        Dense, Dropout (the identity); a Bidirectional or ``go_backwards`` layer is refused, by name.
        The weights are a snapshot taken now (call ``stepper()`` again after training), run under the
        backend in effect now. See ``rnnlab.layers.streaming`` and ``docs/streaming.md``.
        """
        return SequentialStepper(self.layers)

    # -- training API (Keras-like) ----------------------------------------------------------------

    def compile(
        self,
        optimizer: str | dict[str, Any] | optim_.Optimizer = "adam",
        loss: str = "sparse_categorical_crossentropy",
        metrics: Iterable[str | tuple[str, dict[str, Any]] | metrics_.Metric] = (),
        loss_options: dict[str, Any] | None = None,
    ) -> Sequential:
        """Choose the optimizer (name, config or object), the loss and the metrics by name.

        A metric with options is a pair: ``("within_tolerance", {"tol": 0.04})``.

        ``loss_options`` are keyword arguments bound to the loss (e.g. ``{"reduction":
        "sum_over_features"}`` for the binary cross-entropy's per-step negative log-likelihood).
        """
        self.optimizer = optim_.get(optimizer)
        base = losses_.get(loss)
        self.loss_options = dict(loss_options or {})
        if self.loss_options:
            opts = self.loss_options
            base = losses_.Loss(base.name, lambda o, t, m, fn=base.fn: fn(o, t, m, **opts))
        self.loss = base
        metric_names = []
        self.metrics = []
        for m in metrics:
            if isinstance(m, tuple):  # ("within_tolerance", {"tol": 0.04})
                self.metrics.append(metrics_.get(m[0], **m[1]))
                metric_names.append([m[0], m[1]])
            else:
                self.metrics.append(metrics_.get(m))
                metric_names.append(m if isinstance(m, str) else m.name)
        self.compile_config = {"optimizer": optim_.serialize(self.optimizer), "loss": base.name,
                               "loss_options": self.loss_options, "metrics": metric_names}
        return self

    def _require_compiled(self) -> None:
        if self.loss is None or self.optimizer is None:
            raise ValueError("compile the model first: model.compile(optimizer=..., loss=..., metrics=[...])")

    def fit(self, x: Any, y: Any, **kwargs: Any) -> Any:
        """Train; see ``rnnlab.models.training.fit`` for the arguments. Returns a ``History``."""
        from rnnlab.models.training import fit

        return fit(self, x, y, **kwargs)

    def evaluate(self, x: Any, y: Any, batch_size: int = 64, lengths: Any = None) -> dict[str, float]:
        """Loss and metrics over a whole dataset, weighted by the number of real elements."""
        from rnnlab.models.training import evaluate

        return evaluate(self, x, y, batch_size=batch_size, lengths=lengths)

    def predict(self, x: Any, batch_size: int = 64, lengths: Any = None) -> Any:
        """Outputs for ``x``: an array, or a list of per-sequence arrays for variable-length input."""
        from rnnlab.models.training import predict

        return predict(self, x, batch_size=batch_size, lengths=lengths)

    def summary(self, print_fn: Any = print) -> str:
        """A table of layers, output sizes and parameter counts."""
        rows = [("layer", "type", "parameters")]
        for layer in self.layers:
            rows.append((layer.name, repr(layer)[:70], f"{layer.count_params():,}"))
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        lines = [f"Model: {self.name}"]
        for i, r in enumerate(rows):
            lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
            if i == 0:
                lines.append("-" * (sum(widths) + 4))
        lines.append(f"Total parameters: {self.count_params():,}")
        text = "\n".join(lines)
        if print_fn is not None:
            print_fn(text)
        return text

    # -- configuration and files --------------------------------------------------------------------

    def get_config(self) -> dict[str, Any]:
        return {
            "class": "Sequential",
            "name": self.name,
            "seed": self.seed,
            "layers": [_layer_config(layer) for layer in self.layers],
            "built": [layer.built for layer in self.layers],
            "input_dims": [getattr(layer, "input_dim", None) for layer in self.layers],
            "compile": self.compile_config,
            "metadata": self.metadata,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Sequential:
        if not isinstance(config, dict) or config.get("class") != "Sequential":
            raise ValueError("not a Sequential model configuration (missing class 'Sequential')")
        model = cls([_layer_from_config(c) for c in config.get("layers", [])], name=config.get("name", "sequential"),
                    seed=config.get("seed"))
        for layer, built, dim in zip(model.layers, config.get("built", []), config.get("input_dims", []), strict=False):
            if built and not layer.built and dim is not None:
                layer.build(dim)
        model.metadata = dict(config.get("metadata") or {})
        if config.get("compile"):
            c = config["compile"]
            model.compile(c["optimizer"], c["loss"], [tuple(m) if isinstance(m, list) else m for m in c["metrics"]],
                          c.get("loss_options"))
        return model

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the architecture (JSON) and the weights to one safetensors file, atomically."""
        if not all(layer.built for layer in self.layers):
            raise ValueError("the model is not built yet (call it on data, or give input_dim), nothing to save")
        save_model_file(path, self.get_config(), self.get_weights())


def _layer_config(layer: Layer) -> dict[str, Any]:
    return {"class": type(layer).__name__, "config": layer.get_config()}


def _layer_from_config(entry: dict[str, Any]) -> Layer:
    if not isinstance(entry, dict) or "class" not in entry:
        raise ValueError(f"a layer entry must be {{'class': ..., 'config': ...}}, got {entry!r}")
    name = entry["class"]
    if name not in LAYER_CLASSES:
        raise ValueError(f"unknown layer class {name!r}; known: {', '.join(sorted(LAYER_CLASSES))}")
    config = dict(entry.get("config", {}))
    if name == "Bidirectional":
        fwd, bwd = _layer_from_config(config.pop("layer")), _layer_from_config(config.pop("backward_layer"))
        return Bidirectional(fwd, config.get("merge_mode", "concat"), bwd, name=config.get("name"))
    return LAYER_CLASSES[name](**config)


def load_model(path: str | os.PathLike[str]) -> Sequential:
    """Load a model saved by ``Sequential.save`` (no pickle; a foreign or corrupt file raises)."""
    config, weights = load_model_file(path)
    try:
        model = Sequential.from_config(config)
        model.set_weights(weights)
    except (ValueError, TypeError, KeyError) as err:
        raise ModelFileError(path, f"the model configuration does not load: {err}") from err
    return model
