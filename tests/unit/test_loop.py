"""The bare training loop on small hand-made modules and tensors: real torch training, no mocks."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import pytest
import torch
from torch import nn

from layerlab.catalogue.spec import JobSpec
from layerlab.training.evaluate import DeviceSplit, evaluate
from layerlab.training.loop import (
    EvalRecord,
    NonFiniteLoss,
    StepRecord,
    SummaryRecord,
    train_records,
)
from layerlab.training.losses import Objective
from layerlab.training.optim import OPTIMIZER_NAMES

torch.set_num_threads(1)


@dataclass
class Split:
    inputs: dict[str, torch.Tensor]
    target: torch.Tensor


@dataclass
class Signature:
    task: str
    pad_index: int | None = None


@dataclass
class Bundle:
    train: Split
    test: Split
    signature: Signature = field(default_factory=lambda: Signature("classification"))


def blobs(n: int = 256, seed: int = 0, *, xor: bool = False) -> Bundle:
    """Two classes in 2-D: linearly separable blobs, or XOR quadrants."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, generator=g)
    y = ((x[:, 0] > 0) ^ (x[:, 1] > 0)).long() if xor else (x[:, 0] + x[:, 1] > 0).long()
    k = n * 3 // 4
    return Bundle(Split({"x": x[:k]}, y[:k]), Split({"x": x[k:]}, y[k:]))


def mlp(hidden: int = 16, act: type[nn.Module] = nn.Tanh) -> nn.Module:
    torch.manual_seed(123)
    return nn.Sequential(nn.Linear(2, hidden), act(), nn.Linear(hidden, 2))


def job(**train: Any) -> JobSpec:
    train.setdefault("device", "cpu")
    return JobSpec.model_validate(
        {"model": {"nodes": [{"id": "x", "type": "input"}]}, "data": {"dataset": "spiral"}, "train": train}
    )


def run(spec: JobSpec, bundle: Bundle, model: nn.Module, **kw: Any) -> list[Any]:
    return list(train_records(spec, bundle=bundle, model=model, **kw))


def steps(records: list[Any]) -> list[StepRecord]:
    return [r for r in records if isinstance(r, StepRecord)]


def test_records_shape_and_json() -> None:
    records = run(job(epochs=2, batch_size=64), blobs(), mlp())
    assert isinstance(records[-1], SummaryRecord)
    s = steps(records)
    assert [r.step for r in s] == list(range(1, len(s) + 1))
    assert len(s) == 2 * 3  # 192 training samples / 64 per batch, two epochs
    assert s[2].examples == 192 and s[3].examples == 64
    evals = [r for r in records if isinstance(r, EvalRecord)]
    assert [(e.epoch, e.split) for e in evals] == [(1, "train"), (1, "test"), (2, "train"), (2, "test")]
    summary = records[-1]
    assert summary.stop_reason == "completed" and summary.steps == 6 and summary.epochs == 2
    assert summary.test_accuracy == evals[-1].accuracy and summary.loss_kind == "cross_entropy"
    assert summary.best_test_accuracy == max(e.accuracy for e in evals if e.split == "test")
    for r in records:
        json.dumps(r.to_json())


def test_same_seed_is_bit_identical_and_seed_matters() -> None:
    spec = job(epochs=3, batch_size=16, seed=7, optimizer={"name": "adam", "lr": 0.05})

    def losses(s: JobSpec) -> list[float]:
        torch.manual_seed(0)  # same initial weights; the loop seeds shuffling and dropout itself
        net = nn.Sequential(nn.Linear(2, 8), nn.Dropout(0.3), nn.ReLU(), nn.Linear(8, 2))
        return [r.loss for r in steps(run(s, blobs(), net))]

    first, second = losses(spec), losses(spec)
    assert first == second  # bit-identical floats, shuffling and dropout included
    other = losses(job(epochs=3, batch_size=16, seed=8, optimizer={"name": "adam", "lr": 0.05}))
    assert other != first


LRS = {"sgd": 0.5, "momentum": 0.1, "nesterov": 0.1, "adagrad": 0.1, "rmsprop": 0.01, "adam": 0.02, "adamw": 0.02}


@pytest.mark.parametrize("name", OPTIMIZER_NAMES)
def test_every_optimizer_decreases_the_loss(name: str) -> None:
    bundle, model = blobs(), mlp()
    split = DeviceSplit((bundle.train.inputs["x"],), bundle.train.target)
    before, _ = evaluate(model, split, Objective("cross_entropy"))
    records = run(job(epochs=4, batch_size=32, optimizer={"name": name, "lr": LRS[name]}), bundle, model)
    assert records[-1].train_loss < 0.6 * before
    assert records[-1].test_accuracy >= 0.9


