"""Part-of-speech tagging: the notes' sequence element classification, one tag per word.

Default data: the Universal Dependencies English Web Treebank shipped inside rnnlab (CC BY-SA 4.0,
``rnnlab/datasets/ud_english_ewt``); ``--train/--dev/--test`` take any CoNLL-U files instead.

Each word is a vector of ids (``Featurizer``): the normalised word (lower case, digits as 0; words
seen once in training become ``<unk>``), its suffixes of 1-4 letters, prefixes of 1-2 letters and a
word-shape class (``Xxxx`` -> ``Xx``, ``1990s`` -> ``dx``). The character features are what tags
unknown words. The model: ``FeatureEmbedding`` (with word dropout to ``<unk>``) -> dropout ->
``--layers`` bidirectional recurrent layers of ``--units`` per direction -> a softmax over the tags
at every word, trained with cross-entropy averaged over the real words of the batch.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

import numpy as np

from rnnlab.data import Sentence, Vocabulary, ewt_paths, read_conllu
from rnnlab.layers.dense import Dense
from rnnlab.layers.dropout import Dropout
from rnnlab.layers.feature_embedding import FeatureEmbedding
from rnnlab.models import Sequential
from rnnlab.tasks import TaskData, optimizer_config, recurrent_layer

NAME = "pos"
DESCRIPTION = "part-of-speech tagging of the English Web Treebank (UPOS) with a bidirectional recurrent tagger"
DEFAULTS = {"units": 128, "layers": 2, "epochs": 8, "lr": 2e-3, "lr_schedule": "cosine", "batch_size": 32}
FEATURES = ("word", "suffix1", "suffix2", "suffix3", "suffix4", "prefix1", "prefix2", "shape")
EMBED_SIZES = (100, 16, 24, 32, 32, 16, 16, 16)

_DIGITS = re.compile(r"\d")


def normalise(word: str) -> str:
    return _DIGITS.sub("0", word.lower())


def shape(word: str) -> str:
    """Character classes with repeats collapsed: ``Hello`` -> ``Xx``, ``U.S.`` -> ``X.X.``."""
    out: list[str] = []
    for ch in word[:12]:
        c = "X" if ch.isupper() else "x" if ch.islower() else "d" if ch.isdigit() else ch
        if not out or out[-1] != c:
            out.append(c)
    return "".join(out)


def token_features(word: str) -> tuple[str, ...]:
    low = word.lower()
    return (normalise(word), low[-1:], low[-2:], low[-3:], low[-4:], low[:1], low[:2], shape(word))


class Featurizer:
    """Words -> ``(T, F)`` id arrays, and tags -> ids, with vocabularies built from training data."""

    def __init__(self, vocabs: list[Vocabulary], tags: Vocabulary) -> None:
        self.vocabs, self.tags = vocabs, tags

    @classmethod
    def build(cls, sentences: list[Sentence]) -> Featurizer:
        feats = [token_features(w) for s in sentences for w in s.words]
        vocabs = [Vocabulary.build((f[0] for f in feats), min_freq=2)]
        vocabs += [Vocabulary.build(f[k] for f in feats) for k in range(1, len(FEATURES))]
        tags = Vocabulary.build(itertools.chain.from_iterable(s.tags for s in sentences), specials=())
        return cls(vocabs, tags)

    def encode_words(self, words: list[str]) -> np.ndarray:
        """``(T, F)`` int64 ids; unknown values map to ``<unk>``."""
        feats = [token_features(w) for w in words]
        return np.stack([v.encode([f[k] for f in feats]) for k, v in enumerate(self.vocabs)], axis=1)

    def encode(self, sentences: list[Sentence]) -> tuple[list[np.ndarray], list[np.ndarray]]:
        return [self.encode_words(s.words) for s in sentences], [self.tags.encode(s.tags) for s in sentences]

    def to_dict(self) -> dict[str, Any]:
        return {"features": list(FEATURES), "vocabs": [v.to_dict() for v in self.vocabs], "tags": self.tags.to_dict()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Featurizer:
        if d.get("features") != list(FEATURES):
            raise ValueError(f"the model's features {d.get('features')} differ from this rnnlab's {list(FEATURES)}")
        return cls([Vocabulary.from_dict(v) for v in d["vocabs"]], Vocabulary.from_dict(d["tags"]))


def _paths(args: Any) -> dict[str, str | None]:
    return {"train": args.train, "dev": args.dev, "test": args.test}


def _read(path: str | None, split: str) -> list[Sentence]:
    if path is None:
        return read_conllu(ewt_paths()[split])
    if not Path(path).exists():
        raise FileNotFoundError(f"no such CoNLL-U file: {path}")
    return read_conllu(path)


def load(args: Any) -> TaskData:
    paths = _paths(args)
    if any(paths.values()) and not paths["train"]:
        raise ValueError("with --dev or --test, also give --train FILE (a CoNLL-U file)")
    train = _read(paths["train"], "train")
    dev = _read(paths["dev"], "dev") if paths["dev"] or not paths["train"] else None
    test = _read(paths["test"], "test") if paths["test"] or not paths["train"] else None
    feat = Featurizer.build(train)
    unknown = [s for s in (dev or []) + (test or []) for t in s.tags if t not in feat.tags]
    if unknown:
        raise ValueError(f"the evaluation data has tags never seen in training, e.g. {unknown[0].tags}")
    meta = {"task": NAME, "featurizer": feat.to_dict(),
            "test_path": None if paths["train"] is None else paths["test"],
            "train_words": sum(len(s) for s in train)}
    return TaskData(feat.encode(train), feat.encode(dev) if dev else None,
                    feat.encode(test) if test else feat.encode(dev or train[:1]), meta)


def build_model(args: Any, data: TaskData) -> Sequential:
    feat = Featurizer.from_dict(data.metadata["featurizer"])
    layers: list[Any] = [
        FeatureEmbedding([len(v) for v in feat.vocabs], list(EMBED_SIZES), mask_zero=True, word_dropout=0.1,
                         dtype=args.dtype, seed=args.seed),
        Dropout(0.25, dtype=args.dtype, seed=args.seed + 1),
    ]
    for k in range(args.layers):
        layers.append(recurrent_layer(args, args.units, True, args.seed + 10 + k, bidirectional=True))
        layers.append(Dropout(0.25, dtype=args.dtype, seed=args.seed + 20 + k))
    layers.append(Dense(len(feat.tags), dtype=args.dtype, seed=args.seed + 2))
    model = Sequential(layers, name="pos_tagger", seed=args.seed)
    if args.clipnorm is None:
        args.clipnorm = 5.0
    return model.compile(optimizer_config(args, len(data.train[0])), "sparse_categorical_crossentropy", ["accuracy"])


def accuracy_report(model: Sequential, x: list[np.ndarray], y: list[np.ndarray]) -> dict[str, float]:
    """Token accuracy, and the accuracy on words whose normalised form is ``<unk>`` to the model."""
    pred = model.predict(x, batch_size=128)
    right = np.concatenate([p.argmax(-1) == t for p, t in zip(pred, y, strict=True)])
    unk = np.concatenate([s[:, 0] == 1 for s in x])
    unknown_accuracy = float(right[unk].mean()) if unk.any() else float("nan")  # nan: no unknown word in the data
    return {"test_accuracy": float(right.mean()), "test_unknown_word_accuracy": unknown_accuracy,
            "test_unknown_word_fraction": float(unk.mean())}


def report(model: Sequential, data: TaskData) -> dict[str, float]:
    return accuracy_report(model, *data.test)


def test_data(metadata: dict[str, Any]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    feat = Featurizer.from_dict(metadata["featurizer"])
    return feat.encode(_read(metadata.get("test_path"), "test"))


def tag(model: Sequential, words: list[str]) -> list[str]:
    """The tag of every word of one tokenised sentence."""
    if not words:
        raise ValueError("nothing to tag: give at least one word")
    feat = Featurizer.from_dict(model.metadata["featurizer"])
    scores = model.predict([feat.encode_words(words)])[0]
    return feat.tags.decode(scores.argmax(-1))
