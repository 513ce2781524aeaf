"""Load a data set from its spec: offline, deterministic from spec.seed, split into train and test.

The pipeline is the same for every set: generate (or read) the pool, split it with a seeded
permutation, keep `labels_per_class` training samples per class, corrupt `label_noise` of the
training labels, then standardise tables / resize images using training statistics only.
Each step draws from its own random stream, so e.g. changing labels_per_class keeps the split.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..catalogue.datasets import DATASETS, DatasetSignature, DataSpec, knob_values, signature, split_sizes
from ..catalogue.errors import SpecError
from . import data_sequences, data_shipped, data_text, data_toys

Arrays = tuple[dict[str, np.ndarray], np.ndarray]
TOYS = frozenset(data_toys.GENERATORS)
IMAGES = frozenset({"digits", "mnist5k"})
TABLES = frozenset({"iris", "wine", "breast_cancer", "diabetes"})
# Random streams, one per step of the pipeline.
GENERATE, SPLIT, PICK, CORRUPT = range(4)


@dataclass(frozen=True)
class Split:
    """One split: input tensors by data-set field name (the model's input nodes) and the target."""

    inputs: dict[str, torch.Tensor]
    target: torch.Tensor

    def __len__(self) -> int:
        return int(self.target.shape[0])

    def subset(self, index: np.ndarray) -> Split:
        idx = torch.from_numpy(np.asarray(index, dtype=np.int64))
        return Split({k: v[idx] for k, v in self.inputs.items()}, self.target[idx])


@dataclass(frozen=True)
class DatasetBundle:
    spec: DataSpec
    signature: DatasetSignature
    train: Split
    test: Split


def load_dataset(spec: DataSpec) -> DatasetBundle:
    sig = signature(spec)
    knobs = knob_values(spec)
    if spec.dataset == "chars":
        (x_tr, y_tr), (x_te, y_te) = data_text.chars(sig.n_train, sig.n_test, knobs["seq_len"], spec.test_fraction,
                                                     _rng(spec.seed, GENERATE))
        train, test = Split({"x": _tensor(x_tr)}, _tensor(y_tr)), Split({"x": _tensor(x_te)}, _tensor(y_te))
    else:
        train, test = _split(*_pool(spec.dataset, knobs, _rng(spec.seed, GENERATE)), knobs, spec)
    if knobs.get("labels_per_class") is not None:
        train = _per_class(train, knobs["labels_per_class"], sig, _rng(spec.seed, PICK))
    if knobs.get("label_noise"):
        train = _corrupt(train, knobs["label_noise"], sig.num_classes or 0, _rng(spec.seed, CORRUPT))
    train, test = _finish(spec.dataset, knobs, train, test)
    _check(sig, train, test)
    return DatasetBundle(spec, sig, train, test)


def _rng(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, stream])


def _tensor(a: np.ndarray) -> torch.Tensor:
    """A tensor that owns writable memory (copies only read-only or non-contiguous arrays)."""
    return torch.from_numpy(np.require(a, requirements=["C_CONTIGUOUS", "WRITEABLE", "OWNDATA"]))


def _pool(name: str, k: dict[str, Any], rng: np.random.Generator) -> Arrays:
    """Every sample of the set before splitting, as numpy arrays."""
    if name in TOYS:
        xy, target = data_toys.generate(name, k["n_samples"], k["noise"], rng)
        return {"x": xy}, target
    if name in IMAGES:
        x, y = data_shipped.images(name)
        return {"x": x}, y
    if name in TABLES:
        x, y = data_shipped.table(name)
        return {"x": x}, y
    if name in ("copy", "reverse", "sort"):
        src, tgt_in, tgt_out = data_sequences.symbols(name, k["n_samples"], k["seq_len"], k["min_len"],
                                                      k["vocab_size"], rng)
    elif name == "addition":
        src, tgt_in, tgt_out = data_sequences.addition(k["n_samples"], k["digits"], rng)
    elif name == "date_format":
        src, tgt_in, tgt_out = data_sequences.date_format(k["n_samples"], rng)
    elif name == "sentiment":
        x, y = data_text.sentiment(k["n_samples"], rng)
        return {"x": x}, y
    elif name == "long_dependency":
        x, y = data_text.long_dependency(k["n_samples"], k["seq_len"], k["vocab_size"], rng)
        return {"x": x}, y
    else:
        raise ValueError(f"no generator for data set {name!r}")
    return {"src": src, "tgt_in": tgt_in}, tgt_out


