"""Lab `cnn_filters` (9.4): the slide's fixed mean/edge filters vs three learned 3×3 filters vs raw pixels.

The three models share everything but the filter stage (ReLU, 2×2 max pooling, one linear classifier),
so the accuracy gap is what the filters add. After training, the lab streams the feature maps of one
test digit for both filter banks, both sets of filters, and how closely each learned filter matches a
slide filter (|cosine| of the 3×3 weights, sign ignored: an edge filter and its negative detect the
same edge).
"""

from __future__ import annotations

from typing import Any

import torch

from ..catalogue.base import Text
from ..catalogue.labs import LabParams
from ..catalogue.spec import ModelSpec
from ..training.modules import FIXED_FILTERS
from .base import LabContext, LabOutcome, lab_runner
from .common import Curves, check_stop, data, job_spec, pick, train_variant
from .vl_common import build, device_of, node, r2, stack

SLIDE_FILTERS = ("mean", "edge_vertical", "edge_horizontal")
IMAGE = [1, 28, 28]


def _head() -> list[dict[str, Any]]:
    return [node("relu", "activation", fn="relu"), node("pool", "maxpool2d", kernel_size=2), node("flatten", "flatten"),
            node("out", "dense", units=10)]


def models() -> dict[str, ModelSpec]:
    """The three variants: the slide's filters, learned filters, no filters (pixels straight to pooling)."""
    fixed = [node("x", "input", shape=IMAGE)]
    fixed += [node(name, "fixed_filter2d", ["x"], filter=name) for name in SLIDE_FILTERS]
    fixed.append(node("maps", "concat", list(SLIDE_FILTERS), axis=0))
    return {
        "fixed": stack(*fixed, *_head()),
        "learned": stack(node("x", "input", shape=IMAGE), node("maps", "conv2d", filters=3, kernel_size=3, padding=1),
                         *_head()),
        "pixels": stack(node("x", "input", shape=IMAGE), *_head()[1:]),
    }


def filter_matches(weight: torch.Tensor) -> list[dict[str, Any]]:
    """For each learned 3×3 filter, the slide filter it resembles most and the |cosine| between them."""
    learned = weight.detach().float().cpu().reshape(weight.shape[0], -1)
    slide = torch.tensor([FIXED_FILTERS[name] for name in SLIDE_FILTERS]).reshape(len(SLIDE_FILTERS), -1)
    cos = torch.nn.functional.normalize(learned, dim=1) @ torch.nn.functional.normalize(slide, dim=1).T
    best = cos.abs().max(dim=1)
    return [{"filter": i, "closest": SLIDE_FILTERS[int(j)], "abs_cosine": round(float(v), 3)}
            for i, (v, j) in enumerate(zip(best.values, best.indices, strict=True))]


@lab_runner("cnn_filters")
def run(params: LabParams, ctx: LabContext) -> LabOutcome:
    data_spec = {"dataset": "mnist5k", "n_samples": pick(params, 2000, 5000), "seed": params.seed}
    bundle = data(**data_spec)
    epochs, batch = pick(params, 5, 8), 64
    curves = Curves(ctx, epochs * -(-len(bundle.train) // batch))
    acc: dict[str, float] = {}
    trained = {}
    steps = 0
    for name, spec in models().items():
        check_stop(ctx)
        model = build(spec, ["x"], params.seed)
        job = job_spec(spec, data_spec, optimizer={"name": "adam", "lr": 0.01}, epochs=epochs, batch_size=batch,
                       seed=params.seed)
        summary = train_variant(ctx, curves, name, job, bundle=bundle, model=model)
        acc[name], steps, trained[name] = float(summary.test_accuracy or 0.0), summary.steps, model.eval()

    digit = bundle.test.inputs["x"][:1]
    ctx.emit_tensor("feature_maps", "input", digit[0].numpy(), 0, {"label": int(bundle.test.target[0])})
    for name in ("fixed", "learned"):
        with torch.no_grad():
            maps = trained[name].forward_all(digit.to(device_of(trained[name])))["maps"][0]
        ctx.emit_tensor("feature_maps", name, maps.cpu().numpy(), steps,
                        {"channels": list(SLIDE_FILTERS) if name == "fixed" else ["filter 0", "filter 1", "filter 2"]})
    learned_weight = trained["learned"].layers["maps"].weight
    slide_weight = torch.tensor([FIXED_FILTERS[name] for name in SLIDE_FILTERS]).unsqueeze(1)
    ctx.emit_tensor("filters", "fixed", slide_weight.numpy(), 0, {"names": list(SLIDE_FILTERS)})
    ctx.emit_tensor("filters", "learned", learned_weight.detach().cpu().numpy(), steps)
    matches = filter_matches(learned_weight)
    holds = acc["fixed"] > acc["pixels"] and acc["learned"] > acc["pixels"]
    best = max(matches, key=lambda m: m["abs_cosine"])
    numbers = (f"slide filters {r2(acc['fixed'])}, learned filters {r2(acc['learned'])}, raw pixels "
               f"{r2(acc['pixels'])}")
    numbers_ja = (f"スライドのフィルタ {r2(acc['fixed'])}、学習したフィルタ {r2(acc['learned'])}、"
                  f"画素のまま {r2(acc['pixels'])}")
    resemble = (f" The learned filter closest to a slide filter matches the {best['closest']} filter with |cos| "
                f"{r2(best['abs_cosine'])}.")
    resemble_ja = (f"学習したフィルタのうち最もスライドに近いものは {best['closest']} フィルタと "
                   f"|cos| {r2(best['abs_cosine'])}。")
    if holds:
        verdict = Text(f"Test accuracy: {numbers}. Both filter banks beat the raw pixels: filtering first helps."
                       + resemble,
                       f"テスト正解率：{numbers_ja}。どちらのフィルタも画素のままより高く、先にフィルタを適用すると"
                       "分類しやすくなる。" + resemble_ja)
    else:
        verdict = Text(f"Test accuracy: {numbers}. This run did not show both filter banks ahead of the raw pixels; "
                       "try the full scale or another seed." + resemble,
                       f"テスト正解率：{numbers_ja}。今回は両方のフィルタが画素のままを上回らなかった。full の規模や"
                       "別の seed で試そう。" + resemble_ja)
    measurements = {"test_accuracy": acc, "learned_filter_matches": matches, "steps_per_variant": steps}
    return LabOutcome(measurements, holds, verdict)
