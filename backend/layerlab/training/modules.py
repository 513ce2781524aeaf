"""Custom torch modules used by the catalogue's construct rules.

This file must import nothing but torch (and math): `training/export_py.py` embeds its source in
the standalone model.py that users download.
"""

from __future__ import annotations

import math  # noqa: F401  (used by modules below and by the exported model.py)

import torch
from torch import nn


class Identity(nn.Module):
    """An input node: passes its tensor through so every node has a module of its own."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x