def _split(inputs: dict[str, np.ndarray], target: np.ndarray, k: dict[str, Any], spec: DataSpec) -> tuple[Split, Split]:
    """A seeded permutation of the pool; its first n_samples are used, the first n_test of those test."""
    available = len(target)
    n = k.get("n_samples") or available
    n_train, n_test = split_sizes(n, spec.test_fraction)
    order = _rng(spec.seed, SPLIT).permutation(available)[:n]
    test_idx, train_idx = order[:n_test], order[n_test:]

    def take(idx: np.ndarray) -> Split:
        return Split({f: _tensor(a[idx]) for f, a in inputs.items()}, _tensor(target[idx]))

    return take(train_idx), take(test_idx)


def _per_class(train: Split, per_class: int, sig: DatasetSignature, rng: np.random.Generator) -> Split:
    """Few-label training: exactly `per_class` samples of every class, chosen at random."""
    labels = train.target.numpy()
    chosen = []
    for c in range(sig.num_classes or 0):
        members = np.flatnonzero(labels == c)
        if len(members) < per_class:
            name = sig.class_names[c] if sig.class_names else str(c)
            raise SpecError(f"labels_per_class ({per_class}) exceeds the {len(members)} training samples of class "
                            f"{name!r}", loc=["data", "labels_per_class"])
        chosen.append(rng.choice(members, per_class, replace=False))
    return train.subset(np.sort(np.concatenate(chosen)))


def _corrupt(train: Split, fraction: float, classes: int, rng: np.random.Generator) -> Split:
    """Give round(fraction·n) training samples a wrong label (test labels stay clean)."""
    n = len(train)
    idx = rng.choice(n, round(fraction * n), replace=False)
    target = train.target.clone()
    shift = torch.from_numpy(rng.integers(1, classes, len(idx)))
    target[torch.from_numpy(idx)] = (target[torch.from_numpy(idx)] + shift) % classes
    return Split(train.inputs, target)


def _finish(name: str, k: dict[str, Any], train: Split, test: Split) -> tuple[Split, Split]:
    """Standardise tables (training statistics only); resize, frame and flatten images."""
    if name in TABLES:
        x_tr, x_te = data_shipped.standardise(train.inputs["x"], test.inputs["x"])
        y_tr, y_te = train.target, test.target
        if name == "diabetes":
            y_tr, y_te = data_shipped.standardise(y_tr, y_te)
        return Split({"x": x_tr}, y_tr), Split({"x": x_te}, y_te)
    if name in IMAGES:
        return _image(train, k), _image(test, k)
    return train, test


def _image(split: Split, k: dict[str, Any]) -> Split:
    x = split.inputs["x"]
    if k["image_size"] is not None:
        x = data_shipped.resize(x, k["image_size"])
    if k["border"]:
        x = torch.nn.functional.pad(x, (k["border"],) * 4)
    if k["flatten"]:
        x = x.reshape(len(x), -1)
    return Split({"x": x.contiguous()}, split.target)


def _check(sig: DatasetSignature, train: Split, test: Split) -> None:
    """The tensors must match the signature validation used; a mismatch is a bug here, not a user error."""
    torch_dtype = {"float": torch.float32, "long": torch.int64}
    for split, n in ((train, sig.n_train), (test, sig.n_test)):
        expected = {**sig.fields, "<target>": sig.target}
        got = {**split.inputs, "<target>": split.target}
        if set(expected) != set(got):
            raise RuntimeError(f"fields {sorted(got)} differ from the signature's {sorted(expected)}")
        for field, shape in expected.items():
            t = got[field]
            if tuple(t.shape) != (n, *shape.dims) or t.dtype != torch_dtype[shape.dtype]:
                raise RuntimeError(f"{field}: got {tuple(t.shape)} {t.dtype}, signature says {(n, *shape.dims)} "
                                   f"{shape.dtype}")


__all__ = ["DATASETS", "DatasetBundle", "Split", "load_dataset"]
