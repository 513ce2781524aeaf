"""Autoencoder labs (9.3.1, 9.3.2): layer-wise pretraining then fine-tuning, and the bottleneck.

Both learn self-maps (自己写像) of the scikit-learn digits. Seeds, and bottleneck widths, train side by
side as batched ensembles (widths zero-padded: each member computes exactly its own narrow network).
"""

from __future__ import annotations

import statistics
from typing import Any

import numpy as np
import torch

from ..catalogue.base import Text
from ..catalogue.labs import LabParams
from ..catalogue.spec import ModelSpec
from ..catalogue.training import OptimizerSpec
from ..training.batched import BatchedEnsemble, member_losses
from ..training.losses import Objective
from .base import LabContext, LabOutcome, lab_runner
from .common import Curves, build, data, fit, log, mlp_spec, pick, rounded

MSE = Objective("mse")
CE = Objective("cross_entropy")
PRETRAIN_LAYERS = (48, 32, 16)
PRETRAIN_GAIN = 0.03  # mean test-accuracy advantage that counts as "better"


def _digits(seed: int, **knobs: Any) -> Any:
    return data(dataset="digits", flatten=True, seed=seed, **knobs)


def _pretrain_layers(ctx: LabContext, pool: torch.Tensor, seeds: list[int], steps: int, curves: Curves
                     ) -> tuple[list[list[tuple[torch.Tensor, torch.Tensor]]], list[float]]:
    """Greedy layer-wise pretraining: each layer is the encoder of an autoencoder of the previous codes.

    Returns, per layer, each seed's (weight, bias), and each layer's mean reconstruction loss."""
    layers: list[list[tuple[torch.Tensor, torch.Tensor]]] = []
    losses: list[float] = []
    codes, d_in, per_member = pool, pool.shape[-1], False
    for i, d_out in enumerate(PRETRAIN_LAYERS, start=1):
        log(ctx, f"pretraining layer {i}: autoencoder {d_in}→{d_out}→{d_in}",
            f"{i} 層目の事前学習：自己写像 {d_in}→{d_out}→{d_in}")
        spec = mlp_spec(d_in, [d_out], d_in, "sigmoid")
        ens = BatchedEnsemble([build(spec, s) for s in seeds], [OptimizerSpec(name="adam", lr=0.01)] * len(seeds))
        names = [f"pretrain_h{i}/{s}" for s in seeds]
        last = fit(ctx, ens, codes, codes, MSE, steps=steps, batch_size=32, seed=seeds[0] + i,
                   per_member=per_member, curves=curves, names=names, step0=(i - 1) * steps)
        losses.append(statistics.mean(last))
        w, b = ens.params["layers.h1.weight"].detach(), ens.params["layers.h1.bias"].detach()
        layers.append([(w[k].clone(), b[k].clone()) for k in range(len(seeds))])
        stacked = codes if per_member else codes.unsqueeze(0).expand(len(seeds), *codes.shape)
        codes = torch.sigmoid(torch.einsum("snd,sod->sno", stacked, w) + b[:, None, :])
        d_in, per_member = d_out, True
    return layers, losses


