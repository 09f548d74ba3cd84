"""Tests for rnnlab.data.text: read_text and CharVocab (round trips, <unk>, JSON, errors)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rnnlab.data.text import UNK_CHAR, CharVocab, read_text


def test_read_text_keeps_content_and_drops_bom(tmp_path):
    p = tmp_path / "t.txt"
    p.write_bytes("\ufeffHé\r\nllo ✓\n".encode())
    assert read_text(p) == "Hé\r\nllo ✓\n"


def test_read_text_undecodable_bytes_name_file_line_and_offset(tmp_path):
    p = tmp_path / "latin1.txt"
    p.write_bytes(b"one\ntwo\ncaf\xe9\n")
    with pytest.raises(ValueError, match=r"latin1\.txt:3: byte b'\\xe9' at offset 11 is not valid UTF-8"):
        read_text(p)


def test_charvocab_round_trip_and_order():
    text = "hello, wörld! ✓\n"
    v = CharVocab.build(text)
    assert v.chars == sorted(set(text))  # code-point order, deterministic
    assert len(v) == len(set(text)) + 1  # + <unk>
    ids = v.encode(text)
    assert ids.dtype == np.int64 and ids.shape == (len(text),)
    assert ids.min() >= 1  # every character is known
    assert v.decode(ids) == text
    assert v.decode(ids.tolist()) == text
    assert "h" in v and "z" not in v


def test_charvocab_unknown_chars_map_to_unk():
    v = CharVocab.build("abc")
    ids = v.encode("a?c🙂")
    assert ids.tolist() == [1, CharVocab.unk_index, 3, CharVocab.unk_index]
    assert v.decode(ids) == f"a{UNK_CHAR}c{UNK_CHAR}"
    assert v.encode("").shape == (0,)
    assert v.decode([]) == ""
    assert CharVocab.build("").encode("ab").tolist() == [0, 0]


def test_charvocab_json_round_trip():
    v = CharVocab.build("The quick brown fox\n🙂")
    d = json.loads(json.dumps(v.to_dict()))
    w = CharVocab.from_dict(d)
    assert w.chars == v.chars
    np.testing.assert_array_equal(w.encode("fox 🙂!"), v.encode("fox 🙂!"))


def test_charvocab_errors():
    v = CharVocab.build("ab")
    with pytest.raises(ValueError, match=r"id 3 at position 1 is out of range; expected 0\.\.2"):
        v.decode([1, 3])
    with pytest.raises(TypeError, match="1-D sequence of ints, got float64"):
        v.decode(np.array([1.0]))
    with pytest.raises(TypeError, match="encode expects a str, got list"):
        v.encode(["a"])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="build expects a str"):
        CharVocab.build(["a"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"expected a dict from CharVocab\.to_dict"):
        CharVocab.from_dict({"chars": ["a"]})
    with pytest.raises(ValueError, match="single characters, got 'ab' at position 0"):
        CharVocab(["ab"])
    with pytest.raises(ValueError, match="distinct"):
        CharVocab(["a", "a"])


def test_real_tinyshakespeare_round_trip(shared_file):
    text = read_text(shared_file("tinyshakespeare", "input.txt"))
    v = CharVocab.build(text)
    assert len(v) == 66  # 65 characters + <unk>
    ids = v.encode(text)
    assert v.decode(ids) == text
