"""A job spec trained as a batched ensemble: the members of a study run as one model (training/batched.py).

`train_batched(spec, members)` mirrors `loop.train_records` for K variants that differ only in what a
`Member` holds (init seed, optimizer and its lr, weight decay, init scheme) and, with `pad=True`, in the
widths of their dense layers: each member is built and initialised exactly as its own job would be
(training/run.py), shuffles its batches with its own seed (as its own job would), and yields per-member
metrics per step. Member k therefore follows the trajectory of the same variant trained alone, up to float
rounding — except for dropout masks, which vmap draws per member.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import nn

from ..catalogue.spec import JobSpec, ModelSpec
from ..catalogue.training import InitSpec, OptimizerSpec
from .batched import BatchedEnsemble
from .build import build_model
from .device import resolve_device
from .init import apply_init
from .loop import _steps_per_epoch
from .losses import Objective, resolve_loss
from .records import NonFiniteLoss, StopReason
from .schedule import lr_factor

# Layer kinds whose modules hold no buffers and no per-sample state: safe under vmap.
BATCHABLE_LAYERS = frozenset({"input", "dense", "activation", "dropout", "flatten"})
_EVAL_BATCH = 512


@dataclass(frozen=True)
class Member:
    """What may differ between the members of one batched ensemble (besides widths when padded)."""

    seed: int = 0
    optimizer: OptimizerSpec = field(default_factory=OptimizerSpec)
    weight_decay: float = 0.0
    init: InitSpec = field(default_factory=InitSpec)


def member_of(spec: JobSpec) -> Member:
    """The member a (variant) job spec describes."""
    t = spec.train
    return Member(t.seed, t.optimizer, t.weight_decay, t.init)


def batchable_model(model: ModelSpec) -> str | None:
    """Why this model cannot run in a batched ensemble, or None when it can."""
    for node in model.nodes:
        if node.type not in BATCHABLE_LAYERS:
            allowed = ", ".join(sorted(BATCHABLE_LAYERS))
            return f"node {node.id} is a {node.type} layer; batched ensembles take {allowed}"
    return None


def batchable_train(spec: JobSpec) -> str | None:
    """Why these training settings cannot run batched (per-member early stopping, pretraining), or None."""
    if spec.train.pretrain is not None:
        return "train.pretrain runs a second phase per model"
    if spec.train.early_stopping_patience:
        return "train.early_stopping_patience stops each model at its own step"
    return None


@dataclass(frozen=True, slots=True)
class BatchedStepRecord:
    step: int
    epoch: int
    losses: list[float]
    accuracies: list[float] | None
    lr_factor: float

    def to_json(self) -> dict[str, Any]:
        return {"kind": "step", "step": self.step, "epoch": self.epoch, "losses": self.losses,
                "accuracies": self.accuracies, "lr_factor": self.lr_factor}


@dataclass(frozen=True, slots=True)
class BatchedEvalRecord:
    step: int
    epoch: int
    split: Literal["train", "test"]
    losses: list[float]
    accuracies: list[float] | None

    def to_json(self) -> dict[str, Any]:
        return {"kind": "eval", "step": self.step, "epoch": self.epoch, "split": self.split,
                "losses": self.losses, "accuracies": self.accuracies}


@dataclass(frozen=True, slots=True)
class BatchedSummary:
    stop_reason: StopReason
    steps: int
    epochs: int
    seconds: float
    loss_kind: str
    device: str
    members: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {"kind": "summary", "stop_reason": self.stop_reason, "steps": self.steps, "epochs": self.epochs,
                "seconds": self.seconds, "loss_kind": self.loss_kind, "device": self.device,
                "members": self.members}


BatchedRecord = BatchedStepRecord | BatchedEvalRecord | BatchedSummary


def build_member(spec: JobSpec, member: Member, fields: Sequence[str], model: ModelSpec | None = None) -> nn.Module:
    """Member's model with its initial weights, seeded exactly as a job seeds its model (training/run.py builds
    after seeding, then `train_records` seeds again before applying the init scheme)."""
    torch.manual_seed(member.seed)
    module = build_model(model or spec.model, list(fields))
    torch.manual_seed(member.seed)
    apply_init(module, member.init)
    return module


def _load_bundle(spec: JobSpec) -> Any:
    from .data import load_dataset

    return load_dataset(spec.data)


@dataclass
class _Best:
    """Latest and best evaluation of every member."""

    k: int
    latest: dict[str, list[float] | None] = field(default_factory=dict)
    best_loss: list[float] = field(default_factory=list)
    best_acc: list[float | None] = field(default_factory=list)
    evaluated_at: int = -1

    def update(self, step: int, train: tuple[list[float], list[float] | None],
               test: tuple[list[float], list[float] | None]) -> None:
        self.latest = {"train_loss": train[0], "train_accuracy": train[1], "test_loss": test[0],
                       "test_accuracy": test[1]}
        if not self.best_loss:
            self.best_loss = list(test[0])
            self.best_acc = list(test[1]) if test[1] is not None else [None] * self.k
        else:
            self.best_loss = [min(a, b) for a, b in zip(self.best_loss, test[0], strict=True)]
            if test[1] is not None:
                self.best_acc = [b if a is None else max(a, b) for a, b in zip(self.best_acc, test[1], strict=True)]
        self.evaluated_at = step

    def members(self) -> list[dict[str, Any]]:
        out = []
        for i in range(self.k):
            row: dict[str, Any] = {key: (vals[i] if vals is not None else None) for key, vals in self.latest.items()}
            row["best_test_loss"] = self.best_loss[i] if self.best_loss else None
            row["best_test_accuracy"] = self.best_acc[i] if self.best_acc else None
            out.append(row)
        return out


def train_batched(
    spec: JobSpec,
    members: Sequence[Member],
    *,
    models: Sequence[ModelSpec] | None = None,
    bundle: Any = None,
    should_stop: Callable[[], bool] | None = None,
) -> Iterator[BatchedRecord]:
    """Train every member of `spec` at once; yields step/eval records and a BatchedSummary last.

    `models` gives each member its own model spec (same layers, different dense widths: padded);
    default: `spec.model` for all. Raises NonFiniteLoss naming the first member whose loss is NaN/inf.
    """
    started = time.perf_counter()
    train = spec.train
    reason = batchable_model(spec.model) or batchable_train(spec)
    if reason is not None:
        raise ValueError(f"cannot train as a batched ensemble: {reason}")
    device = resolve_device(train.device)
    if bundle is None:
        bundle = _load_bundle(spec)
    fields = list(bundle.train.inputs)
    model_specs = list(models) if models is not None else [spec.model] * len(members)
    built = [build_member(spec, m, fields, ms).to(device) for m, ms in zip(members, model_specs, strict=True)]
    in_fields = list(getattr(built[0], "input_fields", fields))
    pad = any(ms != model_specs[0] for ms in model_specs)
    ens = BatchedEnsemble(built, [m.optimizer for m in members], [m.weight_decay for m in members], pad=pad,
                          l1=train.l1, clip=train.clip_grad_norm)
    sig = bundle.signature
    objective = Objective(resolve_loss(train.loss, task=sig.task, target=train.target), sig.pad_index)
    tr_x = tuple(bundle.train.inputs[f].to(device) for f in in_fields)
    te_x = tuple(bundle.test.inputs[f].to(device) for f in in_fields)
    tr_y = tr_x[0] if train.target == "input" else bundle.train.target.to(device)
    te_y = te_x[0] if train.target == "input" else bundle.test.target.to(device)
    k, n, bs = len(members), int(tr_y.shape[0]), train.batch_size
    spe = _steps_per_epoch(n, bs)
    planned = spe * train.epochs if train.max_steps is None else min(spe * train.epochs, train.max_steps)
    schedule = train.schedule if train.schedule.name != "constant" else None
    seeds = [m.seed for m in members]
    shared = len(set(seeds)) == 1
    shufflers = [torch.Generator().manual_seed(s) for s in (seeds[:1] if shared else seeds)]
    torch.manual_seed(seeds[0])  # dropout masks
    best = _Best(k)
    step, epoch, stop_reason = 0, 0, "completed"

    def evaluate() -> list[BatchedEvalRecord]:
        tr = ens.evaluate(tr_x, tr_y, objective, batch_size=_EVAL_BATCH)
        te = ens.evaluate(te_x, te_y, objective, batch_size=_EVAL_BATCH)
        best.update(step, tr, te)
        return [BatchedEvalRecord(step, epoch, "train", *tr), BatchedEvalRecord(step, epoch, "test", *te)]

    eval_every = spec.probes.eval_every
    for epoch in range(1, train.epochs + 1):
        perms = torch.stack([torch.randperm(n, generator=g) for g in shufflers]).to(device)
        for b in range(spe):
            if should_stop is not None and should_stop():
                stop_reason = "stopped"
                break
            idx = perms[:, b * bs:(b + 1) * bs]
            if shared:
                xs, y = tuple(x[idx[0]] for x in tr_x), tr_y[idx[0]]
            else:
                xs, y = tuple(x[idx] for x in tr_x), tr_y[idx]
            factor = lr_factor(schedule, step, steps_per_epoch=spe, total_steps=planned) if schedule else 1.0
            losses, correct = ens.train_step(xs, y, objective, per_member=not shared, lr_factor=factor)
            step += 1
            row = torch.stack((losses, correct / idx.shape[1])).tolist()
            bad = [i for i, v in enumerate(row[0]) if v != v or v in (float("inf"), float("-inf"))]
            if bad:
                raise NonFiniteLoss(step, row[0][bad[0]])
            yield BatchedStepRecord(step, epoch, row[0], row[1] if objective.has_accuracy else None, factor)
            if eval_every and step % eval_every == 0:
                yield from evaluate()
            if train.max_steps is not None and step >= train.max_steps:
                break
        if stop_reason == "stopped":
            break
        if not eval_every:
            yield from evaluate()
        if train.max_steps is not None and step >= train.max_steps:
            if step < spe * train.epochs:
                stop_reason = "max_steps"
            break
    if stop_reason != "stopped" and best.evaluated_at != step:
        yield from evaluate()
    yield BatchedSummary(stop_reason, step, epoch, time.perf_counter() - started, objective.kind, device.type,
                         best.members() if best.latest else [{} for _ in range(k)])
