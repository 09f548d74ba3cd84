"""Character-level language model on a plain-text file (e.g. tinyshakespeare), and text sampling.

The text is mapped to ids by a ``CharVocab`` built on the whole file (saved in the model's
metadata); the last 10 % of the characters are the validation text, the rest the training text.

Training, ``--bptt K`` (the default, ``K = 100``): stateful truncated BPTT over long streams, as
char-rnn does. The training text (``M`` characters) is laid out as ``N = --batch-size`` parallel
streams (``streams``): stream ``i`` is the ``i``-th contiguous ``1/N`` of the text, ``S = (M-1) // N``
characters, inputs ``ids[i*S : (i+1)*S]`` and targets shifted by one (the last target of stream ``i``
is the first input of stream ``i+1``; the last ``(M-1) % N`` characters are left out). Row ``i`` of
the ``(N, S)`` arrays is stream ``i``, and ``fit`` gets ``batch_size=N``, ``bptt_window=K`` and
``shuffle=False`` (``fit_options``): the whole text is ONE batch of ``fit``, which ``fit`` cuts into
``ceil(S/K)`` windows of ``K`` characters (the last one shorter if ``K`` does not divide ``S``),
trained in order, one update each, with the recurrent layers built ``stateful=True`` so that window
``j+1`` of every stream starts from the state window ``j`` ended in. ``fit`` resets the state at the
start of each batch, i.e. once per epoch, and each epoch passes over the whole training text once.
The gradient is cut at window boundaries (truncated BPTT); the state is not. Checkpoints keep the
carried state, so ``--resume`` mid-epoch continues the streams where they were.

Training, ``--bptt 0``: the training text is cut into non-overlapping windows of ``--length``
characters (from an offset drawn from ``--seed``): inputs ``ids[s : s+L]``, targets
``ids[s+1 : s+L+1]``, each window starting from a zero state, shuffled every epoch.

Two validation figures, both in nats per character, the same in both modes:

- ``valid_loss``: the validation text cut into windows of ``--length`` characters, each from a zero
  state. It is the loss ``fit`` reports as ``val_loss`` after every epoch (with ``--bptt``, ``fit``
  sets training's carried state aside for it) and the one ``rnnlab evaluate`` reproduces.
- ``valid_loss_stream``: the validation text read once from start to end in ``STREAM_ROWS`` long
  slices, the state carried from window to window (``run_with_state``), so almost every character
  sees its full context. This is the figure language-model papers report, and the one stateful
  training improves.

After training, ``rnnlab train`` turns the stateful layers into ordinary ones before saving
(``rnnlab.tasks.forget_carried_state``; the weights are the same): the saved model runs every call
from a zero state, for ``rnnlab evaluate`` (any ``--batch-size``) and ``rnnlab generate``.

``sample`` generates text one character at a time with the model's streaming stepper
(``Sequential.stepper``), which carries the recurrent states from one character to the next.

Shapes: ``N`` windows or streams, ``T`` time, ``V`` vocabulary size (``<unk>`` included), ``E``
embedding size.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from rnnlab.data import CharVocab, read_text
from rnnlab.layers import Bidirectional, Recurrent
from rnnlab.layers.dense import Dense
from rnnlab.layers.embedding import Embedding
from rnnlab.models import Sequential
from rnnlab.tasks import TaskData, optimizer_config, recurrent_layer

NAME = "chars"
DESCRIPTION = "character-level language model on a text file (e.g. tinyshakespeare); sample with rnnlab generate"

# Defaults for the flags of `rnnlab train` this task uses (the command line overrides them).
# `embedding` has no flag: the size E of the character vectors.
# `bptt`: windows of stateful truncated BPTT (0: independent windows of `length` from a zero state).
DEFAULTS = {"units": 256, "layers": 1, "epochs": 5, "lr": 2e-3, "batch_size": 64, "length": 100, "bptt": 100,
            "clipnorm": 5.0, "embedding": 64}

VALID_FRACTION = 0.1  # the last 10 % of the text
STREAM_ROWS = 8  # parallel slices of the validation text for valid_loss_stream

MISSING_DATA = "the chars task needs --data FILE.txt, a UTF-8 text file such as tinyshakespeare's input.txt"


def split_text(text: str) -> tuple[str, str]:
    """``(train, valid)``: the first 90 % of the characters and the last 10 %."""
    cut = len(text) - int(len(text) * VALID_FRACTION)
    return text[:cut], text[cut:]


def windows(ids: np.ndarray, length: int, offset: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Non-overlapping next-character windows: ``x (N, L)`` and ``y (N, L)``, ``y`` shifted by one."""
    n = (len(ids) - 1 - offset) // length
    if n < 1:
        raise ValueError(f"the text has {len(ids)} characters, too few for one window of --length {length}; "
                         "use a longer text or a smaller --length")
    x = ids[offset : offset + n * length].reshape(n, length)
    y = ids[offset + 1 : offset + n * length + 1].reshape(n, length)
    return x, y


