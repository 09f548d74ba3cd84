"""CoNLL-U reader for sequence tagging: each sentence becomes its words and one tag per word.

Format (https://universaldependencies.org/format.html): one word per line with 10 tab-separated
columns ``ID FORM LEMMA UPOS XPOS FEATS HEAD DEPREL DEPS MISC``, comment lines starting with
``#``, and a blank line after each sentence. Within a sentence word IDs run ``1, 2, ..., n``.
Two kinds of extra lines are not words and are skipped:

- multi-word tokens, ID ``a-b`` (``don't`` over the words ``do`` and ``n't``): the range line is
  skipped, the syntactic words ``a..b`` that follow it are kept;
- empty nodes, ID ``i.j`` (enhanced-dependency ellipsis): skipped.

Only ``FORM`` and the chosen tag column are kept. Every problem is a ``ValueError`` whose
message starts with ``file:line:`` and says what was found and what was expected.
"""

from __future__ import annotations

import re
from contextlib import closing
from dataclasses import dataclass

from rnnlab.data._lines import Source, iter_lines, located, source_name

# Tag column name -> 0-based index among the 10 columns (UPOS is column 4, XPOS column 5).
TAG_COLUMNS: dict[str, int] = {"upos": 3, "xpos": 4}

_N_COLUMNS = 10
_WORD_ID = re.compile(r"[1-9][0-9]*")
_RANGE_ID = re.compile(r"([1-9][0-9]*)-([1-9][0-9]*)")
_EMPTY_ID = re.compile(r"[0-9]+\.[1-9][0-9]*")


@dataclass(slots=True)
class Sentence:
    """One sentence: ``words[i]`` carries the tag ``tags[i]`` (same length)."""

    words: list[str]
    tags: list[str]

    def __post_init__(self) -> None:
        if len(self.words) != len(self.tags):
            raise ValueError(f"Sentence needs one tag per word, got {len(self.words)} words and {len(self.tags)} tags")

    def __len__(self) -> int:
        return len(self.words)


def read_conllu(source: Source, column: str = "upos") -> list[Sentence]:
    """Read every sentence of a CoNLL-U file as ``Sentence(words, tags)``.

    ``source`` is a path (plain or gzip-compressed) or a text file object. ``column`` chooses
    the tags: ``"upos"`` (column 4, the 17 universal tags) or ``"xpos"`` (column 5, the
    treebank's own tags, e.g. Penn Treebank tags in English EWT).

    A word whose chosen tag is ``_`` (unannotated) is an error rather than a silently invented
    tag: a tagger cannot be trained or scored on it. The last sentence counts even when the file
    does not end with a blank line. Comment-only blocks and repeated blank lines are ignored.
    """
    if column not in TAG_COLUMNS:
        raise ValueError(f"column must be one of {sorted(TAG_COLUMNS)}, got {column!r}")
    tag_index = TAG_COLUMNS[column]
    name = source_name(source)

    sentences: list[Sentence] = []
    words: list[str] = []
    tags: list[str] = []
    next_id = 1  # the ID the next word must have
    range_end = 0  # last word ID covered by the latest multi-word token
    range_line = 0

    def end_sentence(lineno: int) -> None:
        nonlocal words, tags, next_id, range_end
        if range_end >= next_id:
            raise located(
                name,
                lineno,
                f"the multi-word token on line {range_line} covers words up to {range_end}, but the "
                f"sentence ends after word {next_id - 1}; expected its words to follow it",
            )
        if words:
            sentences.append(Sentence(words, tags))
        words, tags, next_id, range_end = [], [], 1, 0

    lineno = 0
    with closing(iter_lines(source)) as lines:
        for lineno, line in lines:
            if not line.strip():
                end_sentence(lineno)
                continue
            if line.startswith("#"):
                continue
            cols = line.split("\t")
            if len(cols) != _N_COLUMNS:
                hint = " (columns must be separated by tabs, not spaces)" if len(cols) < 3 else ""
                raise located(name, lineno, f"expected {_N_COLUMNS} tab-separated columns, found {len(cols)}{hint}")
            word_id = cols[0]
            if _WORD_ID.fullmatch(word_id):
                if int(word_id) != next_id:
                    raise located(
                        name,
                        lineno,
                        f"word ID {word_id} is out of order: expected {next_id} (IDs run 1, 2, 3, ... "
                        "within a sentence, and a blank line must end each sentence)",
                    )
                tag = cols[tag_index]
                if tag in ("_", ""):
                    hint = "; this file may have no XPOS annotation, try column='upos'" if column == "xpos" else ""
                    raise located(
                        name,
                        lineno,
                        f"word {word_id} {cols[1]!r} has no {column.upper()} tag ({tag or 'empty'!r} in column "
                        f"{tag_index + 1}); expected a tag on every word{hint}",
                    )
                words.append(cols[1])
                tags.append(tag)
                next_id += 1
            elif m := _RANGE_ID.fullmatch(word_id):
                start, end = int(m.group(1)), int(m.group(2))
                if start != next_id or end <= start:
                    raise located(
                        name,
                        lineno,
                        f"multi-word token range {word_id} is invalid here: expected a range "
                        f"{next_id}-b with b > {next_id}",
                    )
                range_end, range_line = end, lineno
            elif _EMPTY_ID.fullmatch(word_id):
                continue
            else:
                raise located(
                    name,
                    lineno,
                    f"ID {word_id!r} is not a word ID: expected a positive integer (or a range "
                    "like '3-4' for a multi-word token, or a decimal like '5.1' for an empty node)",
                )
    end_sentence(lineno + 1)
    return sentences
