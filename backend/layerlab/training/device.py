"""Where a job trains: `auto` picks CUDA when this process can see a GPU, else the CPU."""

from __future__ import annotations

from typing import Literal

import torch


class DeviceUnavailable(RuntimeError):
    """The spec asked for a device this machine does not have."""


def resolve_device(name: Literal["auto", "cpu", "cuda"]) -> torch.device:
    """Map the spec's device field to a torch.device, refusing cuda where there is none."""
    if name == "cpu":
        return torch.device("cpu")
    has_cuda = torch.cuda.is_available()
    if name == "cuda" and not has_cuda:
        raise DeviceUnavailable("train.device is 'cuda' but no CUDA device is available")
    return torch.device("cuda" if has_cuda else "cpu")
