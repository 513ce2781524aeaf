"""The bare training loop: a generator of records, and the benchmark baseline for streamed jobs.

`train_records(spec)` seeds torch, loads the data set and builds the model (unless given), moves
the data to the device once, and yields a StepRecord per optimizer step, EvalRecords per epoch (or
every `probes.eval_every` steps) and a final SummaryRecord. The hot path does one forward, one
backward, one optimizer step and a single device→host sync; hooks, schedules, L1 and clipping cost
nothing when they are off. With `train.pretrain` the same model first trains on another data set,
then fine-tunes on the job's data with the listed nodes frozen (transfer learning in one job).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..catalogue.spec import JobSpec
from ..catalogue.training import TrainSpec
from .device import resolve_device
from .evaluate import DeviceSplit, evaluate
from .init import apply_init
from .losses import Objective, resolve_loss
from .optim import make_optimizer
from .records import EvalRecord, NonFiniteLoss, Phase, Record, StepRecord, StopReason, SummaryRecord
from .schedule import lr_factor

__all__ = [
    "EvalRecord", "NonFiniteLoss", "Record", "StepRecord", "SummaryRecord", "freeze_nodes", "train_records",
]

_EVAL_BATCH = 512


@dataclass
class _Outcome:
    """How a phase ended and its latest/best evaluation."""

    stop_reason: StopReason = "completed"
    steps: int = 0
    epochs: int = 0
    train_loss: float | None = None
    train_accuracy: float | None = None
    test_loss: float | None = None
    test_accuracy: float | None = None
    best_test_loss: float | None = None
    best_test_accuracy: float | None = None
    evaluated_at: int = -1

    def metrics(self) -> dict[str, Any]:
        return {
            "train_loss": self.train_loss, "train_accuracy": self.train_accuracy,
            "test_loss": self.test_loss, "test_accuracy": self.test_accuracy,
            "best_test_loss": self.best_test_loss, "best_test_accuracy": self.best_test_accuracy,
        }


@dataclass(frozen=True)
class _PhaseData:
    """One phase's data on the device and the objective that goes with it."""

    train: DeviceSplit
    test: DeviceSplit
    objective: Objective
    decoder_position: int | None


def _input_fields(model: nn.Module, inputs: dict[str, torch.Tensor]) -> list[str]:
    """The data-set fields the model reads, in argument order (GraphModule says; plain modules take all)."""
    fields = getattr(model, "input_fields", None)
    return list(fields) if fields else list(inputs)


def _device_split(split: Any, fields: list[str], target_mode: str, device: torch.device) -> DeviceSplit:
    missing = [f for f in fields if f not in split.inputs]
    if missing:
        raise ValueError(f"the model reads data-set field(s) {missing}, the data set has {sorted(split.inputs)}")
    inputs = tuple(split.inputs[f].to(device) for f in fields)
    target = inputs[0] if target_mode == "input" else split.target.to(device)
    return DeviceSplit(inputs, target)


def _phase_data(bundle: Any, fields: list[str], train: TrainSpec, device: torch.device) -> _PhaseData:
    sig = bundle.signature
    objective = Objective(resolve_loss(train.loss, task=sig.task, target=train.target), sig.pad_index)
    decoder_position = None
    if sig.task == "seq2seq" and train.target == "label" and "tgt_in" in fields:
        decoder_position = fields.index("tgt_in")
    return _PhaseData(
        _device_split(bundle.train, fields, train.target, device),
        _device_split(bundle.test, fields, train.target, device),
        objective,
        decoder_position,
    )


def freeze_nodes(model: nn.Module, node_ids: list[str]) -> int:
    """Stop gradients for the listed nodes' parameters; returns how many parameter tensors were frozen.

    Only parameters are fixed: a frozen BatchNorm still updates its running statistics in train mode.
    """
    layers = getattr(model, "layers", None)
    modules = dict(layers.items()) if isinstance(layers, nn.ModuleDict) else dict(model.named_children())
    frozen = 0
    for node_id in node_ids:
        if node_id not in modules:
            raise ValueError(f"train.pretrain.freeze names node {node_id!r}, which is not in the model")
        for p in modules[node_id].parameters():
            p.requires_grad_(False)
            frozen += 1
    return frozen


def _steps_per_epoch(n: int, batch_size: int) -> int:
    # A lone leftover sample is skipped: BatchNorm cannot normalise a batch of one.
    full, rest = divmod(n, batch_size)
    return max(1, full + (1 if rest > 1 else 0))


