"""Lab `transfer_learning` (9.4): pretrain a small CNN on MNIST-5k, then learn scikit-learn's 8×8 digits from
5 labels per class (brought to MNIST's framing: resized to 20×20 inside a 4-pixel border, 28×28 in all).

Every variant starts from the same initial weights; only what happens before the 50 labelled digits
differs: `pretrained` is the MNIST model used as is, `frozen` trains only its classifier on the digits
(the convolution layers keep MNIST's filters), `fine_tuned` trains all of it, `scratch` trains the
untouched initial weights. Both tasks are the ten digits, so the pretrained classifier is kept.
The full scale repeats the comparison with 10 labels per class.
"""

from __future__ import annotations

import copy
from typing import Any

from ..catalogue.base import Text
from ..catalogue.labs import LabParams
from ..catalogue.spec import ModelSpec
from ..training.loop import freeze_nodes
from .base import LabContext, LabOutcome, lab_runner
from .common import Curves, check_stop, data, job_spec, pick, train_variant
from .vl_common import accuracy, build, node, r2, stack, summary_point

CONV = ("conv1", "conv2")
FINE_TUNE = {"optimizer": {"name": "adam", "lr": 0.003}, "epochs": 30, "batch_size": 16}


def model() -> ModelSpec:
    return stack(
        node("x", "input", shape=[1, 28, 28]),
        node("conv1", "conv2d", filters=8, kernel_size=3, padding=1), node("relu1", "activation", fn="relu"),
        node("pool1", "maxpool2d", kernel_size=2),
        node("conv2", "conv2d", filters=16, kernel_size=3, padding=1), node("relu2", "activation", fn="relu"),
        node("pool2", "maxpool2d", kernel_size=2),
        node("flatten", "flatten"), node("out", "dense", units=10),
    )


def target_data(labels_per_class: int, seed: int) -> dict[str, Any]:
    return {"dataset": "digits", "image_size": 20, "border": 4, "labels_per_class": labels_per_class, "seed": seed}


@lab_runner("transfer_learning")
def run(params: LabParams, ctx: LabContext) -> LabOutcome:
    spec = model()
    initial = build(spec, ["x"], params.seed)
    pre_spec = {"dataset": "mnist5k", "seed": params.seed}
    pre_bundle = data(**pre_spec)
    pre_epochs, pre_batch = pick(params, 2, 4), 64
    pretrained = copy.deepcopy(initial)
    pre_job = job_spec(spec, pre_spec, optimizer={"name": "adam", "lr": 0.003}, epochs=pre_epochs,
                       batch_size=pre_batch, seed=params.seed)
    pre_summary = train_variant(ctx, Curves(ctx, pre_epochs * -(-len(pre_bundle.train) // pre_batch)), "pretrain",
                                pre_job, bundle=pre_bundle, model=pretrained)
    pretrained.eval()

    results: dict[str, dict[str, float]] = {}
    for per_class in pick(params, (5,), (5, 10)):
        check_stop(ctx)
        tgt_spec = target_data(per_class, params.seed)
        bundle = data(**tgt_spec)
        row = {"pretrained": accuracy(pretrained, bundle.test.inputs["x"], bundle.test.target)}
        curves = Curves(ctx, FINE_TUNE["epochs"] * -(-len(bundle.train) // FINE_TUNE["batch_size"]))
        for name in ("frozen", "fine_tuned", "scratch"):
            check_stop(ctx)
            net = copy.deepcopy(initial if name == "scratch" else pretrained)
            if name == "frozen":
                freeze_nodes(net, list(CONV))
            job = job_spec(spec, tgt_spec, seed=params.seed, **FINE_TUNE)
            summary = train_variant(ctx, curves, f"{name}/{per_class}", job, bundle=bundle, model=net)
            row[name] = float(summary.test_accuracy or 0.0)
        for name, value in row.items():
            summary_point(ctx, name, per_class, test_accuracy=value)
        results[f"{per_class}_per_class"] = {k: round(v, 4) for k, v in row.items()}

    five = results["5_per_class"]
    holds = five["fine_tuned"] > five["scratch"]
    numbers = (f"pretrained as is {r2(five['pretrained'])}, frozen features {r2(five['frozen'])}, fine-tuned "
               f"{r2(five['fine_tuned'])}, from scratch {r2(five['scratch'])}")
    numbers_ja = (f"事前学習モデルそのまま {r2(five['pretrained'])}、特徴抽出部を固定 {r2(five['frozen'])}、微調整 "
                  f"{r2(five['fine_tuned'])}、一から学習 {r2(five['scratch'])}")
    head = Text(f"MNIST-5k pretraining reached {r2(float(pre_summary.test_accuracy or 0.0))}. Test accuracy on the "
                f"digits with 5 labels per class: {numbers}.",
                f"MNIST-5k での事前学習の正解率は {r2(float(pre_summary.test_accuracy or 0.0))}。1 クラス 5 枚の"
                f"手書き数字でのテスト正解率：{numbers_ja}。")
    if holds:
        tail = Text(" Fine-tuning the pretrained network beats learning from scratch: transfer learning works with "
                    "little data.",
                    "事前学習したネットワークの微調整は一から学習するより高く、少量のデータでも転移学習が有効。")
    else:
        tail = Text(" This run did not show fine-tuning ahead of learning from scratch; try another seed.",
                    "今回は微調整が一からの学習を上回らなかった。別の seed で試そう。")
    measurements = {"pretrain_test_accuracy": round(float(pre_summary.test_accuracy or 0.0), 4), **results}
    return LabOutcome(measurements, holds, Text(head.en + tail.en, head.ja + tail.ja))
