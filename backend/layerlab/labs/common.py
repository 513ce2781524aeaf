"""Helpers shared by the lab runners: catalogue-built models, data, thinned curve events, stop checks.

Labs build their networks from the same model specs a learner can type (so every variant can be opened
in the playground) and read the catalogue's data sets; nothing here is specific to one lab.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from ..catalogue.datasets import DataSpec
from ..catalogue.labs import LabParams
from ..catalogue.spec import JobSpec, ModelSpec
from ..catalogue.training import InitSpec
from ..training.batched import BatchedEnsemble
from ..training.batched_loop import BatchedEvalRecord, BatchedStepRecord, BatchedSummary, Member, train_batched
from ..training.build import GraphModule, build_model
from ..training.data import DatasetBundle, load_dataset
from ..training.init import apply_init
from ..training.loop import EvalRecord, StepRecord, SummaryRecord, train_records
from ..training.losses import Objective
from .base import LabContext, LabStopped


def pick(params: LabParams, quick: Any, full: Any) -> Any:
    """The value for this run's scale."""
    return quick if params.scale == "quick" else full


def mlp_nodes(
    inputs: int,
    hidden: Sequence[int],
    outputs: int,
    act: str = "relu",
    *,
    dropout: float | None = None,
    dropout_mode: str = "inverted",
    prefix: str = "h",
) -> list[dict[str, Any]]:
    """A dense/activation chain (with dropout after every activation when given) as spec nodes."""
    nodes: list[dict[str, Any]] = [{"id": "x", "type": "input", "params": {"shape": [inputs]}}]
    last = "x"
    for i, units in enumerate(hidden, start=1):
        nodes.append({"id": f"{prefix}{i}", "type": "dense", "params": {"units": units}, "inputs": [last]})
        nodes.append({"id": f"act{i}", "type": "activation", "params": {"fn": act}, "inputs": [f"{prefix}{i}"]})
        last = f"act{i}"
        if dropout is not None:
            nodes.append({"id": f"drop{i}", "type": "dropout", "params": {"p": dropout, "mode": dropout_mode},
                          "inputs": [last]})
            last = f"drop{i}"
    nodes.append({"id": "out", "type": "dense", "params": {"units": outputs}, "inputs": [last]})
    return nodes


def mlp_spec(inputs: int, hidden: Sequence[int], outputs: int, act: str = "relu", **kwargs: Any) -> ModelSpec:
    return ModelSpec.model_validate({"nodes": mlp_nodes(inputs, hidden, outputs, act, **kwargs)})


def build(model: ModelSpec, seed: int, init: str = "default") -> GraphModule:
    """The model with seeded initial weights (as a job with train.seed = seed would start)."""
    torch.manual_seed(seed)
    module = build_model(model, ["x"])
    apply_init(module, InitSpec.model_validate({"scheme": init}))
    return module


def dense_layers(model: nn.Module) -> list[tuple[str, nn.Linear]]:
    """The Linear modules of a GraphModule, input side first."""
    return [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Linear)]


def data(**fields: Any) -> DatasetBundle:
    return load_dataset(DataSpec.model_validate(fields))


