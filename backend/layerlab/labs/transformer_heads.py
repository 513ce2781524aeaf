"""Lab `transformer_heads` (9.5): the heads of one multi-head self-attention layer split a job between them.

Task (generated here): a sequence of symbols; each inner position must output the pair (left neighbour,
right neighbour) as one of S×S classes; the two ends carry no tag. A single head that spread its
weight over both neighbours would mix them symmetrically and lose which is which, so the layer does best
when one head reads the left neighbour and another the right one. The model is a catalogue graph
(embedding → positional encoding → Transformer encoder block → dense), the same a learner can build.
Per-head attention maps of one test sequence stream after every epoch.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from ..catalogue.base import Text
from ..catalogue.dataset_info import DatasetSignature
from ..catalogue.labs import LabParams
from ..catalogue.shapes import TensorShape
from ..catalogue.spec import ModelSpec
from ..training.data import Split
from .base import LabContext, LabOutcome, lab_runner
from .common import Curves, check_stop, pick
from .common import train_variant as train_curves
from .vl_common import LabData, build, device_of, loop_spec, node, r2, stack

PAD = 0
OFFSETS = (-1, 0, 1)
FOCUSED = 0.4  # a head "reads" an offset when it puts at least this much weight there
LEARNED = 0.9


def neighbours_task(n: int, length: int, symbols: int, seed: int) -> LabData:
    """Symbols 1..S; the tag of position t (0 < t < T−1) is 1 + (x[t−1]−1)·S + (x[t+1]−1); 20% test."""
    rng = np.random.default_rng([seed, 955])
    x = rng.integers(1, symbols + 1, (n, length))
    y = np.full((n, length), PAD, np.int64)
    y[:, 1:-1] = 1 + (x[:, :-2] - 1) * symbols + (x[:, 2:] - 1)
    n_test = n // 5
    classes = symbols * symbols + 1
    sig = DatasetSignature({"x": TensorShape((length,), "long")}, TensorShape((length,), "long"),
                           "sequence_labeling", classes, PAD, None, None, n - n_test, n_test)

    def split(rows: slice) -> Split:
        return Split({"x": torch.from_numpy(x[rows].copy())}, torch.from_numpy(y[rows].copy()))

    return LabData(sig, split(slice(n_test, None)), split(slice(0, n_test)))


def transformer(length: int, symbols: int, heads: int, dim: int) -> ModelSpec:
    return stack(node("x", "input", shape=[length], dtype="long"),
                 node("embed", "embedding", num_embeddings=symbols + 1, embedding_dim=dim),
                 node("position", "positional_encoding"),
                 node("block", "transformer_encoder_block", num_heads=heads, ff_dim=2 * dim, dropout=0.0),
                 node("out", "dense", units=symbols * symbols + 1))


@torch.no_grad()
def attention_maps(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The block's attention weights [B, heads, T, T] on x, in eval mode."""
    was_training = model.training
    model.eval()
    model(x.to(device_of(model)))
    weights = model.layers["block"].last_weights  # type: ignore[attr-defined, index]
    model.train(was_training)
    return weights.cpu()


def offset_profile(weights: torch.Tensor) -> list[dict[str, float]]:
    """Per head, the mean weight each inner query puts on the key at each offset (−1 left, +1 right)."""
    length = weights.shape[-1]
    inner = torch.arange(1, length - 1)
    return [{str(o): round(float(weights[:, h, inner, inner + o].mean()), 4) for o in OFFSETS}
            for h in range(weights.shape[1])]


class HeadFrames:
    """Loop hooks: after every epoch, stream the per-head attention of one test sequence."""

    def __init__(self, ctx: LabContext, sample: torch.Tensor) -> None:
        self.ctx = ctx
        self.sample = sample

    def after_epoch(self, epoch: int, step: int, model: nn.Module, evals: Any) -> None:
        maps = attention_maps(model, self.sample)[0]
        tokens = [str(t) for t in self.sample[0].tolist()]
        self.ctx.emit_tensor("attention", "block", maps.numpy(), step, {"queries": tokens, "keys": tokens,
                                                                        "epoch": epoch})


@lab_runner("transformer_heads")
def run(params: LabParams, ctx: LabContext) -> LabOutcome:
    length, symbols, dim = 10, 6, 32
    heads = pick(params, 2, 4)
    task = neighbours_task(pick(params, 3000, 5000), length, symbols, params.seed)
    epochs, batch = pick(params, 5, 8), 32
    spec = transformer(length, symbols, heads, dim)
    model = build(spec, ["x"], params.seed)
    check_stop(ctx)
    job = loop_spec({"optimizer": {"name": "adam", "lr": 0.003}, "epochs": epochs, "batch_size": batch,
                     "seed": params.seed}, spec)
    summary = train_curves(ctx, Curves(ctx, epochs * math.ceil(len(task.train) / batch)), f"{heads}_heads", job,
                           bundle=task, model=model, hooks=HeadFrames(ctx, task.test.inputs["x"][:1]))
    acc = float(summary.test_accuracy or 0.0)
    profile = offset_profile(attention_maps(model, task.test.inputs["x"]))
    left = max(range(heads), key=lambda h: profile[h]["-1"])
    right = max(range(heads), key=lambda h: profile[h]["1"])
    split_work = left != right and profile[left]["-1"] >= FOCUSED and profile[right]["1"] >= FOCUSED
    holds = acc >= LEARNED and split_work
    head = Text(f"Tag accuracy {r2(acc)}. Head {left} puts {r2(profile[left]['-1'])} of its attention on the left "
                f"neighbour, head {right} puts {r2(profile[right]['1'])} on the right one.",
                f"タグの正解率 {r2(acc)}。ヘッド {left} は注意の {r2(profile[left]['-1'])} を左隣に、ヘッド {right} は "
                f"{r2(profile[right]['1'])} を右隣に向ける。")
    if holds:
        tail = Text(" The heads specialised: each reads one neighbour.",
                    "ヘッドが役割を分担し、それぞれが片方の隣を読む。")
    else:
        tail = Text(" This run did not show two heads reading different neighbours; try another seed.",
                    "今回は 2 つのヘッドが別々の隣を読む様子が見られなかった。別の seed で試そう。")
    measurements = {"test_accuracy": round(acc, 4), "heads": heads, "offset_attention": profile,
                    "left_head": left, "right_head": right}
    return LabOutcome(measurements, holds, Text(head.en + tail.en, head.ja + tail.ja))
