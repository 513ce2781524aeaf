"""Training-settings catalogue and its torch mappings: names in step, the right classes, pure schedules."""

from __future__ import annotations

import json
from typing import get_args

import pytest
import torch
from torch import nn

from layerlab.catalogue import training as cat
from layerlab.training.losses import Objective, resolve_loss
from layerlab.training.optim import OPTIMIZER_NAMES, make_optimizer
from layerlab.training.schedule import lr_curve, lr_factor

TABLES = {
    "optimizers": (cat.OPTIMIZERS, cat.OptimizerName),
    "losses": (cat.LOSSES, cat.LossName),
    "schedules": (cat.SCHEDULES, cat.ScheduleName),
    "init_schemes": (cat.INIT_SCHEMES, cat.InitScheme),
}


@pytest.mark.parametrize("table", TABLES)
def test_tables_cover_exactly_the_spec_names(table: str) -> None:
    choices, literal = TABLES[table]
    assert list(choices) == list(get_args(literal))


def test_regularisers_name_real_train_fields() -> None:
    assert set(cat.REGULARISERS) == {"l1", "l2", "clipping", "early_stopping"}
    for choice in cat.REGULARISERS.values():
        for name in choice.fields:
            assert name in cat.TrainSpec.model_fields


def test_every_choice_has_help_in_both_languages_and_fields_that_exist() -> None:
    spec = cat.TrainSpec().model_dump()
    for table in (cat.OPTIMIZERS, cat.LOSSES, cat.SCHEDULES, cat.INIT_SCHEMES, cat.REGULARISERS):
        for choice in table.values():
            for text in (choice.title, choice.description):
                assert text.en.strip() and text.ja.strip()
                assert any(ord(ch) > 0x3000 for ch in text.ja + choice.description.ja)
            assert choice.section.startswith("9.")
            for dotted in choice.fields:
                node = spec
                for part in dotted.split("."):
                    assert part in node, dotted
                    node = node[part]


def test_catalogue_json_is_serialisable_and_complete() -> None:
    out = cat.training_catalogue_json()
    text = json.dumps(out, ensure_ascii=False)
    assert "ゼロ" in text and "symmetry" in text  # the zeros scheme explains why it fails
    assert [o["name"] for o in out["optimizers"]] == list(OPTIMIZER_NAMES)
    assert out["train_defaults"]["optimizer"]["name"] == "adam"
    assert "pretrain" in out["train_schema"]["properties"]


def test_optimizer_names_match_the_spec() -> None:
    assert OPTIMIZER_NAMES == get_args(cat.OptimizerName)


EXPECTED = {
    "sgd": (torch.optim.SGD, {"momentum": 0, "nesterov": False}),
    "momentum": (torch.optim.SGD, {"momentum": 0.8, "nesterov": False}),
    "nesterov": (torch.optim.SGD, {"momentum": 0.8, "nesterov": True}),
    "adagrad": (torch.optim.Adagrad, {}),
    "rmsprop": (torch.optim.RMSprop, {"alpha": 0.8}),
    "adam": (torch.optim.Adam, {"betas": (0.85, 0.99)}),
    "adamw": (torch.optim.AdamW, {"betas": (0.85, 0.99)}),
}


@pytest.mark.parametrize("name", OPTIMIZER_NAMES)
def test_each_name_builds_its_torch_class(name: str) -> None:
    layer = nn.Linear(3, 2)
    spec = cat.OptimizerSpec(name=name, lr=0.03, momentum=0.8, beta1=0.85, beta2=0.99)
    opt = make_optimizer(layer.parameters(), spec, weight_decay=0.1)
    cls, extra = EXPECTED[name]
    assert type(opt) is cls
    group = opt.param_groups[0]
    assert group["lr"] == 0.03 and group["weight_decay"] == 0.1
    for key, value in extra.items():
        assert group[key] == value, key


def test_optimizer_skips_frozen_parameters_and_refuses_none() -> None:
    layer = nn.Linear(3, 2)
    layer.weight.requires_grad_(False)
    opt = make_optimizer(layer.parameters(), cat.OptimizerSpec(), lr=0.5)
    assert opt.param_groups[0]["params"] == [layer.bias] and opt.param_groups[0]["lr"] == 0.5
    layer.bias.requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameters"):
        make_optimizer(layer.parameters(), cat.OptimizerSpec())


def test_schedule_factors() -> None:
    step = cat.ScheduleSpec(name="step", step_size=3, gamma=0.1)
    assert [lr_factor(step, s, steps_per_epoch=2, total_steps=20) for s in (0, 5, 6, 11, 12)] == pytest.approx(
        [1, 1, 0.1, 0.1, 0.01]
    )
    cosine = lr_curve(cat.ScheduleSpec(name="cosine"), 2.0, steps_per_epoch=5, total_steps=5)
    assert cosine == pytest.approx([2.0, 1.809017, 1.309017, 0.690983, 0.190983])
    warm = cat.ScheduleSpec(name="linear_warmup", warmup_steps=4)
    assert lr_curve(warm, 1.0, steps_per_epoch=3, total_steps=6) == pytest.approx([0.25, 0.5, 0.75, 1, 1, 1])


@pytest.mark.parametrize(
    ("name", "task", "target", "want"),
    [
        ("auto", "classification", "label", "cross_entropy"),
        ("auto", "regression", "label", "mse"),
        ("auto", "seq2seq", "label", "sequence_cross_entropy"),
        ("auto", "sequence_labeling", "label", "sequence_cross_entropy"),
        ("auto", "classification", "input", "mse"),
        ("bce", "classification", "label", "bce"),
    ],
)
def test_auto_loss_follows_the_task(name: str, task: str, target: str, want: str) -> None:
    assert resolve_loss(name, task=task, target=target) == want


def test_sequence_loss_and_accuracy_ignore_padding() -> None:
    obj = Objective("sequence_cross_entropy", pad_index=0)
    logits = torch.full((1, 4, 5), -10.0)
    logits[0, torch.arange(4), torch.tensor([3, 4, 1, 1])] = 10.0  # predicts 3 4 1 1
    target = torch.tensor([[3, 2, 0, 0]])  # one right, one wrong, two pads
    correct, counted = obj.counts(logits, target)
    assert int(correct) == 1 and int(counted) == 2
    loss, acc = obj.step_stats(logits, target, obj.loss(logits, target))
    assert acc == 0.5 and loss == pytest.approx(10.0, abs=1e-3)


def test_bce_accuracy_thresholds_logits() -> None:
    obj = Objective("bce")
    out = torch.tensor([[2.0], [-1.0], [0.5]])
    target = torch.tensor([1, 1, 0])
    _, acc = obj.step_stats(out, target, obj.loss(out, target))
    assert acc == pytest.approx(1 / 3)