class Curves:
    """Streams one curve per variant as `metrics` events, thinned to about `points` per curve."""

    def __init__(self, ctx: LabContext, total_steps: int, points: int = 120) -> None:
        self.ctx = ctx
        self.every = max(1, total_steps // points)

    def due(self, step: int) -> bool:
        """Step 1 (where every variant starts) and every `every`-th step."""
        return step == 1 or step % self.every == 0

    def point(self, variant: str, step: int, **values: Any) -> None:
        self.ctx.emit({"type": "metrics", "variant": variant, "step": step, **values})

    def maybe(self, variant: str, step: int, **values: Any) -> None:
        if self.due(step):
            self.point(variant, step, **values)


def job_spec(model: ModelSpec | list[dict[str, Any]], data_spec: dict[str, Any], **train: Any) -> JobSpec:
    """A job spec from parts (the same JSON a learner could submit)."""
    nodes = model if isinstance(model, list) else model.model_dump(mode="json")["nodes"]
    return JobSpec.model_validate({"model": {"nodes": nodes}, "data": data_spec, "train": train})


def train_variant(
    ctx: LabContext,
    curves: Curves,
    variant: str,
    spec: JobSpec,
    *,
    bundle: DatasetBundle | None = None,
    model: nn.Module | None = None,
    hooks: Any = None,
) -> SummaryRecord:
    """Train one variant with the bare loop, streaming its (thinned) steps and every evaluation."""
    for record in train_records(spec, bundle=bundle, model=model, hooks=hooks, should_stop=ctx.should_stop):
        if isinstance(record, StepRecord):
            if curves.due(record.step):
                curves.point(variant, record.step, **_fields(record.to_json()))
        elif isinstance(record, EvalRecord):
            curves.point(variant, record.step, **_fields(record.to_json()))
        elif isinstance(record, SummaryRecord):
            if record.stop_reason == "stopped":
                raise LabStopped()
            return record
    raise RuntimeError("the training loop ended without a summary")


def train_ensemble(
    ctx: LabContext,
    curves: Curves,
    variants: Sequence[str],
    spec: JobSpec,
    members: Sequence[Member],
    *,
    bundle: DatasetBundle | None = None,
    models: Sequence[ModelSpec] | None = None,
) -> BatchedSummary:
    """Train the variants as one batched ensemble, streaming one curve per variant."""
    for record in train_batched(spec, members, models=models, bundle=bundle, should_stop=ctx.should_stop):
        if isinstance(record, BatchedStepRecord) and curves.due(record.step):
            accs = record.accuracies or [None] * len(variants)
            for name, loss, acc in zip(variants, record.losses, accs, strict=True):
                curves.point(name, record.step, kind="step", split="train", loss=loss, accuracy=acc)
        elif isinstance(record, BatchedEvalRecord):
            accs = record.accuracies or [None] * len(variants)
            for name, loss, acc in zip(variants, record.losses, accs, strict=True):
                curves.point(name, record.step, kind="eval", split=record.split, loss=loss, accuracy=acc)
        elif isinstance(record, BatchedSummary):
            if record.stop_reason == "stopped":
                raise LabStopped()
            return record
    raise RuntimeError("the batched loop ended without a summary")


def fit(
    ctx: LabContext,
    ens: BatchedEnsemble,
    x: torch.Tensor,
    y: torch.Tensor,
    objective: Objective,
    *,
    steps: int,
    batch_size: int,
    seed: int,
    per_member: bool = False,
    curves: Curves | None = None,
    names: Sequence[str] = (),
    step0: int = 0,
    on_step: Callable[[int], None] | None = None,
) -> list[float]:
    """Train an ensemble for `steps` shuffled mini-batches of (x, y) — shared, or [K, N, ...] per member —
    streaming each member's loss; returns the last step's losses."""
    n = int(x.shape[1] if per_member else x.shape[0])
    shuffler = torch.Generator().manual_seed(seed)
    perm, pos = torch.randperm(n, generator=shuffler), 0
    losses = torch.zeros(ens.k)
    for step in range(step0 + 1, step0 + steps + 1):
        check_stop(ctx)
        if pos + batch_size > n:
            perm, pos = torch.randperm(n, generator=shuffler), 0
        idx = perm[pos:pos + batch_size]
        pos += batch_size
        xb, yb = (x[:, idx], y[:, idx]) if per_member else (x[idx], y[idx])
        losses, _ = ens.train_step((xb,), yb, objective, per_member=per_member)
        if curves is not None and curves.due(step):
            for name, value in zip(names, losses.tolist(), strict=True):
                curves.point(name, step, kind="step", split="train", loss=value)
        if on_step is not None:
            on_step(step)
    return losses.tolist()


def _fields(record: dict[str, Any]) -> dict[str, Any]:
    record.pop("step", None)
    record.setdefault("split", "train")
    return record


def check_stop(ctx: LabContext) -> None:
    """Between steps: end the run if the job was cancelled."""
    if ctx.should_stop():
        raise LabStopped()


def log(ctx: LabContext, en: str, ja: str) -> None:
    """A narrative line for the learner, in both languages."""
    ctx.emit({"type": "log", "message": en, "message_ja": ja})


def rounded(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(float(value), digits)
