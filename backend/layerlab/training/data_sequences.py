"""Generated sequence-to-sequence tasks (9.5): copy, reverse, sort, addition, date translation.

Every sample is `src` (padded with <pad>=0 on the right), `tgt_in` = <bos> + target and
`tgt_out` = target + <eos>, both padded. Sources are unique within a data set, so a test source
never appears in training: accuracy measures generalisation, not memory.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from . import dates, tokens

Seq2Seq = tuple[np.ndarray, np.ndarray, np.ndarray]
SPECIALS = 3  # <pad>, <bos>, <eos> come before the symbols in every seq2seq vocabulary


def unique_rows(draw: Callable[[int], np.ndarray], n: int, max_rounds: int = 1000) -> np.ndarray:
    """Draw rows in batches until n distinct ones are found; keeps first occurrences, in draw order.

    Each batch is sized from the share of new rows the previous one yielded, so a set that asks
    for a large part of its universe needs a few large rounds rather than many small ones.
    """
    batch = n + n // 10 + 64
    rows = draw(batch)
    found = 0
    for _ in range(max_rounds):
        _, first = np.unique(rows, axis=0, return_index=True)
        rows = rows[np.sort(first)]
        if len(rows) >= n:
            return rows[:n]
        rate = max((len(rows) - found) / batch, 0.01)
        found = len(rows)
        batch = min(int((n - found) / rate * 1.2) + 64, 20 * n)
        rows = np.concatenate([rows, draw(batch)])
    raise RuntimeError(f"could not draw {n} distinct samples")


def teacher_forcing(targets: Sequence[Sequence[int]], width: int) -> tuple[np.ndarray, np.ndarray]:
    """(tgt_in, tgt_out) of shape [N, width + 1]: <bos> + target and target + <eos>, padded."""
    n = len(targets)
    tgt_in = np.zeros((n, width + 1), np.int64)
    tgt_out = np.zeros((n, width + 1), np.int64)
    for i, t in enumerate(targets):
        tgt_in[i, 0] = tokens.BOS_ID
        tgt_in[i, 1:len(t) + 1] = t
        tgt_out[i, :len(t)] = t
        tgt_out[i, len(t)] = tokens.EOS_ID
    return tgt_in, tgt_out


def _pad(rows: Sequence[Sequence[int]], width: int) -> np.ndarray:
    out = np.zeros((len(rows), width), np.int64)
    for i, r in enumerate(rows):
        out[i, :len(r)] = r
    return out


def symbols(task: str, n: int, seq_len: int, min_len: int, vocab_size: int, rng: np.random.Generator) -> Seq2Seq:
    """copy / reverse / sort of `vocab_size` symbols, lengths uniform in min_len..seq_len."""

    def draw(m: int) -> np.ndarray:
        lengths = rng.integers(min_len, seq_len + 1, m)
        ids = rng.integers(SPECIALS, SPECIALS + vocab_size, (m, seq_len), dtype=np.uint8)
        ids[np.arange(seq_len)[None, :] >= lengths[:, None]] = tokens.PAD_ID
        return ids

    src = unique_rows(draw, n).astype(np.int64)
    lengths = (src != tokens.PAD_ID).sum(axis=1)
    positions = np.arange(seq_len)[None, :]
    content = positions < lengths[:, None]
    if task == "reverse":
        target = np.where(content, np.take_along_axis(src, np.maximum(lengths[:, None] - 1 - positions, 0), 1), 0)
    elif task == "sort":
        target = np.sort(np.where(content, src, np.iinfo(np.int64).max), axis=1)
        target[~content] = tokens.PAD_ID
    else:
        target = src
    # Vectorised teacher_forcing: the target is right-padded, so <bos> + target and target + <eos> line up.
    n_rows = len(src)
    tgt_in = np.concatenate([np.full((n_rows, 1), tokens.BOS_ID), target], axis=1)
    tgt_out = np.concatenate([target, np.zeros((n_rows, 1), np.int64)], axis=1)
    tgt_out[np.arange(n_rows), lengths] = tokens.EOS_ID
    return src, tgt_in, tgt_out


def _operands(m: int, max_digits: int, rng: np.random.Generator) -> np.ndarray:
    """Numbers whose digit count is uniform in 1..max_digits, so short numbers are common too."""
    k = rng.integers(1, max_digits + 1, m)
    low = np.where(k == 1, 0, 10 ** (k - 1))
    return low + (rng.random(m) * (10**k - low)).astype(np.int64)


def addition(n: int, max_digits: int, rng: np.random.Generator) -> Seq2Seq:
    pairs = unique_rows(lambda m: np.stack([_operands(m, max_digits, rng), _operands(m, max_digits, rng)], 1), n)
    vocab = tokens.addition_vocab()
    src = _pad([vocab.encode(f"{a}+{b}") for a, b in pairs], 2 * max_digits + 1)
    tgt_in, tgt_out = teacher_forcing([vocab.encode(str(a + b)) for a, b in pairs], max_digits + 1)
    return src, tgt_in, tgt_out


def date_format(n: int, rng: np.random.Generator) -> Seq2Seq:
    def draw(m: int) -> np.ndarray:
        return np.stack([rng.integers(0, dates.N_DAYS, m), rng.integers(0, len(dates.FORMATS), m)], 1)

    vocab = tokens.date_vocab()
    pairs = [dates.render(int(d), int(f)) for d, f in unique_rows(draw, n)]
    src = _pad([vocab.encode(s) for s, _ in pairs], dates.max_source_len())
    tgt_in, tgt_out = teacher_forcing([vocab.encode(t) for _, t in pairs], dates.TARGET_LEN)
    return src, tgt_in, tgt_out
