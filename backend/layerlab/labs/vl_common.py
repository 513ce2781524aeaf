"""Helpers the 9.4/9.5 labs share on top of labs/common.py: specs written as node lists, data sets a lab
generates itself, the loss of every step, summary-plot points and plain accuracy on the model's device."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ..catalogue.dataset_info import DatasetSignature
from ..catalogue.probes import ProbeSpec
from ..catalogue.spec import JobSpec, ModelSpec
from ..catalogue.training import TrainSpec
from ..training.build import GraphModule, build_model
from ..training.data import Split
from .base import LabContext


def node(node_id: str, layer: str, inputs: list[str] | None = None, /, **params: Any) -> dict[str, Any]:
    """One node of a model spec; without `inputs`, `stack` wires it to the node before it."""
    out: dict[str, Any] = {"id": node_id, "type": layer, "params": params}
    if inputs is not None:
        out["inputs"] = inputs
    return out


def stack(*nodes: dict[str, Any]) -> ModelSpec:
    """A model spec whose nodes read the node before them unless they name their inputs."""
    out: list[dict[str, Any]] = []
    for item in nodes:
        if "inputs" not in item:
            item = {**item, "inputs": [] if item["type"] == "input" or not out else [out[-1]["id"]]}
        out.append(item)
    return ModelSpec.model_validate({"nodes": out})


def build(model: ModelSpec, fields: list[str], seed: int) -> GraphModule:
    """A catalogue graph with initial weights drawn from `seed`, reading the given data-set fields."""
    torch.manual_seed(seed)
    return build_model(model, fields)


@dataclass(frozen=True)
class LabData:
    """A data set a lab generates itself (a tagging task, sentence embeddings): what the loop reads of a bundle."""

    signature: DatasetSignature
    train: Split
    test: Split


def loop_spec(train: dict[str, Any], model: ModelSpec | None = None) -> JobSpec:
    """A JobSpec for `train_records` when the lab hands it the data (and the model) itself.

    The loop reads `spec.data` only to load a data set and `spec.model` only to build a model, so a lab
    that passes both leaves them out; `model_construct` skips the validation that would demand them.
    """
    return JobSpec.model_construct(name=None, model=model, data=None, train=TrainSpec.model_validate(train),
                                   probes=ProbeSpec())


@dataclass
class LossTrace:
    """Loop hooks that keep every step's training loss (how fast it came down), read after training."""

    losses: list[float] = field(default_factory=list)

    def after_step(self, step: int, model: nn.Module, batch: Any, loss: torch.Tensor) -> None:
        self.losses.append(float(loss.detach()))

    def mean(self, steps: int) -> float:
        head = self.losses[:steps]
        return sum(head) / len(head) if head else math.nan


def summary_point(ctx: LabContext, series: str, x: float, **values: Any) -> None:
    """One point of the lab's summary plot, e.g. accuracy against sequence length, one series per variant."""
    ctx.emit({"type": "metrics", "kind": "summary_point", "variant": series, "x": x, **values})


def device_of(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 512) -> float:
    """Classification accuracy of `model` on (x, y) in eval mode, computed on the model's device."""
    model.eval()
    device = device_of(model)
    correct = 0
    for start in range(0, len(y), batch):
        out = model(x[start:start + batch].to(device))
        correct += int((out.argmax(-1).cpu() == y[start:start + batch]).sum())
    return correct / max(1, len(y))


def r2(value: float) -> str:
    """A measured number as the verdicts print it."""
    return f"{value:.2f}"