def lrs(schedule: dict[str, Any], epochs: int = 4) -> list[float]:
    spec = job(epochs=epochs, batch_size=64, optimizer={"name": "sgd", "lr": 0.1}, schedule=schedule)
    return [r.lr for r in steps(run(spec, blobs(), mlp()))]  # 3 steps per epoch


def test_constant_schedule() -> None:
    assert lrs({"name": "constant"}) == [0.1] * 12


def test_step_schedule_decays_every_step_size_epochs() -> None:
    got = lrs({"name": "step", "step_size": 2, "gamma": 0.5})
    assert got == pytest.approx([0.1] * 6 + [0.05] * 6)


def test_cosine_schedule_follows_half_a_cosine() -> None:
    got = lrs({"name": "cosine"})
    want = [0.1 * 0.5 * (1 + math.cos(math.pi * s / 12)) for s in range(12)]
    assert got == pytest.approx(want)
    assert got[0] == pytest.approx(0.1) and all(a > b for a, b in zip(got, got[1:], strict=False))


def test_linear_warmup_rises_then_stays() -> None:
    got = lrs({"name": "linear_warmup", "warmup_steps": 5})
    assert got == pytest.approx([0.02, 0.04, 0.06, 0.08, 0.1] + [0.1] * 7)


def weight_norm(model: nn.Module, p: int) -> float:
    return sum(float(m.weight.detach().norm(p=p)) for m in model.modules() if isinstance(m, nn.Linear))


def test_l1_penalty_shrinks_weights_to_sparse() -> None:
    base, penalised = mlp(), mlp()
    run(job(epochs=5, optimizer={"name": "adam", "lr": 0.02}), blobs(), base)
    run(job(epochs=5, optimizer={"name": "adam", "lr": 0.02}, l1=0.05), blobs(), penalised)
    assert weight_norm(penalised, 1) < 0.5 * weight_norm(base, 1)
    near_zero = sum(int((m.weight.abs() < 1e-2).sum()) for m in penalised.modules() if isinstance(m, nn.Linear))
    assert near_zero > 10


@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
def test_l2_weight_decay_shrinks_weights(optimizer: str) -> None:
    base, decayed = mlp(), mlp()
    settings = {"epochs": 5, "optimizer": {"name": optimizer, "lr": 0.05}}
    run(job(**settings), blobs(), base)
    run(job(**settings, weight_decay=0.5), blobs(), decayed)
    assert weight_norm(decayed, 2) < 0.8 * weight_norm(base, 2)


class GradNorms:
    """A hook recording the total gradient norm the optimizer used at each step."""

    def __init__(self) -> None:
        self.norms: list[float] = []

    def after_step(self, step: int, model: nn.Module, batch: Any, loss: torch.Tensor) -> None:
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        self.norms.append(float(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))))


def test_clipping_bounds_the_gradient_norm() -> None:
    free, clipped = GradNorms(), GradNorms()
    spec = {"epochs": 2, "optimizer": {"name": "sgd", "lr": 0.01}}
    run(job(**spec), blobs(), mlp(64), hooks=free)
    run(job(**spec, clip_grad_norm=0.1), blobs(), mlp(64), hooks=clipped)
    assert max(free.norms) > 0.2  # the unclipped run does exceed the limit
    assert max(clipped.norms) <= 0.1 + 1e-5
    assert len(clipped.norms) == len(free.norms) == 12


def test_early_stopping_stops_when_test_loss_rises() -> None:
    bundle = blobs()
    bundle.test.target = 1 - bundle.test.target  # the better it fits, the worse the test loss
    records = run(job(epochs=20, early_stopping_patience=2, optimizer={"name": "adam", "lr": 0.02}), bundle, mlp())
    summary = records[-1]
    assert summary.stop_reason == "early_stopping"
    assert summary.epochs == 3  # epoch 1 sets the best test loss, epochs 2 and 3 fail to beat it
    test_losses = [r.loss for r in records if isinstance(r, EvalRecord) and r.split == "test"]
    assert test_losses[1] >= test_losses[0] and test_losses[2] >= test_losses[0]


def test_diverging_loss_raises_non_finite_loss() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 2, generator=g) * 100
    y = x.sum(1, keepdim=True)
    bundle = Bundle(Split({"x": x}, y), Split({"x": x}, y), Signature("regression"))
    with pytest.raises(NonFiniteLoss) as err:
        run(job(epochs=50, batch_size=16, optimizer={"name": "sgd", "lr": 5.0}), bundle, nn.Linear(2, 1))
    assert "loss is" in str(err.value) and err.value.step >= 1


