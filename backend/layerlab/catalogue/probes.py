"""Probe settings: what a job streams besides its scalar metrics, and how often.

Heavy frames (tensors) are capped at `heavy_hz` per job — one frame per tick, the applicable probe kinds
taking turns — so a job streams at most 10 heavy frames a second whatever its size. Per-layer scalars
(gradient norms, activation statistics) ride in metrics frames at `stats_hz`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .base import Text

ProbeKind = Literal[
    "activations", "feature_maps", "filters", "weight_histograms", "attention", "lstm_gates",
    "decision_boundary", "neuron_maps", "reconstructions", "confusion_matrix",
]

PROBE_KINDS: dict[str, Text] = {
    "activations": Text("Activations of chosen dense/activation nodes for a few fixed samples [S, units].",
                        "選んだ層の出力（固定サンプル数個分）[S, ユニット]。"),
    "feature_maps": Text("Feature maps of image-shaped nodes for the first probe sample [C, H, W].",
                         "画像形の層の特徴マップ（1 サンプル目）[C, H, W]。"),
    "filters": Text("Learned convolution filters [out, in, k(, k)].",
                    "学習された畳み込みフィルタ [出力, 入力, k(, k)]。"),
    "weight_histograms": Text("Histogram of every layer's weights, one row per layer.",
                              "各層の重みのヒストグラム（層ごとに 1 行）。"),
    "attention": Text("Attention weights per head [heads, queries, keys] for the first probe sample.",
                      "ヘッドごとの注意の重み [ヘッド, クエリ, キー]（1 サンプル目）。"),
    "lstm_gates": Text("LSTM input/forget/cell/output gate values over the sequence [4, T, H].",
                       "LSTM の入力・忘却・セル・出力ゲートの値 [4, T, H]。"),
    "decision_boundary": Text("For 2-D data: the model's output over a grid covering the data [classes, G, G].",
                              "2 次元データ: データ範囲の格子上のモデル出力 [クラス, G, G]（決定境界）。"),
    "neuron_maps": Text("For 2-D data: every hidden neuron's output over the input plane [units, G, G].",
                        "2 次元データ: 各隠れニューロンの入力平面上の出力 [ユニット, G, G]。"),
    "reconstructions": Text("Autoencoders: inputs and their reconstructions [2, S, ...].",
                            "自己符号化器: 入力とその再構成 [2, S, ...]。"),
    "confusion_matrix": Text("Classification: test-set confusion matrix at epoch end [true, predicted].",
                             "分類: エポック終了時のテストデータの混同行列 [正解, 予測]。"),
}


class ProbeSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    enabled: bool = True
    metrics_every: int = Field(default=1, ge=1, le=1000, description="emit train metrics every N steps")
    eval_every: int = Field(default=0, ge=0, le=100_000, description="test-set evaluation every N steps (0: per epoch)")
    heavy_hz: float = Field(default=10.0, gt=0, le=10.0, description="max heavy frames per second per job")
    stats_hz: float = Field(default=5.0, gt=0, le=50.0,
                            description="per-layer gradient norms and activation statistics per second")
    kinds: list[ProbeKind] | None = Field(
        default=None, max_length=len(PROBE_KINDS), description="heavy probe kinds to stream (default: all that fit)"
    )
    nodes: list[str] = Field(default_factory=list, max_length=16, description="node ids to snapshot (default: auto)")
    samples: int = Field(default=8, ge=1, le=32, description="samples shown in activation/reconstruction frames")
    probe_batch: int = Field(default=64, ge=8, le=256, description="fixed samples behind activation statistics")
    grid: int = Field(default=64, ge=16, le=128, description="decision-boundary / neuron-map grid side")
    histogram_bins: int = Field(default=32, ge=8, le=128)
