"""Batched ensembles: each member trains exactly like the same model trained alone (real torch training)."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from layerlab.catalogue.spec import JobSpec
from layerlab.catalogue.training import OptimizerSpec
from layerlab.training.batched import BatchedEnsemble
from layerlab.training.batched_loop import (
    BatchedEvalRecord,
    BatchedStepRecord,
    BatchedSummary,
    batchable_model,
    build_member,
    member_of,
    train_batched,
)
from layerlab.training.build import build_model
from layerlab.training.data import load_dataset
from layerlab.training.evaluate import DeviceSplit, evaluate
from layerlab.training.loop import EvalRecord, StepRecord, SummaryRecord, train_records
from layerlab.training.losses import Objective
from layerlab.training.records import NonFiniteLoss

torch.set_num_threads(1)


def mlp_spec(*, units: int = 16, optimizer: str = "adam", lr: float = 0.01, seed: int = 0, weight_decay: float = 0.0,
             init: str = "default", act: str = "tanh", epochs: int = 2, extra_train: dict[str, Any] | None = None,
             dropout: float | None = None) -> JobSpec:
    nodes: list[dict[str, Any]] = [
        {"id": "x", "type": "input", "params": {"shape": [2]}},
        {"id": "h1", "type": "dense", "params": {"units": units}, "inputs": ["x"]},
        {"id": "a1", "type": "activation", "params": {"fn": act}, "inputs": ["h1"]},
        {"id": "h2", "type": "dense", "params": {"units": units}, "inputs": ["a1"]},
        {"id": "a2", "type": "activation", "params": {"fn": act}, "inputs": ["h2"]},
    ]
    last = "a2"
    if dropout is not None:
        nodes.append({"id": "drop", "type": "dropout", "params": {"p": dropout}, "inputs": ["a2"]})
        last = "drop"
    nodes.append({"id": "out", "type": "dense", "params": {"units": 2}, "inputs": [last]})
    train = {"epochs": epochs, "batch_size": 32, "seed": seed, "weight_decay": weight_decay,
             "optimizer": {"name": optimizer, "lr": lr}, "init": {"scheme": init}, **(extra_train or {})}
    return JobSpec.model_validate({"model": {"nodes": nodes}, "data": {"dataset": "spiral", "n_samples": 240},
                                   "train": train})


@pytest.fixture(scope="module")
def bundle() -> Any:
    return load_dataset(mlp_spec().data)


def alone(spec: JobSpec, bundle: Any) -> tuple[list[float], list[EvalRecord], SummaryRecord]:
    """The variant as its own job trains it (training/run.py: seed, build, then the loop)."""
    torch.manual_seed(spec.train.seed)
    model = build_model(spec.model, list(bundle.train.inputs))
    records = list(train_records(spec, bundle=bundle, model=model))
    steps = [r.loss for r in records if isinstance(r, StepRecord)]
    evals = [r for r in records if isinstance(r, EvalRecord)]
    summary = records[-1]
    assert isinstance(summary, SummaryRecord)
    return steps, evals, summary


def together(variants: list[JobSpec], bundle: Any, **kwargs: Any) -> list[Any]:
    return list(train_batched(variants[0], [member_of(v) for v in variants], bundle=bundle, **kwargs))


VARIANTS = [
    # every optimizer family, different lrs, init seeds (so different batches), weight decays, init schemes
    dict(optimizer="sgd", lr=0.1),
    dict(optimizer="momentum", lr=0.05, weight_decay=1e-3),
    dict(optimizer="nesterov", lr=0.05, seed=1, init="he"),
    dict(optimizer="adagrad", lr=0.1, seed=2),
    dict(optimizer="rmsprop", lr=0.01, weight_decay=0.01, init="xavier"),
    dict(optimizer="adam", lr=0.01, seed=3),
    dict(optimizer="adamw", lr=0.01, weight_decay=0.1),
    dict(optimizer="adam", lr=0.003, init="normal"),
]


def test_each_member_matches_the_same_model_trained_alone(bundle: Any) -> None:
    variants = [mlp_spec(**v) for v in VARIANTS]
    records = together(variants, bundle)
    steps = [r for r in records if isinstance(r, BatchedStepRecord)]
    evals = [r for r in records if isinstance(r, BatchedEvalRecord)]
    summary = records[-1]
    assert isinstance(summary, BatchedSummary) and summary.stop_reason == "completed"
    for k, spec in enumerate(variants):
        solo_steps, solo_evals, solo_summary = alone(spec, bundle)
        batched = [r.losses[k] for r in steps]
        assert len(batched) == len(solo_steps) == summary.steps
        torch.testing.assert_close(torch.tensor(batched), torch.tensor(solo_steps), rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(torch.tensor([e.losses[k] for e in evals]),
                                   torch.tensor([e.loss for e in solo_evals]), rtol=1e-4, atol=1e-5)
        assert summary.members[k]["test_accuracy"] == pytest.approx(solo_summary.test_accuracy, abs=1e-6)
    # the members really differ: different optimizers end at different losses
    assert len({round(x, 4) for x in steps[-1].losses}) == len(variants)


def test_members_of_different_widths_match_their_own_narrow_models(bundle: Any) -> None:
    variants = [mlp_spec(units=u, seed=s, act="relu") for u, s in ((3, 0), (8, 1), (16, 0), (40, 2))]
    records = together(variants, bundle, models=[v.model for v in variants])
    steps = [r for r in records if isinstance(r, BatchedStepRecord)]
    for k, spec in enumerate(variants):
        solo_steps, _, _ = alone(spec, bundle)
        torch.testing.assert_close(torch.tensor([r.losses[k] for r in steps]), torch.tensor(solo_steps),
                                   rtol=1e-4, atol=1e-5)


def test_schedule_l1_and_clipping_act_per_member(bundle: Any) -> None:
    extra = {"schedule": {"name": "cosine"}, "l1": 1e-4, "clip_grad_norm": 0.5}
    variants = [mlp_spec(optimizer=o, lr=lr, extra_train=extra) for o, lr in (("sgd", 0.5), ("adam", 0.02))]
    steps = [r for r in together(variants, bundle) if isinstance(r, BatchedStepRecord)]
    for k, spec in enumerate(variants):
        solo_steps, _, _ = alone(spec, bundle)
        torch.testing.assert_close(torch.tensor([r.losses[k] for r in steps]), torch.tensor(solo_steps),
                                   rtol=1e-4, atol=1e-5)


def test_masks_pin_pruned_weights_at_zero_and_evaluate_matches_each_model(bundle: Any) -> None:
    spec = mlp_spec()
    fields = list(bundle.train.inputs)
    models = [build_member(spec, member_of(mlp_spec(seed=s)), fields) for s in (0, 1, 2)]
    mask = (torch.rand(3, 16, 16, generator=torch.Generator().manual_seed(0)) > 0.5).float()
    ens = BatchedEnsemble(models, [OptimizerSpec(name="adam", lr=0.02)] * 3, masks={"layers.h2.weight": mask})
    objective = Objective("cross_entropy")
    x, y = bundle.train.inputs["x"], bundle.train.target
    first = None
    for _ in range(30):
        losses, _ = ens.train_step((x[:64],), y[:64], objective)
        first = losses if first is None else first
    assert bool((losses < first).all())
    assert bool((ens.params["layers.h2.weight"].detach()[mask == 0] == 0).all())
    loss, acc = ens.evaluate((bundle.test.inputs["x"],), bundle.test.target, objective)
    assert acc is not None
    for k, model in enumerate(models):
        ens.load_into(k, model)
        assert bool((model.layers["h2"].weight[mask[k] == 0] == 0).all())
        solo = evaluate(model, DeviceSplit((bundle.test.inputs["x"],), bundle.test.target), objective)
        assert solo[0] == pytest.approx(loss[k], rel=1e-5) and solo[1] == pytest.approx(acc[k], abs=1e-9)


def test_dropout_members_draw_their_own_masks_and_still_learn(bundle: Any) -> None:
    variants = [mlp_spec(dropout=0.3, seed=0), mlp_spec(dropout=0.3, seed=0)]
    records = together(variants, bundle, models=None)
    steps = [r for r in records if isinstance(r, BatchedStepRecord)]
    assert steps[0].losses[0] != steps[0].losses[1]  # same weights and batch, different dropout masks
    summary = records[-1]
    assert isinstance(summary, BatchedSummary)
    assert all(m["train_loss"] < steps[0].losses[i] for i, m in enumerate(summary.members))


def test_a_diverging_member_fails_the_run_with_nan_loss() -> None:
    def regression(lr: float) -> JobSpec:
        raw = mlp_spec(optimizer="sgd", lr=lr).model_dump(mode="json")
        raw["model"]["nodes"][-1]["params"]["units"] = 1
        raw["data"] = {"dataset": "plane", "n_samples": 200}
        return JobSpec.model_validate(raw)

    variants = [regression(0.01), regression(10.0)]
    data = load_dataset(variants[0].data)
    with pytest.raises(NonFiniteLoss):
        alone(variants[1], data)
    with pytest.raises(NonFiniteLoss):
        together(variants, data)


def test_members_must_compute_the_same_function(bundle: Any) -> None:
    tanh, relu = mlp_spec(act="tanh"), mlp_spec(act="relu")
    with pytest.raises(ValueError, match="different module structure"):
        together([tanh, relu], bundle, models=[tanh.model, relu.model])


def test_only_buffer_free_chains_are_batchable() -> None:
    assert batchable_model(mlp_spec(dropout=0.2).model) is None
    conv = JobSpec.model_validate({"model": {"nodes": [
        {"id": "x", "type": "input", "params": {"shape": [1, 8, 8]}},
        {"id": "bn", "type": "batchnorm", "inputs": ["x"]},
        {"id": "f", "type": "flatten", "inputs": ["bn"]},
        {"id": "out", "type": "dense", "params": {"units": 10}, "inputs": ["f"]}]},
        "data": {"dataset": "digits"}})
    reason = batchable_model(conv.model)
    assert reason is not None and "node bn" in reason
    with pytest.raises(ValueError, match="batched"):
        list(train_batched(conv, [member_of(conv)]))
