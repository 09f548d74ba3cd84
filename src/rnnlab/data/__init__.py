"""Data for rnnlab: file readers, vocabularies, batching, synthetic tasks and the shipped EWT.

- ``conllu``: ``read_conllu`` -> ``Sentence(words, tags)`` for tagging (UPOS or XPOS).
- ``ts``: ``read_ts`` -> ``TimeSeriesDataset`` for UEA/UCR ``.ts`` classification files.
- ``music``: ``read_polyphonic`` for the piano-roll ``.mat`` files (needs SciPy).
- ``text``: ``read_text`` and ``CharVocab`` for character-level language models.
- ``vocab``: ``Vocabulary`` for words and tags (``<pad>`` = 0, ``<unk>`` = 1).
- ``batching``: ``pad_sequences`` (padded array + mask) and ``bucket_batches``.
- ``synthetic``: ``adding_problem`` and ``copy_memory``.
- ``ewt``: ``ewt_paths``/``load_ewt`` for the UD English Web Treebank inside the package.

Every sequence is time-first per example and batches are batch-major, ``(N, T, ...)``.
"""

from rnnlab.data.batching import bucket_batches, pad_sequences
from rnnlab.data.conllu import Sentence, read_conllu
from rnnlab.data.ewt import ewt_paths, load_ewt
from rnnlab.data.music import read_polyphonic
from rnnlab.data.synthetic import adding_problem, copy_memory
from rnnlab.data.text import CharVocab, read_text
from rnnlab.data.ts import TimeSeriesDataset, read_ts
from rnnlab.data.vocab import Vocabulary

__all__ = [
    "CharVocab",
    "Sentence",
    "TimeSeriesDataset",
    "Vocabulary",
    "adding_problem",
    "bucket_batches",
    "copy_memory",
    "ewt_paths",
    "load_ewt",
    "pad_sequences",
    "read_conllu",
    "read_polyphonic",
    "read_text",
    "read_ts",
]