def streams(ids: np.ndarray, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """``rows`` parallel next-character streams: ``x (rows, S)``, ``y (rows, S)``, ``S = (len(ids)-1) // rows``.

    Row ``i`` is the ``i``-th contiguous slice ``ids[i*S : (i+1)*S]``; ``y`` is ``x`` shifted by one
    character along the text (``y[i, -1] == x[i+1, 0]``).
    """
    S = (len(ids) - 1) // rows
    if S < 1:
        raise ValueError(f"the text has {len(ids)} characters, too few for {rows} streams (--batch-size) of at "
                         "least one character; use a longer text or a smaller --batch-size")
    x = ids[: rows * S].reshape(rows, S)
    y = ids[1 : rows * S + 1].reshape(rows, S)
    return x, y


def _read(path: str | Path) -> str:
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file; the chars task needs a UTF-8 text file (--data)")
    text = read_text(path)
    if len(text) < 20:
        raise ValueError(f"{path}: only {len(text)} characters; the chars task needs a longer text")
    return text


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _bptt(args: Any) -> int:
    """``--bptt``: the window of stateful training, 0 for independent zero-state windows."""
    K = getattr(args, "bptt", None)
    K = DEFAULTS["bptt"] if K is None else K
    if not isinstance(K, int) or isinstance(K, bool) or K < 0:
        raise ValueError(f"--bptt must be a non-negative integer (0: independent windows of --length), got {K!r}")
    return K


def load(args: Any) -> TaskData:
    """Read ``--data``, build the vocabulary, lay out the training text (streams with ``--bptt K``,
    windows with ``--bptt 0``) and cut the validation text into windows."""
    if not getattr(args, "data", None):
        raise ValueError(MISSING_DATA)
    K = _bptt(args)
    text = _read(args.data)
    vocab = CharVocab.build(text)
    train_text, valid_text = split_text(text)
    L = args.length
    if L < 1:
        raise ValueError(f"--length must be a positive integer, got {L}")
    if K:
        train = streams(vocab.encode(train_text), args.batch_size)
    else:
        offset = int(np.random.default_rng(args.seed).integers(0, L))
        train = windows(vocab.encode(train_text), L, offset if len(train_text) > 2 * L else 0)
    valid = windows(vocab.encode(valid_text), L)
    metadata = {"task": NAME, "data_file": str(Path(args.data).resolve()), "sha256": _digest(text),
                "length": L, "bptt": K, "vocab": vocab.to_dict()}
    return TaskData(train, valid, valid, metadata)


def fit_options(args: Any, data: TaskData) -> dict[str, Any]:
    """With ``--bptt K``: ``fit`` cuts the one batch of streams into windows of ``K`` with the state carried."""
    K = _bptt(args)
    return {"bptt_window": K, "shuffle": False} if K else {}


def build_model(args: Any, data: TaskData) -> Sequential:
    """Embedding of the characters, ``--layers`` recurrent layers (stateful with ``--bptt``), logits."""
    V = len(data.metadata["vocab"]["chars"]) + 1
    E = int(getattr(args, "embedding", 64))
    K = _bptt(args)
    layers = [recurrent_layer(args, args.units, True, args.seed + i, stateful=K > 0) for i in range(args.layers)]
    model = Sequential([Embedding(V, E, dtype=args.dtype, seed=args.seed + 99), *layers,
                        Dense(V, dtype=args.dtype, seed=args.seed + 100)], seed=args.seed)
    x = data.train[0]
    updates = -(-x.shape[1] // K) if K else -(-len(x) // args.batch_size)  # per epoch
    return model.compile(optimizer_config(args, steps_per_epoch=updates), "sparse_categorical_crossentropy",
                         ["accuracy"])


def report(model: Sequential, data: TaskData) -> dict[str, float]:
    x, y = data.test
    result = model.evaluate(x, y)
    ids = np.concatenate([x.ravel(), y[-1, -1:]])  # the validation text the windows cover, in order
    return {"valid_loss": result["loss"], "valid_accuracy": result["accuracy"],
            "valid_loss_stream": stream_loss(model, ids, window=int(data.metadata["length"]))}


def test_data(metadata: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """The validation windows of the model's text file, re-read (refused if the file changed)."""
    path = Path(metadata["data_file"])
    if not path.is_file():
        raise ValueError(f"the model's text file {path} is gone; restore it (or retrain with --data FILE.txt)")
    text = _read(path)
    if _digest(text) != metadata["sha256"]:
        raise ValueError(f"{path} changed since the model was trained (its SHA-256 differs); "
                         "evaluate on the original text or retrain")
    vocab = CharVocab.from_dict(metadata["vocab"])
    return windows(vocab.encode(split_text(text)[1]), int(metadata["length"]))


# -- running a trained model with the state carried: streaming evaluation and sampling ------------


def _stepping_layers(model: Sequential) -> list[Any]:
    """The model's layers, each recurrent one replaced by a twin that returns its final state.

    The twins share the parameter arrays (no copy) and run with ``return_state=True``, so the state
    goes in (``initial_state``) and comes out explicitly.
    """
    out: list[Any] = []
    for layer in model.layers:
        if isinstance(layer, Bidirectional):
            raise ValueError("a bidirectional layer cannot run left to right with carried state; "
                             "the chars task uses unidirectional layers")
        if isinstance(layer, Recurrent):
            twin = type(layer)(**{**layer.get_config(), "return_sequences": True, "return_state": True,
                                  "stateful": False, "name": layer.name})
            if not twin.built:
                twin.build(layer.input_dim)
            twin.params = layer.params
            out.append(twin)
        elif isinstance(layer, Embedding | Dense) or not layer.params:
            out.append(layer)
        else:
            raise ValueError(f"cannot step a model with a {type(layer).__name__} layer")
    return out


def run_with_state(layers: list[Any], ids: np.ndarray, states: list[Any] | None) -> tuple[np.ndarray, list[Any]]:
    """Logits ``(N, T, V)`` for ``ids (N, T)`` from ``states`` (one entry per layer, None = zeros).

    Returns the logits and the final states, to pass in with the next ids.
    """
    states = list(states) if states is not None else [None] * len(layers)
    h: Any = ids
    for k, layer in enumerate(layers):
        if isinstance(layer, Recurrent):
            (h, *final), _ = layer.forward(h, initial_state=states[k])
            states[k] = final
        else:
            h, _ = layer.forward(h)
    return h, states


def stream_loss(model: Sequential, ids: np.ndarray, window: int = 100, rows: int = STREAM_ROWS) -> float:
    """Mean next-character loss (nats) over ``ids``, read in ``rows`` long slices with carried state.

    The text is cut into ``rows`` consecutive slices read in parallel, ``window`` characters at a
    time; only the first character of each slice starts from a zero state.
    """
    ids = np.asarray(ids, dtype=np.int64)
    rows = max(1, min(rows, (len(ids) - 1) // 2))
    x, y = streams(ids, rows)  # (rows, n): n characters predicted per slice
    n = x.shape[1]
    layers = _stepping_layers(model)
    states: list[Any] | None = None
    total = 0.0
    for s in range(0, n, window):
        logits, states = run_with_state(layers, x[:, s : s + window], states)  # (rows, w, V)
        z = logits.astype(np.float64)
        z -= z.max(axis=-1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
        total -= np.take_along_axis(logp, y[:, s : s + window, None], axis=-1).sum()
    return float(total / (rows * n))


def sample(model: Sequential, vocab: CharVocab, length: int, temperature: float = 1.0,
           rng: np.random.Generator | None = None, prime: str = "\n") -> str:
    """``length`` new characters after ``prime``, sampled one at a time with the state carried.

    The model streams (``model.stepper()``, one character per step, the recurrent states carried
    inside): the prime is read a character at a time; then each step turns the last logits into
    ``softmax(logits / temperature)`` over the known characters (never ``<unk>``), draws the next
    character and feeds it back. ``temperature == 0`` takes the most likely character.
    """
    if not isinstance(length, int) or isinstance(length, bool) or length < 0:
        raise ValueError(f"length must be a non-negative integer, got {length!r}")
    if not temperature >= 0.0:
        raise ValueError(f"temperature must be >= 0, got {temperature!r}")
    if not prime:
        raise ValueError("prime must hold at least one character (e.g. '\\n')")
    unknown = sorted({c for c in prime if c not in vocab})
    if unknown:
        raise ValueError(f"the prime has characters the model never saw: {unknown!r}; use characters of its "
                         f"vocabulary ({''.join(vocab.chars)!r})")
    rng = rng if rng is not None else np.random.default_rng()
    stepper = model.stepper()
    for c in vocab.encode(prime):
        logits = stepper.step(int(c))  # (V,)
    out = np.empty(length, dtype=np.int64)
    for t in range(length):
        z = logits.astype(np.float64)  # (V,)
        z[vocab.unk_index] = -np.inf
        if temperature == 0.0:
            nxt = int(np.argmax(z))
        else:
            z = z / temperature
            p = np.exp(z - z.max())
            nxt = int(rng.choice(len(p), p=p / p.sum()))
        out[t] = nxt
        if t + 1 < length:
            logits = stepper.step(nxt)
    return vocab.decode(out)
