"""Lab `pooling_batchnorm` (9.4): what max pooling and batch normalisation each do for a small CNN.

Three CNNs of two 3×3 convolution stages differ in one part each: `cnn` has batch norm and 2×2 max
pooling, `no_pool` drops the pooling (its classifier reads the full-resolution maps), `no_batchnorm`
drops the batch norm. Pooling is judged by robustness to position: test accuracy on the test digits
shifted by 1 and 2 pixels in 8 directions (zeros fill the uncovered border), as a share of the unshifted
accuracy. Batch norm is judged by speed: the mean training loss over the first epoch.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from ..catalogue.base import Text
from ..catalogue.labs import LabParams
from ..catalogue.spec import ModelSpec
from .base import LabContext, LabOutcome, lab_runner
from .common import Curves, check_stop, data, job_spec, pick, train_variant
from .vl_common import LossTrace, accuracy, build, node, r2, stack, summary_point

SHIFTS = (1, 2)
DIRECTIONS = ((1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (1, -1), (-1, 1), (-1, -1))


def cnn(pool: bool, batchnorm: bool) -> ModelSpec:
    nodes: list[dict[str, Any]] = [node("x", "input", shape=[1, 28, 28])]
    for i, filters in ((1, 8), (2, 16)):
        nodes.append(node(f"conv{i}", "conv2d", filters=filters, kernel_size=3, padding=1))
        if batchnorm:
            nodes.append(node(f"bn{i}", "batchnorm"))
        nodes.append(node(f"relu{i}", "activation", fn="relu"))
        if pool:
            nodes.append(node(f"pool{i}", "maxpool2d", kernel_size=2))
    return stack(*nodes, node("flatten", "flatten"), node("out", "dense", units=10))


VARIANTS: dict[str, ModelSpec] = {"cnn": cnn(True, True), "no_pool": cnn(False, True), "no_batchnorm": cnn(True, False)}


def shift(images: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """Images [N,C,H,W] moved dx pixels right and dy down; the uncovered border is zero (black)."""
    h, w = images.shape[-2:]
    padded = F.pad(images, (max(dx, 0), max(-dx, 0), max(dy, 0), max(-dy, 0)))
    top, left = max(-dy, 0), max(-dx, 0)
    return padded[..., top:top + h, left:left + w]


def shifted_accuracy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, pixels: int) -> float:
    """Mean accuracy over the 8 directions at a distance of `pixels`."""
    return sum(accuracy(model, shift(x, dx * pixels, dy * pixels), y) for dx, dy in DIRECTIONS) / len(DIRECTIONS)


@lab_runner("pooling_batchnorm")
def run(params: LabParams, ctx: LabContext) -> LabOutcome:
    data_spec = {"dataset": "mnist5k", "n_samples": pick(params, 2000, 5000), "seed": params.seed}
    bundle = data(**data_spec)
    epochs, batch = pick(params, 3, 6), 64
    per_epoch = -(-len(bundle.train) // batch)
    curves = Curves(ctx, epochs * per_epoch)
    x, y = bundle.test.inputs["x"], bundle.test.target
    results: dict[str, dict[str, float]] = {}
    for name, spec in VARIANTS.items():
        check_stop(ctx)
        model = build(spec, ["x"], params.seed)
        trace = LossTrace()
        job = job_spec(spec, data_spec, optimizer={"name": "adam", "lr": 0.003}, epochs=epochs, batch_size=batch,
                       seed=params.seed)
        summary = train_variant(ctx, curves, name, job, bundle=bundle, model=model, hooks=trace)
        clean = float(summary.test_accuracy or 0.0)
        row = {"test_accuracy": clean, "first_epoch_loss": trace.mean(per_epoch)}
        summary_point(ctx, name, 0, test_accuracy=clean)
        for px in SHIFTS:
            check_stop(ctx)
            acc = shifted_accuracy(model, x, y, px)
            row[f"shift_{px}px_accuracy"] = acc
            row[f"shift_{px}px_retained"] = acc / clean if clean else 0.0
            summary_point(ctx, name, px, test_accuracy=acc)
        row["retained"] = sum(row[f"shift_{px}px_retained"] for px in SHIFTS) / len(SHIFTS)
        results[name] = {k: round(v, 4) for k, v in row.items()}

    cnn_, no_pool, no_bn = results["cnn"], results["no_pool"], results["no_batchnorm"]
    pooling_holds = cnn_["retained"] > no_pool["retained"]
    batchnorm_holds = cnn_["first_epoch_loss"] < no_bn["first_epoch_loss"]
    pool_en = (f"Shifted by 1–2 px, the CNN with pooling keeps {r2(cnn_['retained'])} of its accuracy "
               f"({r2(cnn_['shift_1px_accuracy'])} at 1 px, {r2(cnn_['shift_2px_accuracy'])} at 2 px), without "
               f"pooling {r2(no_pool['retained'])} ({r2(no_pool['shift_1px_accuracy'])}, "
               f"{r2(no_pool['shift_2px_accuracy'])}).")
    pool_ja = (f"1〜2 画素ずらすと、プーリングありの CNN は正解率の {r2(cnn_['retained'])} を保ち（1 画素 "
               f"{r2(cnn_['shift_1px_accuracy'])}、2 画素 {r2(cnn_['shift_2px_accuracy'])}）、プーリングなしは "
               f"{r2(no_pool['retained'])}（{r2(no_pool['shift_1px_accuracy'])}、{r2(no_pool['shift_2px_accuracy'])}）。")
    bn_en = (f"Mean training loss over the first epoch: {r2(cnn_['first_epoch_loss'])} with batch norm, "
             f"{r2(no_bn['first_epoch_loss'])} without.")
    bn_ja = (f"最初のエポックの平均学習損失は、バッチ標準化ありで {r2(cnn_['first_epoch_loss'])}、なしで "
             f"{r2(no_bn['first_epoch_loss'])}。")
    if pooling_holds and batchnorm_holds:
        tail = Text(" Pooling absorbed the shifts better, and batch norm made the loss fall faster.",
                    "プーリングは位置のずれをよく吸収し、バッチ標準化は損失を速く下げた。")
    else:
        missing = [part for part, ok in (("pooling", pooling_holds), ("batch norm", batchnorm_holds)) if not ok]
        tail = Text(f" This run did not show the effect of {' and '.join(missing)}; try the full scale or another "
                    "seed.",
                    "今回は一部の効果が見られなかった。full の規模や別の seed で試そう。")
    verdict = Text(f"{pool_en} {bn_en}{tail.en}", f"{pool_ja}{bn_ja}{tail.ja}")
    measurements = {"variants": results, "pooling_holds": pooling_holds, "batchnorm_holds": batchnorm_holds,
                    "steps_per_epoch": per_epoch}
    return LabOutcome(measurements, pooling_holds and batchnorm_holds, verdict)