def _evaluate_both(
    model: nn.Module, data: _PhaseData, out: _Outcome, step: int, epoch: int, phase: Phase
) -> list[EvalRecord]:
    """Evaluate train and test splits, update the outcome's latest and best metrics."""
    tr_loss, tr_acc = evaluate(model, data.train, data.objective, batch_size=_EVAL_BATCH)
    te_loss, te_acc = evaluate(
        model, data.test, data.objective, batch_size=_EVAL_BATCH, decoder_position=data.decoder_position
    )
    out.train_loss, out.train_accuracy, out.test_loss, out.test_accuracy = tr_loss, tr_acc, te_loss, te_acc
    if out.best_test_loss is None or te_loss < out.best_test_loss:
        out.best_test_loss = te_loss
    if te_acc is not None and (out.best_test_accuracy is None or te_acc > out.best_test_accuracy):
        out.best_test_accuracy = te_acc
    out.evaluated_at = step
    return [
        EvalRecord(step, epoch, "train", tr_loss, tr_acc, phase),
        EvalRecord(step, epoch, "test", te_loss, te_acc, phase),
    ]


def _run_phase(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    data: _PhaseData,
    train: TrainSpec,
    *,
    phase: Phase,
    epochs: int,
    max_steps: int | None,
    patience: int,
    eval_every: int,
    step0: int,
    hooks: Any,
    should_stop: Callable[[], bool] | None,
) -> Generator[Record, None, _Outcome]:
    """Train one phase; yields records and returns its outcome."""
    out = _Outcome()
    inputs, target = data.train.inputs, data.train.target
    device = target.device
    n, bs = data.train.size, train.batch_size
    spe = _steps_per_epoch(n, bs)
    planned = spe * epochs if max_steps is None else min(spe * epochs, max_steps)
    objective = data.objective
    base_lrs = [g["lr"] for g in optimizer.param_groups]
    lr = base_lrs[0]
    schedule = train.schedule if train.schedule.name != "constant" else None
    trainable = [p for p in model.parameters() if p.requires_grad]
    l1 = train.l1
    l1_params = [p for p in trainable if p.dim() >= 2] if l1 > 0 else []
    clip = train.clip_grad_norm
    after_step = getattr(hooks, "after_step", None) if hooks is not None else None
    after_epoch = getattr(hooks, "after_epoch", None) if hooks is not None else None
    shuffler = torch.Generator().manual_seed(train.seed + (1 if phase == "pretrain" else 0))
    best_loss, bad_evals = math.inf, 0
    step = 0

    def after_eval(records: list[EvalRecord]) -> bool:
        """Early stopping bookkeeping: True when test loss has not improved for `patience` evaluations."""
        nonlocal best_loss, bad_evals
        test_loss = records[1].loss
        if test_loss < best_loss:
            best_loss, bad_evals = test_loss, 0
        else:
            bad_evals += 1
        return patience > 0 and bad_evals >= patience

    model.train()
    for epoch in range(1, epochs + 1):
        out.epochs = epoch
        perm = torch.randperm(n, generator=shuffler)
        if perm.device != device:
            perm = perm.to(device)
        examples = 0
        epoch_evals: list[EvalRecord] = []
        for b in range(spe):
            if should_stop is not None and should_stop():
                out.stop_reason, out.steps = "stopped", step
                return out
            idx = perm[b * bs:(b + 1) * bs]
            xs = tuple(x[idx] for x in inputs)
            y = target[idx]
            if schedule is not None:
                factor = lr_factor(schedule, step, steps_per_epoch=spe, total_steps=planned)
                for group, base in zip(optimizer.param_groups, base_lrs, strict=True):
                    group["lr"] = base * factor
                lr = base_lrs[0] * factor
            output = model(*xs)
            loss = objective.loss(output, y)
            total = loss + l1 * sum(p.abs().sum() for p in l1_params) if l1_params else loss
            optimizer.zero_grad(set_to_none=True)
            total.backward()
            if clip is not None:
                nn.utils.clip_grad_norm_(trainable, clip)
            optimizer.step()
            step += 1
            loss_value, accuracy = objective.step_stats(output, y, loss)
            if not math.isfinite(loss_value):
                raise NonFiniteLoss(step0 + step, loss_value, phase)
            examples += int(idx.shape[0])
            yield StepRecord(step0 + step, epoch, loss_value, accuracy, lr, examples, phase)
            if after_step is not None:
                extra = after_step(step0 + step, model, (xs, y), loss)
                if extra is not None:
                    yield from extra
            if eval_every and step % eval_every == 0:
                evals = _evaluate_both(model, data, out, step0 + step, epoch, phase)
                epoch_evals += evals
                yield from evals
                model.train()
                if after_eval(evals):
                    out.stop_reason, out.steps = "early_stopping", step
                    return out
            if max_steps is not None and step >= max_steps:
                break
        if not eval_every:
            evals = _evaluate_both(model, data, out, step0 + step, epoch, phase)
            epoch_evals += evals
            yield from evals
            model.train()
            if after_eval(evals):
                out.stop_reason, out.steps = "early_stopping", step
                return out
        if after_epoch is not None:
            extra = after_epoch(epoch, step0 + step, model, epoch_evals)
            if extra is not None:
                yield from extra
        if max_steps is not None and step >= max_steps:
            if step < spe * epochs:
                out.stop_reason = "max_steps"
            break
    if out.evaluated_at != step0 + step:
        yield from _evaluate_both(model, data, out, step0 + step, out.epochs, phase)
    out.steps = step
    return out


