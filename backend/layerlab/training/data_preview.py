"""A small JSON-able look at a data set for the UI's data-set picker (training split only).

Bounded by construction: ≤ 300 points for 2-D sets, ≤ 16 thumbnails (0..255 ints) for images,
≤ 8 rows for tables, ≤ 8 decoded pairs for seq2seq, ≤ 8 sentences or snippets for text.
"""

from __future__ import annotations

from typing import Any

import torch

from ..catalogue.datasets import DataSpec
from . import data_shipped, data_toys, tokens
from .data import IMAGES, TABLES, TOYS, Split, load_dataset

MAX_POINTS = 300
MAX_IMAGES = 16
MAX_ROWS = 8


def preview(spec: DataSpec) -> dict[str, Any]:
    bundle = load_dataset(spec)
    sig, train = bundle.signature, bundle.train
    head: dict[str, Any] = {"dataset": spec.dataset, "task": sig.task, "class_names": _list(sig.class_names),
                            "n_train": sig.n_train, "n_test": sig.n_test}
    vocab = tokens.Vocab(sig.vocab) if sig.vocab is not None else None
    if spec.dataset in TOYS:
        return head | _points(train)
    if spec.dataset in IMAGES:
        return head | _images(train)
    if spec.dataset in TABLES:
        return head | _rows(spec.dataset, train)
    if vocab is None:
        raise ValueError(f"no preview for data set {spec.dataset!r}")
    if sig.task == "seq2seq":
        return head | _pairs(train, vocab, sep="")
    return head | _texts(spec.dataset, train, vocab)


def _list(names: tuple[str, ...] | None) -> list[str] | None:
    return list(names) if names is not None else None


def _points(train: Split) -> dict[str, Any]:
    n = min(len(train), MAX_POINTS)
    x = train.inputs["x"][:n]
    target = train.target[:n].reshape(n)
    labels = [int(v) for v in target] if target.dtype == torch.int64 else [round(float(v), 4) for v in target]
    points = [[round(float(a), 4), round(float(b), 4), label] for (a, b), label in zip(x.tolist(), labels, strict=True)]
    return {"kind": "points", "domain": list(data_toys.DOMAIN), "points": points}


def _images(train: Split) -> dict[str, Any]:
    n = min(len(train), MAX_IMAGES)
    x = train.inputs["x"][:n]
    if x.dim() == 2:  # flattened: square images
        side = round(x.shape[1] ** 0.5)
        x = x.reshape(n, 1, side, side)
    pixels = (x[:, 0] * 255).round().clamp(0, 255).to(torch.int64)
    return {"kind": "images", "images": pixels.tolist(), "labels": [int(v) for v in train.target[:n]]}


def _rows(name: str, train: Split) -> dict[str, Any]:
    n = min(len(train), MAX_ROWS)
    rows = [[round(float(v), 3) for v in row] for row in train.inputs["x"][:n]]
    target = train.target[:n].reshape(n)
    labels = [int(v) for v in target] if target.dtype == torch.int64 else [round(float(v), 3) for v in target]
    return {"kind": "table", "columns": list(data_shipped.feature_names(name)), "rows": rows, "labels": labels}


def _pairs(train: Split, vocab: tokens.Vocab, sep: str) -> dict[str, Any]:
    n = min(len(train), MAX_ROWS)
    pairs = [{"source": vocab.text(train.inputs["src"][i].tolist(), sep),
              "target": vocab.text(train.target[i].tolist(), sep)} for i in range(n)]
    return {"kind": "pairs", "pairs": pairs}


def _texts(name: str, train: Split, vocab: tokens.Vocab) -> dict[str, Any]:
    n = min(len(train), MAX_ROWS)
    sep = "" if name == "chars" else " "
    texts = []
    for i in range(n):
        item: dict[str, Any] = {"text": vocab.text(train.inputs["x"][i].tolist(), sep)}
        if train.target.dim() == 1:
            item["label"] = int(train.target[i])
        texts.append(item)
    return {"kind": "texts", "texts": texts}
