"""Vocabularies of the token data sets.

Pure Python on purpose: the catalogue imports this module to state a data set's vocabulary in its
signature without generating any data. Every vocabulary puts `<pad>` at id 0 so embeddings and
sequence losses can agree on one padding id.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache

PAD = "<pad>"
BOS = "<bos>"
EOS = "<eos>"
UNK = "<unk>"
PAD_ID = 0
BOS_ID = 1  # in the seq2seq vocabularies
EOS_ID = 2

# Symbols of copy / reverse / sort in ASCII order, so sorting ids sorts the decoded text too.
SYMBOLS = string.digits + string.ascii_uppercase + string.ascii_lowercase
DATE_CHARS = string.ascii_lowercase + string.digits + " ,./-"


@dataclass(frozen=True)
class Vocab:
    """An ordered token list with its reverse index; ids are positions in `tokens`."""

    tokens: tuple[str, ...]
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(set(self.tokens)) != len(self.tokens):
            raise ValueError("vocabulary tokens must be unique")
        object.__setattr__(self, "_index", {t: i for i, t in enumerate(self.tokens)})

    def __len__(self) -> int:
        return len(self.tokens)

    def id(self, token: str) -> int:
        """Id of a token; unknown tokens map to `<unk>` when the vocabulary has one."""
        if token in self._index:
            return self._index[token]
        if UNK in self._index:
            return self._index[UNK]
        raise KeyError(f"token {token!r} is not in the vocabulary")

    def encode(self, tokens: Iterable[str]) -> list[int]:
        return [self.id(t) for t in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Tokens up to the first `<eos>`, leaving out `<pad>` and `<bos>`."""
        out: list[str] = []
        for i in ids:
            tok = self.tokens[int(i)]
            if tok == EOS:
                break
            if tok not in (PAD, BOS):
                out.append(tok)
        return out

    def text(self, ids: Iterable[int], sep: str = "") -> str:
        return sep.join(self.decode(ids))


def _seq2seq(symbols: Sequence[str]) -> Vocab:
    return Vocab((PAD, BOS, EOS, *symbols))


@cache
def symbol_vocab(n_symbols: int) -> Vocab:
    """copy / reverse / sort: the first `n_symbols` of 0-9, A-Z, a-z."""
    if not 1 <= n_symbols <= len(SYMBOLS):
        raise ValueError(f"n_symbols must be between 1 and {len(SYMBOLS)}")
    return _seq2seq(SYMBOLS[:n_symbols])


@cache
def addition_vocab() -> Vocab:
    return _seq2seq(string.digits + "+")


@cache
def date_vocab() -> Vocab:
    return _seq2seq(DATE_CHARS)


@cache
def char_vocab() -> Vocab:
    """Character-level English: newline and printable ASCII; anything else reads as `<unk>`."""
    return Vocab((PAD, UNK, "\n", *(chr(c) for c in range(32, 127))))


def word_vocab(words: Iterable[str]) -> Vocab:
    return Vocab((PAD, UNK, *sorted(set(words))))


@cache
def long_dependency_vocab(n_distractors: int) -> Vocab:
    """Two key tokens that decide the label, then `n_distractors` filler tokens."""
    return Vocab((PAD, "A", "B", *(f"d{i}" for i in range(n_distractors))))
