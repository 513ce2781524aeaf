"""Dropout (9.3.3): the train/test gap with and without it, and the slide's scale-at-inference rule vs
inverted dropout. A wide network learns 30 digits per class of which 20% carry a wrong label, so without
dropout it memorises the noise; each variant trains several seeds as one batched ensemble.
"""

from __future__ import annotations

import statistics
from typing import Any

from ..catalogue.base import Text
from ..catalogue.labs import LabParams
from ..training.batched_loop import Member
from .base import LabContext, LabOutcome, lab_runner
from .common import Curves, data, job_spec, mlp_nodes, pick, rounded, train_ensemble

VARIANTS: dict[str, str | None] = {"none": None, "inverted": "inverted", "scale_at_inference": "scale_at_inference"}
MODES_AGREE = 0.03  # test accuracies of the two dropout modes within this: equivalent
P_DROP = 0.5


@lab_runner("dropout")
def dropout(params: LabParams, ctx: LabContext) -> LabOutcome:
    steps = pick(params, 500, 1500)
    seeds = pick(params, 3, 8)
    width = pick(params, 256, 512)
    data_spec = {"dataset": "digits", "flatten": True, "labels_per_class": 30, "label_noise": 0.2,
                 "seed": params.seed}
    bundle = data(**data_spec)
    curves = Curves(ctx, steps, points=80)
    results: dict[str, dict[str, Any]] = {}
    for name, mode in VARIANTS.items():
        nodes = mlp_nodes(64, [width, width], 10, "relu", dropout=P_DROP if mode else None,
                          dropout_mode=mode or "inverted")
        spec = job_spec(nodes, data_spec, epochs=50, max_steps=steps, batch_size=32, seed=params.seed,
                        optimizer={"name": "adam", "lr": 0.001})
        members = [Member(seed=params.seed + i, optimizer=spec.train.optimizer) for i in range(seeds)]
        labels = [f"{name}/{i}" for i in range(seeds)]
        summary = train_ensemble(ctx, curves, labels, spec, members, bundle=bundle)
        train_acc = [m["train_accuracy"] for m in summary.members]
        test_acc = [m["test_accuracy"] for m in summary.members]
        results[name] = {
            "train_accuracy": rounded(statistics.mean(train_acc)), "test_accuracy": rounded(statistics.mean(test_acc)),
            "gap": rounded(statistics.mean(train_acc) - statistics.mean(test_acc)),
            "test_accuracy_per_seed": [rounded(a) for a in test_acc],
        }
        ctx.emit({"type": "metrics", "kind": "summary_point", "variant": name, **results[name]})
    none, inv, scale = results["none"], results["inverted"], results["scale_at_inference"]
    modes_diff = abs(inv["test_accuracy"] - scale["test_accuracy"])
    holds = inv["gap"] < none["gap"] and scale["gap"] < none["gap"] and modes_diff <= MODES_AGREE
    table = "; ".join(f"{n}: train {r['train_accuracy']:.3f}, test {r['test_accuracy']:.3f}, gap {r['gap']:+.3f}"
                      for n, r in results.items())
    table_ja = "；".join(f"{n}：学習 {r['train_accuracy']:.3f}、テスト {r['test_accuracy']:.3f}、差 {r['gap']:+.3f}"
                        for n, r in results.items())
    verdict = Text(
        f"Mean over {seeds} seeds — {table}. "
        + (f"Dropout shrank the train-test gap, and the two modes agree on test accuracy (within {modes_diff:.3f})."
           if holds else "This run did not show both effects (smaller gap with dropout, equal modes)."),
        f"{seeds} 個の乱数種の平均 — {table_ja}。"
        + (f"ドロップアウトで学習とテストの差が縮み、2 つの方式のテスト正解率は一致した（差 {modes_diff:.3f}）。"
           if holds else "今回の実行では両方の効果（差の縮小と方式の一致）は見られなかった。"),
    )
    measured = {"steps": steps, "seeds": seeds, "width": width, "p": P_DROP, "label_noise": 0.2,
                "results": results, "modes_test_difference": rounded(modes_diff)}
    return LabOutcome(measured, holds, verdict)
