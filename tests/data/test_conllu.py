"""Tests for rnnlab.data.conllu: the CoNLL-U rules, error messages, and the real EWT counts."""

from __future__ import annotations

import gzip
import io

import pytest

from rnnlab.data.conllu import Sentence, read_conllu


def row(word_id: str, form: str = "w", upos: str = "NOUN", xpos: str = "NN") -> str:
    """One CoNLL-U line with the 10 columns."""
    return "\t".join([word_id, form, form.lower(), upos, xpos, "_", "0", "root", "_", "_"])


def write(tmp_path, lines: list[str], name: str = "t.conllu") -> str:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


GOOD = [
    "# sent_id = 1",
    "# text = I don't know.",
    row("1", "I", "PRON", "PRP"),
    row("2-3", "don't", "_", "_"),
    row("2", "do", "AUX", "VBP"),
    row("3", "n't", "PART", "RB"),
    row("4", "know", "VERB", "VB"),
    row("4.1", "knew", "VERB", "VBD"),  # empty node: skipped
    row("5", ".", "PUNCT", "."),
    "",
    "# sent_id = 2",
    row("1", "Hi", "INTJ", "UH"),
    "",
]


def test_words_tags_multiword_tokens_and_empty_nodes(tmp_path):
    sents = read_conllu(write(tmp_path, GOOD))
    assert sents == [
        Sentence(["I", "do", "n't", "know", "."], ["PRON", "AUX", "PART", "VERB", "PUNCT"]),
        Sentence(["Hi"], ["INTJ"]),
    ]
    xpos = read_conllu(write(tmp_path, GOOD), column="xpos")
    assert xpos[0].tags == ["PRP", "VBP", "RB", "VB", "."]
    assert len(xpos[0]) == 5


def test_last_sentence_without_trailing_blank_line_and_extra_blank_lines(tmp_path):
    text = "\n\n" + "\n".join([row("1", "a"), "", "", "# only a comment", "", row("1", "b"), row("2", "c")])
    sents = read_conllu(io.StringIO(text))
    assert [s.words for s in sents] == [["a"], ["b", "c"]]


def test_gzip_path_and_crlf(tmp_path):
    path = tmp_path / "t.conllu.gz"
    path.write_bytes(gzip.compress("\r\n".join([*GOOD, ""]).encode()))
    assert read_conllu(path) == read_conllu(write(tmp_path, GOOD))


def test_empty_node_before_first_word(tmp_path):
    sents = read_conllu(io.StringIO("\n".join([row("0.1", "x"), row("1", "a"), ""])))
    assert sents[0].words == ["a"]


def test_an_underscore_form_is_a_word(tmp_path):
    assert read_conllu(io.StringIO(row("1", "_", "SYM") + "\n"))[0].words == ["_"]


@pytest.mark.parametrize(
    ("lines", "bad_line", "problem"),
    [
        ([row("1"), "1\tw\tw\tNOUN\tNN"], 2, "expected 10 tab-separated columns, found 5"),
        (
            [row("1"), "1 w w NOUN NN _ 0 root _ _"],
            2,
            r"expected 10 tab-separated columns, found 1 \(columns must be separated by tabs",
        ),
        ([row("1"), row("x")], 2, "ID 'x' is not a word ID: expected a positive integer"),
        ([row("1"), row("3")], 2, "word ID 3 is out of order: expected 2"),
        ([row("2")], 1, "word ID 2 is out of order: expected 1"),
        ([row("1"), "", row("2")], 3, "word ID 2 is out of order: expected 1"),
        ([row("1"), row("1")], 2, "word ID 1 is out of order: expected 2"),
        ([row("1"), row("2", "x", "_")], 2, r"word 2 'x' has no UPOS tag \('_' in column 4\)"),
        ([row("1"), row("2", "x", "")], 2, r"word 2 'x' has no UPOS tag \('empty' in column 4\)"),
        (
            [row("1"), row("3-4"), row("2")],
            2,
            "multi-word token range 3-4 is invalid here: expected a range 2-b",
        ),
        ([row("1"), row("2-3"), row("2"), ""], 4, "the multi-word token on line 2 covers words up to 3"),
    ],
)
def test_malformed_file_reports_file_line_and_problem(tmp_path, lines, bad_line, problem):
    path = write(tmp_path, lines, name="bad.conllu")
    with pytest.raises(ValueError, match=rf"bad\.conllu:{bad_line}: {problem}"):
        read_conllu(path)


def test_missing_xpos_hints_at_upos(tmp_path):
    path = write(tmp_path, [row("1", "a", "NOUN", "_")], name="noxpos.conllu")
    assert read_conllu(path)[0].tags == ["NOUN"]
    with pytest.raises(ValueError, match=r"noxpos\.conllu:1: .*no XPOS tag.*try column='upos'"):
        read_conllu(path, column="xpos")


def test_unknown_column_and_bad_sources(tmp_path):
    with pytest.raises(ValueError, match=r"column must be one of \['upos', 'xpos'\], got 'lemma'"):
        read_conllu(write(tmp_path, GOOD), column="lemma")
    with pytest.raises(TypeError, match=r"path .* or a text file object"):
        read_conllu(b"1\tw")  # type: ignore[arg-type]


def test_stream_errors_use_stream_name():
    with pytest.raises(ValueError, match=r"<stream>:1: expected 10"):
        read_conllu(io.StringIO("garbage\n"))


def test_sentence_checks_lengths():
    with pytest.raises(ValueError, match="one tag per word, got 2 words and 1 tags"):
        Sentence(["a", "b"], ["X"])


# Counts from shared/data/README.md: sentences, words, UPOS tag set size.
EWT_COUNTS = {"train": (12_544, 204_577), "dev": (2_001, 25_147), "test": (2_077, 25_094)}


@pytest.mark.parametrize("split", ["dev", "test"])
def test_real_ewt_counts(shared_file, split):
    sents = read_conllu(shared_file("ud_english_ewt", f"en_ewt-ud-{split}.conllu.gz"))
    assert (len(sents), sum(len(s) for s in sents)) == EWT_COUNTS[split]
    assert len({t for s in sents for t in s.tags}) == 17
    assert all(len(s.words) == len(s.tags) > 0 for s in sents)
