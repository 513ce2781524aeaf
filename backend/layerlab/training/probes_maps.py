"""Tensor probes: each function looks at the model (in eval mode, under no_grad) and returns one tensor frame.

Formats (all float16 unless said; "first probe sample" = the first sample of the fixed probe batch):
  activations        vector node [S, units] for S samples; sequence node [T, F] of the first sample
  feature_maps       image node [C, H, W] of the first sample
  filters            conv2d weights [out, in, k, k] / conv1d [out, in, k]
  weight_histograms  node "*": [layers, bins] float32 counts; meta {"nodes", "ranges": [[lo, hi], ...]}
  attention          [heads, queries, keys] of the first sample (node "<id>:cross" for a decoder's cross-attention)
  lstm_gates         [4, T, H] (input, forget, cell, output) of the first sample; meta {"gates"}
  decision_boundary  classification [classes, G, G] uint8 probabilities × 255 (meta "scale": 1/255);
                     regression [1, G, G]; row i is y = extent[2] + i·dy, column j is x = extent[0] + j·dx
  neuron_maps        [units, G, G] each hidden unit's output over the same grid; meta {"extent"}
  reconstructions    [2, S, ...input shape]: inputs, then the model's reconstructions
  confusion_matrix   [classes, classes] float32 counts over the test split, rows = true class
Sizes are capped (units/channels/positions) so one frame stays well under 256 KiB.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

MAX_UNITS = 64
MAX_CHANNELS = 32
MAX_POSITIONS = 256
MAX_FILTERS_OUT = 64
MAX_FILTERS_IN = 8
F16_MAX = 65504.0


@dataclass(frozen=True, slots=True)
class TensorRecord:
    """A heavy probe result; training/run.py encodes it as one binary frame."""

    kind: str
    node: str
    step: int
    array: np.ndarray
    dtype: str = "float16"
    meta: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "node": self.node, "step": self.step, "shape": list(self.array.shape),
                "dtype": self.dtype, **(self.meta or {})}


def f16(t: torch.Tensor) -> np.ndarray:
    """Host float16 copy, clamped so large activations do not turn into inf."""
    return t.detach().float().clamp(-F16_MAX, F16_MAX).to("cpu", torch.float16).numpy()


def activations(node: str, step: int, value: torch.Tensor, samples: int) -> TensorRecord:
    if value.dim() == 2:
        return TensorRecord("activations", node, step, f16(value[:samples, :MAX_POSITIONS]))
    return TensorRecord("activations", node, step, f16(value[0, :MAX_POSITIONS, :MAX_POSITIONS]))


def feature_maps(node: str, step: int, value: torch.Tensor) -> TensorRecord:
    return TensorRecord("feature_maps", node, step, f16(value[0, :MAX_CHANNELS]))


def filters(node: str, step: int, module: nn.Module) -> TensorRecord:
    weight = module.weight if isinstance(getattr(module, "weight", None), torch.Tensor) else module.conv.weight
    return TensorRecord("filters", node, step, f16(weight[:MAX_FILTERS_OUT, :MAX_FILTERS_IN]))


def weight_histograms(step: int, layers: nn.ModuleDict, nodes: list[str], bins: int) -> TensorRecord:
    rows, ranges = [], []
    for node in nodes:
        flat = torch.cat([p.detach().float().reshape(-1) for p in layers[node].parameters()])
        lo, hi = flat.min(), flat.max()
        hi = torch.where(hi > lo, hi, lo + 1e-6)
        rows.append(torch.histc(flat, bins=bins, min=float(lo), max=float(hi)))
        ranges.append([float(lo), float(hi)])
    counts = torch.stack(rows).cpu().numpy()
    return TensorRecord("weight_histograms", "*", step, counts, "float32", {"nodes": nodes, "ranges": ranges})


def attention(node: str, step: int, weights: torch.Tensor) -> TensorRecord:
    first = weights[0]
    if first.dim() == 2:
        first = first.unsqueeze(0)
    return TensorRecord("attention", node, step, f16(first[:, :MAX_POSITIONS, :MAX_POSITIONS]))


def lstm_gates(node: str, step: int, module: nn.Module, x: torch.Tensor) -> TensorRecord:
    gates = module.gates(x[:1, :MAX_POSITIONS])
    stacked = torch.stack([gates[name][0, :, :MAX_UNITS] for name in module.GATE_NAMES])
    return TensorRecord("lstm_gates", node, step, f16(stacked), meta={"gates": list(module.GATE_NAMES)})


@dataclass(frozen=True)
class Plane:
    """A G×G grid over the 2-D data range (10% margin), row-major from (xmin, ymin)."""

    points: torch.Tensor  # [G*G, 2]
    extent: tuple[float, float, float, float]
    size: int

    @classmethod
    def around(cls, x: torch.Tensor, size: int) -> Plane:
        lo, hi = x.min(dim=0).values.double(), x.max(dim=0).values.double()
        pad = (hi - lo).clamp_min(1e-3) * 0.1
        lo, hi = (lo - pad).tolist(), (hi + pad).tolist()
        xs = torch.linspace(lo[0], hi[0], size, dtype=x.dtype)
        ys = torch.linspace(lo[1], hi[1], size, dtype=x.dtype)
        gy, gx = torch.meshgrid(ys, xs, indexing="ij")
        points = torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1).to(x.device)
        return cls(points, (lo[0], hi[0], lo[1], hi[1]), size)


def boundary(node: str, step: int, output: torch.Tensor, plane: Plane, classification: bool) -> TensorRecord:
    g = plane.size
    meta: dict[str, Any] = {"extent": list(plane.extent)}
    if not classification:
        return TensorRecord("decision_boundary", node, step, f16(output.reshape(g, g, -1).permute(2, 0, 1)),
                            meta={**meta, "value": "output"})
    probs = class_probabilities(output)
    quantised = (probs * 255).round().to(torch.uint8).reshape(g, g, -1).permute(2, 0, 1)
    return TensorRecord("decision_boundary", node, step, quantised.cpu().numpy(), "uint8",
                        {**meta, "value": "probability", "scale": 1 / 255})


def class_probabilities(logits: torch.Tensor) -> torch.Tensor:
    """Softmax over classes; a single logit (BCE) becomes the two probabilities [1-p, p]."""
    logits = logits.float()
    if logits.shape[-1] == 1:
        p = torch.sigmoid(logits)
        return torch.cat([1 - p, p], dim=-1)
    return torch.softmax(logits, dim=-1)


def neuron_maps(node: str, step: int, value: torch.Tensor, plane: Plane) -> TensorRecord:
    g = plane.size
    maps = value[:, :MAX_UNITS].reshape(g, g, -1).permute(2, 0, 1)
    return TensorRecord("neuron_maps", node, step, f16(maps), meta={"extent": list(plane.extent)})


def reconstructions(node: str, step: int, inputs: torch.Tensor, output: torch.Tensor) -> TensorRecord:
    both = torch.stack([inputs.float(), output.float().reshape(inputs.shape)])
    return TensorRecord("reconstructions", node, step, f16(both))


def confusion_matrix(node: str, step: int, predicted: torch.Tensor, target: torch.Tensor, classes: int,
                     epoch: int) -> TensorRecord:
    index = target.long().reshape(-1) * classes + predicted.long().reshape(-1)
    counts = torch.bincount(index, minlength=classes * classes).reshape(classes, classes)
    return TensorRecord("confusion_matrix", node, step, counts.float().cpu().numpy(), "float32", {"epoch": epoch})