def _load_bundle(data_spec: Any) -> Any:
    from .data import load_dataset  # imported late: data sets are only generated when a job needs them

    return load_dataset(data_spec)


def _build(spec: JobSpec, data_fields: list[str]) -> nn.Module:
    from .build import build_model  # imported late so the loop can train hand-made modules without it

    return build_model(spec.model, data_fields)


def train_records(
    spec: JobSpec,
    *,
    bundle: Any = None,
    model: nn.Module | None = None,
    hooks: Any = None,
    should_stop: Callable[[], bool] | None = None,
    pretrain_bundle: Any = None,
) -> Iterator[Record]:
    """Train `spec` and yield its records; the last one is a SummaryRecord.

    `bundle`/`model` replace load_dataset(spec.data)/build_model(spec.model) (tests, races with shared
    initial weights); `spec.train.init` is applied either way. `hooks` may define
    `after_step(step, model, (inputs, target), loss)` — called after the optimizer step, gradients still
    in place — and `after_epoch(epoch, step, model, eval_records)`; each may return an iterable of extra
    records to yield in order. `should_stop()` is checked before every step. Raises NonFiniteLoss on a
    NaN/inf loss.
    """
    started = time.perf_counter()
    train = spec.train
    device = resolve_device(train.device)
    if bundle is None:
        bundle = _load_bundle(spec.data)
    torch.manual_seed(train.seed)  # after data generation, so weights, dropout and init follow the seed alone
    if model is None:
        model = _build(spec, list(bundle.train.inputs))
    apply_init(model, train.init)
    model.to(device)
    fields = _input_fields(model, bundle.train.inputs)
    eval_every = spec.probes.eval_every
    step = 0
    pretrain_summary: dict[str, Any] | None = None

    if train.pretrain is not None:
        pre = train.pretrain
        pre_data = _phase_data(pretrain_bundle or _load_bundle(pre.data), fields, train, device)
        optimizer = make_optimizer(model.parameters(), train.optimizer, weight_decay=train.weight_decay, lr=pre.lr)
        pre_out = yield from _run_phase(
            model, optimizer, pre_data, train, phase="pretrain", epochs=pre.epochs, max_steps=None, patience=0,
            eval_every=eval_every, step0=0, hooks=hooks, should_stop=should_stop,
        )
        step = pre_out.steps
        pretrain_summary = {"steps": pre_out.steps, "epochs": pre_out.epochs, **pre_out.metrics()}
        if pre_out.stop_reason == "stopped":
            yield _summary(pre_out, step, started, pre_data.objective, device, pretrain_summary)
            return
        freeze_nodes(model, pre.freeze)

    data = _phase_data(bundle, fields, train, device)
    optimizer = make_optimizer(model.parameters(), train.optimizer, weight_decay=train.weight_decay)
    out = yield from _run_phase(
        model, optimizer, data, train, phase="train", epochs=train.epochs, max_steps=train.max_steps,
        patience=train.early_stopping_patience, eval_every=eval_every, step0=step, hooks=hooks,
        should_stop=should_stop,
    )
    yield _summary(out, step + out.steps, started, data.objective, device, pretrain_summary)


def _summary(
    out: _Outcome, steps: int, started: float, objective: Objective, device: torch.device,
    pretrain: dict[str, Any] | None,
) -> SummaryRecord:
    return SummaryRecord(
        stop_reason=out.stop_reason, steps=steps, epochs=out.epochs, seconds=time.perf_counter() - started,
        loss_kind=objective.kind, device=device.type, pretrain=pretrain, **out.metrics(),
    )
