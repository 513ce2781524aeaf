"""Token sets for recurrent models (9.5): next character of English text, sentiment with negation,
and the long-dependency classification that separates a plain RNN from an LSTM."""

from __future__ import annotations

import random
from functools import cache

import numpy as np

from . import corpus, sentences, tokens
from .data_sequences import unique_rows

Pair = tuple[np.ndarray, np.ndarray]


@cache
def _corpus_ids() -> np.ndarray:
    """The corpus as char-vocabulary ids; characters outside printable ASCII and newline read as <unk>."""
    vocab = tokens.char_vocab()
    table = np.full(128, vocab.id(tokens.UNK), np.int64)
    for code in range(128):
        if chr(code) in vocab.tokens:
            table[code] = vocab.id(chr(code))
    points = np.frombuffer(corpus.text().encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
    ids = np.where(points < 128, table[np.minimum(points, 127)], vocab.id(tokens.UNK))
    ids.flags.writeable = False
    return ids


def chars(n_train: int, n_test: int, seq_len: int, test_fraction: float, rng: np.random.Generator) -> tuple[Pair, Pair]:
    """Windows of seq_len characters and the same window shifted by one (the next characters).

    Train windows lie in the first part of the text and test windows in the last
    `test_fraction` of it, so no test character is ever seen in training.
    """
    ids = _corpus_ids()
    boundary = len(ids) - round(len(ids) * test_fraction)
    return _windows(ids[:boundary], n_train, seq_len, rng), _windows(ids[boundary:], n_test, seq_len, rng)


def _windows(ids: np.ndarray, n: int, seq_len: int, rng: np.random.Generator) -> Pair:
    starts = rng.integers(0, len(ids) - seq_len, n)
    offsets = starts[:, None] + np.arange(seq_len)[None, :]
    return ids[offsets], ids[offsets + 1]


def sentiment(n: int, rng: np.random.Generator) -> Pair:
    """Distinct sentences as padded word ids [n, T] and labels [n] (1 = positive)."""
    vocab = tokens.word_vocab(sentences.all_words())
    width = sentences.max_tokens()
    words_rng = random.Random(int(rng.integers(2**63)))

    def draw(m: int) -> np.ndarray:
        rows = np.zeros((m, width + 1), np.int64)  # the label rides along in the last column
        for i in range(m):
            words, label = sentences.sentence(words_rng)
            rows[i, :len(words)] = vocab.encode(words)
            rows[i, width] = label
        return rows

    rows = unique_rows(draw, n)
    return rows[:, :width], rows[:, width]


def long_dependency(n: int, seq_len: int, n_distractors: int, rng: np.random.Generator) -> Pair:
    """x = key token (A or B) followed by seq_len random distractors; the label is the key."""
    vocab = tokens.long_dependency_vocab(n_distractors)
    key_a, first_distractor = vocab.id("A"), vocab.id("d0")

    def draw(m: int) -> np.ndarray:
        keys = rng.integers(0, 2, (m, 1)) + key_a
        return np.concatenate([keys, rng.integers(first_distractor, first_distractor + n_distractors,
                                                  (m, seq_len))], axis=1)

    x = unique_rows(draw, n)
    return x, x[:, 0] - key_a