@lab_runner("pretraining")
def pretraining(params: LabParams, ctx: LabContext) -> LabOutcome:
    seeds = [params.seed + i for i in range(pick(params, 3, 6))]
    ae_steps, ft_steps = pick(params, 300, 1000), pick(params, 200, 500)
    per_class = 5
    pool = _digits(params.seed).train.inputs["x"]  # every training image, labels unused
    labelled = _digits(params.seed, labels_per_class=per_class)
    curves = Curves(ctx, len(PRETRAIN_LAYERS) * ae_steps + ft_steps, points=150)
    encoders, ae_losses = _pretrain_layers(ctx, pool, seeds, ae_steps, curves)

    classifier = mlp_spec(64, list(PRETRAIN_LAYERS), 10, "sigmoid")
    models = []
    for k, seed in enumerate(seeds):
        pretrained = build(classifier, seed)
        with torch.no_grad():
            for i, layer in enumerate(encoders, start=1):
                pretrained.layers[f"h{i}"].weight.copy_(layer[k][0])
                pretrained.layers[f"h{i}"].bias.copy_(layer[k][1])
        models.append(pretrained)
    models += [build(classifier, seed) for seed in seeds]  # same output layer, random hidden layers
    names = [f"pretrained/{s}" for s in seeds] + [f"random/{s}" for s in seeds]
    ens = BatchedEnsemble(models, [OptimizerSpec(name="adam", lr=0.003)] * len(models))
    x, y = labelled.train.inputs["x"], labelled.train.target
    test_x, test_y = labelled.test.inputs["x"], labelled.test.target
    step0 = len(PRETRAIN_LAYERS) * ae_steps
    log(ctx, f"fine-tuning on {len(y)} labelled digits", f"ラベル付きの {len(y)} 枚で fine-tuning")

    def test_curve(step: int) -> None:
        if step == step0 + 1 or (step - step0) % max(1, ft_steps // 10) == 0:
            loss, acc = ens.evaluate((test_x,), test_y, CE)
            for name, lv, av in zip(names, loss, acc or [], strict=True):
                curves.point(name, step, kind="eval", split="test", loss=lv, accuracy=av)

    fit(ctx, ens, x, y, CE, steps=ft_steps, batch_size=25, seed=params.seed, curves=curves, names=names,
        step0=step0, on_step=test_curve)
    _, acc = ens.evaluate((test_x,), test_y, CE)
    assert acc is not None
    s = len(seeds)
    pre, rand = statistics.mean(acc[:s]), statistics.mean(acc[s:])
    holds = pre - rand >= PRETRAIN_GAIN
    verdict = Text(
        f"Test accuracy with {per_class} labels per digit, mean of {s} seeds: pretrained {pre:.3f}, random "
        f"initialisation {rand:.3f}. "
        + ("Layer-wise pretraining on unlabelled images gave the deep sigmoid network a better start."
           if holds else "Pretraining did not help by at least 3 points in this run."),
        f"1 数字あたり {per_class} ラベル、{s} 個の乱数種の平均テスト正解率：事前学習あり {pre:.3f}、"
        f"ランダムな初期値 {rand:.3f}。"
        + ("ラベルなし画像での層ごとの事前学習が、深いシグモイドのネットワークに良い初期値を与えた。"
           if holds else "今回の実行では事前学習による 3 ポイント以上の改善は見られなかった。"),
    )
    measured = {
        "layers": list(PRETRAIN_LAYERS), "labels_per_class": per_class, "seeds": s, "pretrain_steps": ae_steps,
        "finetune_steps": ft_steps, "reconstruction_loss": [rounded(v) for v in ae_losses],
        "pretrained_test_accuracy": rounded(pre), "random_test_accuracy": rounded(rand),
        "per_seed": {"pretrained": [rounded(a) for a in acc[:s]], "random": [rounded(a) for a in acc[s:]]},
    }
    return LabOutcome(measured, holds, verdict)


BOTTLENECKS = (2, 8, 32)
KEEPS_MOST = 0.6  # variance explained by 8 units
MAP_SEPARATES = 0.5  # 5-nearest-neighbour accuracy in the 2-D code space (chance: 0.1)


def _autoencoder(bottleneck: int) -> ModelSpec:
    """64 → 32 → bottleneck (linear code) → 32 → 64."""
    return ModelSpec.model_validate({"nodes": [
        {"id": "x", "type": "input", "params": {"shape": [64]}},
        {"id": "enc", "type": "dense", "params": {"units": 32}, "inputs": ["x"]},
        {"id": "enc_act", "type": "activation", "params": {"fn": "relu"}, "inputs": ["enc"]},
        {"id": "code", "type": "dense", "params": {"units": bottleneck}, "inputs": ["enc_act"]},
        {"id": "dec", "type": "dense", "params": {"units": 32}, "inputs": ["code"]},
        {"id": "dec_act", "type": "activation", "params": {"fn": "relu"}, "inputs": ["dec"]},
        {"id": "out", "type": "dense", "params": {"units": 64}, "inputs": ["dec_act"]},
    ]})


def _codes(ens: BatchedEnsemble, k: int, x: torch.Tensor) -> torch.Tensor:
    """Member k's bottleneck codes (its own width) for images x."""
    p = {name: t[k].detach() for name, t in ens.params.items()}
    width = ens.shapes[k]["layers.code.weight"][0]
    h = torch.relu(x @ p["layers.enc.weight"].T + p["layers.enc.bias"])
    return (h @ p["layers.code.weight"].T + p["layers.code.bias"])[:, :width]


def _knn_accuracy(train_z: torch.Tensor, train_y: torch.Tensor, test_z: torch.Tensor, test_y: torch.Tensor) -> float:
    nearest = torch.cdist(test_z, train_z).topk(5, largest=False).indices
    votes = torch.mode(train_y[nearest], dim=1).values
    return float((votes == test_y).float().mean())


@lab_runner("autoencoder")
def autoencoder(params: LabParams, ctx: LabContext) -> LabOutcome:
    steps = pick(params, 1000, 4000)
    bundle = _digits(params.seed)
    x, y = bundle.train.inputs["x"], bundle.train.target
    test_x, test_y = bundle.test.inputs["x"], bundle.test.target
    names = [f"bottleneck_{b}" for b in BOTTLENECKS]
    models = [build(_autoencoder(b), params.seed) for b in BOTTLENECKS]
    ens = BatchedEnsemble(models, [OptimizerSpec(name="adam", lr=0.003)] * len(models), pad=True)
    curves = Curves(ctx, steps, points=100)
    shown = test_x[:8]

    def live(step: int) -> None:
        if step % max(1, steps // 10):
            return
        with torch.no_grad():
            out = ens.forward(shown, training=False)
        for k, name in enumerate(names):
            pair = torch.stack([shown, out[k]]).reshape(2, len(shown), 8, 8).clamp(0, 1)
            ctx.emit_tensor("reconstructions", name, pair.numpy(), step, {"rows": ["input", "output"]})
        z = _codes(ens, 0, test_x)
        ctx.emit_tensor("latent_map", names[0], torch.cat([z, test_y[:, None].float()], 1).numpy(), step,
                        {"columns": ["z1", "z2", "label"]})
        loss = member_losses(ens.forward(test_x, training=False), test_x, MSE).tolist()
        for name, value in zip(names, loss, strict=True):
            curves.point(name, step, kind="eval", split="test", loss=value)

    fit(ctx, ens, x, x, MSE, steps=steps, batch_size=32, seed=params.seed, curves=curves, names=names, on_step=live)
    with torch.no_grad():
        mse = member_losses(ens.forward(test_x, training=False), test_x, MSE).tolist()
    variance = float(((test_x - x.mean(0)) ** 2).mean())
    explained = [1 - m / variance for m in mse]
    knn = _knn_accuracy(_codes(ens, 0, x), y, _codes(ens, 0, test_x), test_y)
    i8 = BOTTLENECKS.index(8)
    holds = explained[i8] >= KEEPS_MOST and knn >= MAP_SEPARATES and mse[0] > mse[1] > mse[2]
    per = ", ".join(f"{b} units {e:.2f}" for b, e in zip(BOTTLENECKS, explained, strict=True))
    per_ja = "、".join(f"{b} ユニット {e:.2f}" for b, e in zip(BOTTLENECKS, explained, strict=True))
    verdict = Text(
        f"Share of the test images' variance the reconstruction keeps: {per}. Digits told apart by their 5 nearest "
        f"neighbours in the 2-unit code: {knn:.2f} (chance 0.10). "
        + ("A narrow middle layer keeps most of the information, and the 2-D codes group the digits without labels."
           if holds else "This run did not show every expected effect."),
        f"再構成が保つテスト画像の分散の割合：{per_ja}。2 ユニットの符号空間で近傍 5 点から数字を当てた正解率："
        f"{knn:.2f}（偶然なら 0.10）。"
        + ("少数のユニットの中間層が情報の大部分を保ち、2 次元の符号はラベルなしで数字をまとめている。"
           if holds else "今回の実行では期待した効果のすべては見られなかった。"),
    )
    measured = {"steps": steps, "bottlenecks": list(BOTTLENECKS), "test_mse": [rounded(m, 5) for m in mse],
                "variance": rounded(variance, 5), "variance_explained": [rounded(e) for e in explained],
                "latent_knn_accuracy": rounded(knn)}
    ctx.emit_tensor("latent_map", names[0], np.concatenate([_codes(ens, 0, test_x).numpy(),
                                                            test_y[:, None].float().numpy()], 1), steps,
                    {"columns": ["z1", "z2", "label"]})
    return LabOutcome(measured, holds, verdict)