def test_should_stop_is_checked_between_steps() -> None:
    calls = {"n": 0}

    def should_stop() -> bool:
        calls["n"] += 1
        return calls["n"] > 5

    records = run(job(epochs=10, batch_size=16), blobs(), mlp(), should_stop=should_stop)
    assert len(steps(records)) == 5
    assert records[-1].stop_reason == "stopped" and records[-1].steps == 5


def test_max_steps_stops_mid_epoch_with_a_final_evaluation() -> None:
    records = run(job(epochs=10, batch_size=16, max_steps=7), blobs(), mlp())
    assert len(steps(records)) == 7
    assert records[-1].stop_reason == "max_steps" and records[-1].steps == 7
    assert isinstance(records[-2], EvalRecord) and records[-2].step == 7 and records[-2].split == "test"


def test_zeros_init_leaves_hidden_units_symmetric() -> None:
    """The lesson of the zeros scheme: identical units get identical gradients and never differ."""
    xor = blobs(512, xor=True)
    zero_net = mlp(8, nn.Sigmoid)
    settings = {"epochs": 15, "batch_size": 32, "optimizer": {"name": "adam", "lr": 0.05}}
    zero = run(job(**settings, init={"scheme": "zeros"}), xor, zero_net)
    first = zero_net[0].weight
    assert first.abs().sum() > 0  # the weights did move ...
    assert torch.allclose(first, first[:1].expand_as(first))  # ... but every hidden unit is the same unit
    he = run(job(**settings, init={"scheme": "he"}), xor, mlp(8, nn.Sigmoid))
    assert zero[-1].test_accuracy < 0.8 < he[-1].test_accuracy


@pytest.mark.parametrize("scheme", ["xavier", "he", "normal"])
def test_init_schemes_reinitialise_weights(scheme: str) -> None:
    from layerlab.catalogue.training import InitSpec
    from layerlab.training.init import apply_init

    net = nn.Sequential(nn.Linear(100, 200), nn.Conv2d(3, 4, 3), nn.LSTM(5, 6))
    fixed = nn.Conv2d(1, 1, 3)
    fixed.weight.requires_grad_(False)
    before = fixed.weight.clone()
    net.append(fixed)
    assert apply_init(net, InitSpec(scheme=scheme, std=0.5)) == 4  # linear, conv, lstm ih + hh
    std = float(net[0].weight.std())
    want = {"xavier": math.sqrt(2 / 300), "he": math.sqrt(2 / 100), "normal": 0.5}[scheme]
    assert std == pytest.approx(want, rel=0.1)
    assert torch.equal(fixed.weight, before)  # fixed filters keep their values
    assert float(net[0].bias.abs().sum()) == 0.0


class Autoencoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encode = nn.Sequential(nn.Linear(6, 2), nn.Tanh())
        self.decode = nn.Linear(2, 6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


def test_target_input_trains_a_reconstruction_with_mse() -> None:
    g = torch.Generator().manual_seed(0)
    z = torch.randn(300, 2, generator=g)
    x = torch.cat([z, z * 0.5, -z], 1)  # 6-D data on a 2-D plane
    labels = torch.zeros(300, dtype=torch.long)
    bundle = Bundle(Split({"x": x[:240]}, labels[:240]), Split({"x": x[240:]}, labels[240:]))
    torch.manual_seed(0)
    records = run(job(epochs=30, target="input", optimizer={"name": "adam", "lr": 0.02}), bundle, Autoencoder())
    summary = records[-1]
    assert summary.loss_kind == "mse" and summary.test_accuracy is None
    first_test = next(r for r in records if isinstance(r, EvalRecord) and r.split == "test")
    assert summary.test_loss < 0.1 * first_test.loss


class TwoPart(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(5)
        self.body = nn.Sequential(nn.Linear(2, 16), nn.Tanh())
        self.head = nn.Linear(16, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def test_pretrain_then_fine_tune_with_frozen_nodes() -> None:
    model = TwoPart()
    source, target = blobs(256, seed=1), blobs(64, seed=2)
    snapshot: dict[str, torch.Tensor] = {}

    class Snap:
        def after_epoch(self, epoch: int, step: int, m: nn.Module, evals: list[EvalRecord]) -> None:
            if evals and evals[0].phase == "pretrain":
                snapshot.update({k: v.clone() for k, v in m.state_dict().items()})

    spec = job(epochs=3, batch_size=16, optimizer={"name": "adam", "lr": 0.02},
               pretrain={"data": {"dataset": "mnist5k"}, "epochs": 2, "freeze": ["body"]})
    records = run(spec, target, model, pretrain_bundle=source, hooks=Snap())
    phases = [r.phase for r in steps(records)]
    assert phases == ["pretrain"] * 24 + ["train"] * 9
    assert [r.step for r in steps(records)] == list(range(1, 34))
    for key, value in model.state_dict().items():
        same = torch.equal(value, snapshot[key])
        assert same if key.startswith("body") else not same, key
    summary = records[-1]
    assert summary.pretrain is not None and summary.pretrain["steps"] == 24 and summary.steps == 33


def test_freeze_of_an_unknown_node_is_a_clear_error() -> None:
    spec = job(epochs=1, pretrain={"data": {"dataset": "mnist5k"}, "epochs": 1, "freeze": ["nope"]})
    with pytest.raises(ValueError, match="nope"):
        run(spec, blobs(), TwoPart(), pretrain_bundle=blobs())


class Extra:
    def after_step(self, step: int, model: nn.Module, batch: Any, loss: torch.Tensor) -> list[str]:
        return [f"probe@{step}"] if step % 2 == 0 else []


def test_hooks_can_add_records_in_order() -> None:
    records = run(job(epochs=1, batch_size=64), blobs(), mlp(), hooks=Extra())
    kinds = [r if isinstance(r, str) else type(r).__name__ for r in records]
    assert kinds[:4] == ["StepRecord", "StepRecord", "probe@2", "StepRecord"]


class ShiftDecoder(nn.Module):
    """Predicts token t+1 from tgt_in: honest (reads position t) or cheating (peeks at position t+1)."""

    def __init__(self, vocab: int, *, cheat: bool) -> None:
        super().__init__()
        self.vocab, self.cheat = vocab, cheat
        self.scale = nn.Parameter(torch.ones(()))
        self.input_fields = ["src", "tgt_in"]

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        if self.cheat:
            nxt = torch.cat([tgt_in[:, 1:], torch.zeros_like(tgt_in[:, :1])], 1)
        else:
            nxt = src.flip(1)
        return nn.functional.one_hot(nxt, self.vocab).float() * self.scale * 10


def test_seq2seq_test_accuracy_uses_greedy_decoding() -> None:
    g = torch.Generator().manual_seed(0)
    src = torch.randint(3, 9, (64, 5), generator=g)
    tgt_out = src.flip(1)
    tgt_in = torch.cat([torch.ones(64, 1, dtype=torch.long), tgt_out[:, :-1]], 1)
    split = Split({"src": src, "tgt_in": tgt_in}, tgt_out)
    bundle = Bundle(split, split, Signature("seq2seq", pad_index=0))
    spec = job(epochs=1, batch_size=64, optimizer={"name": "sgd", "lr": 1e-6})
    honest = run(spec, bundle, ShiftDecoder(9, cheat=False))[-1]
    cheat = run(spec, bundle, ShiftDecoder(9, cheat=True))[-1]
    assert honest.loss_kind == "sequence_cross_entropy"
    assert honest.test_accuracy == 1.0 and honest.train_accuracy == 1.0
    assert cheat.train_accuracy == pytest.approx(0.8)  # teacher forcing hands it 4 of 5 tokens
    assert cheat.test_accuracy < 0.3  # alone it only has its own (wrong) guesses to copy


def test_device_auto_falls_back_to_cpu_and_cuda_is_refused_without_a_gpu() -> None:
    from layerlab.training.device import DeviceUnavailable, resolve_device

    assert resolve_device("cpu").type == "cpu"
    if torch.cuda.is_available():
        assert resolve_device("auto").type == "cuda"
    else:
        assert resolve_device("auto").type == "cpu"
        with pytest.raises(DeviceUnavailable):
            resolve_device("cuda")


def test_real_spec_with_built_model_and_generated_data_is_bit_identical() -> None:
    """End to end through load_dataset and build_model: same spec, same seed, same losses and weights."""
    spec = JobSpec.model_validate({
        "model": {"nodes": [
            {"id": "x", "type": "input", "params": {"shape": [2]}},
            {"id": "hidden", "type": "dense", "params": {"units": 16}, "inputs": ["x"]},
            {"id": "relu", "type": "activation", "params": {"fn": "relu"}, "inputs": ["hidden"]},
            {"id": "drop", "type": "dropout", "params": {"p": 0.2}, "inputs": ["relu"]},
            {"id": "out", "type": "dense", "params": {"units": 2}, "inputs": ["drop"]},
        ]},
        "data": {"dataset": "moons", "n_samples": 200},
        "train": {"epochs": 2, "batch_size": 16, "seed": 3, "device": "cpu", "init": {"scheme": "he"}},
    })
    first, second = list(train_records(spec)), list(train_records(spec))
    assert [r.loss for r in steps(first)] == [r.loss for r in steps(second)]
    assert len(steps(first)) == 2 * 10
    assert first[-1].test_accuracy == second[-1].test_accuracy and first[-1].test_accuracy > 0.7
