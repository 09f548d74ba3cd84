"""Tests for rnnlab.data.vocab: id order, specials, min_freq, round trips and errors."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from rnnlab.data.vocab import Vocabulary


def test_order_is_specials_then_frequency_then_token():
    v = Vocabulary.build(["b", "a", "c", "a", "b", "d", "a"])
    # a x3, b x2, then c and d (x1) alphabetically
    assert v.tokens == ["<pad>", "<unk>", "a", "b", "c", "d"]
    assert (v.pad_index, v.unk_index, len(v)) == (0, 1, 6)
    assert v.to_dict() == Vocabulary.build(["d", "c", "b", "b", "a", "a", "a"]).to_dict()  # order-free


def test_encode_decode_round_trip_and_unknowns():
    sents = [["the", "cat", "sat"], ["the", "dog"]]
    v = Vocabulary.build(itertools.chain.from_iterable(sents))
    for s in sents:
        ids = v.encode(s)
        assert ids.dtype == np.int64 and ids.shape == (len(s),)
        assert v.decode(ids) == s
    assert v.encode(["the", "zebra"]).tolist() == [v.index("the"), 1]
    assert v.decode(np.array([], dtype=np.int64)) == []
    assert "cat" in v and "zebra" not in v


def test_min_freq_drops_rare_tokens_to_unk():
    v = Vocabulary.build(["a", "a", "b"], min_freq=2)
    assert v.tokens == ["<pad>", "<unk>", "a"]
    assert v.encode(["b"]).tolist() == [1]


def test_tag_vocabulary_without_unk_refuses_unknown_tags():
    tags = Vocabulary.build(["NOUN", "VERB", "NOUN"], specials=("<pad>",))
    assert tags.tokens == ["<pad>", "NOUN", "VERB"]
    assert (tags.pad_index, tags.unk_index) == (0, None)
    with pytest.raises(ValueError, match=r"token 'ADJ' at position 1 is not in the vocabulary, which has no '<unk>'"):
        tags.encode(["NOUN", "ADJ"])
    with pytest.raises(KeyError, match="ADJ"):
        tags.index("ADJ")


def test_specials_seen_in_the_data_are_not_duplicated():
    v = Vocabulary.build(["<unk>", "x", "<pad>"])
    assert v.tokens == ["<pad>", "<unk>", "x"]


def test_json_round_trip():
    v = Vocabulary.build(["ü", "a", "a", "🙂"], specials=("<pad>", "<unk>", "<bos>"))
    w = Vocabulary.from_dict(json.loads(json.dumps(v.to_dict())))
    assert (w.tokens, w.specials) == (v.tokens, v.specials)
    assert w.encode(["🙂", "?"]).tolist() == v.encode(["🙂", "?"]).tolist()


def test_errors():
    with pytest.raises(TypeError, match=r"expects str tokens, got list; .*chain\.from_iterable"):
        Vocabulary.build([["a", "b"]])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="got a single str"):
        Vocabulary.build("abc")
    with pytest.raises(ValueError, match="min_freq must be an integer >= 1, got 0"):
        Vocabulary.build(["a"], min_freq=0)
    with pytest.raises(ValueError, match="needs '<unk>' in specials"):
        Vocabulary.build(["a"], min_freq=2, specials=("<pad>",))
    with pytest.raises(ValueError, match="'<pad>' must be the first special"):
        Vocabulary.build(["a"], specials=("<unk>", "<pad>"))
    v = Vocabulary.build(["a"])
    with pytest.raises(ValueError, match=r"id 5 at position 0 is out of range; expected 0\.\.2"):
        v.decode([5])
    with pytest.raises(TypeError, match="1-D sequence of ints"):
        v.decode([[1]])
    with pytest.raises(TypeError, match="got a single str"):
        v.encode("a")
    with pytest.raises(ValueError, match=r"expected a dict from Vocabulary\.to_dict"):
        Vocabulary.from_dict({"tokens": ["a"]})
    with pytest.raises(ValueError, match="must be distinct, got 'a' more than once"):
        Vocabulary(["<pad>", "<unk>", "a", "a"])
