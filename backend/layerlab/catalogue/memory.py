"""Conservative estimate of one training step's memory, without allocating a real tensor.

weights + gradients + optimizer state + buffers + batch × activations × 2, where activations per sample
are the larger of (a) every node's output and (b) what autograd saves for backward in a forward pass of a
meta-device build (meta tensors have shapes but no storage, so layers' internal tensors such as LSTM gates or
attention scores are counted without being computed).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .resolve import ResolvedGraph
from .shapes import TensorShape

# Per-parameter state tensors each optimizer keeps (rmsprop counted with its momentum buffer: conservative).
OPTIMIZER_STATE_SLOTS: dict[str, int] = {
    "sgd": 0, "momentum": 1, "nesterov": 1, "adagrad": 1, "rmsprop": 2, "adam": 2, "adamw": 2,
}
FLOAT_BYTES = 4


def element_bytes(shape: TensorShape) -> int:
    return 8 if shape.dtype == "long" else FLOAT_BYTES


@dataclass(frozen=True)
class MemoryEstimate:
    weights: int
    gradients: int
    optimizer: int
    buffers: int
    activations_per_sample: int
    batch_size: int

    @property
    def total(self) -> int:
        return (self.weights + self.gradients + self.optimizer + self.buffers
                + self.batch_size * self.activations_per_sample * 2)


def estimate_step_memory(graph: ResolvedGraph, batch_size: int, optimizer: str) -> MemoryEstimate:
    params = graph.params
    outputs = sum(n.output_shape.numel() * element_bytes(n.output_shape) for n in graph.nodes)
    saved, buffers = _meta_forward(graph)
    return MemoryEstimate(
        weights=params * FLOAT_BYTES,
        gradients=params * FLOAT_BYTES,
        optimizer=params * FLOAT_BYTES * OPTIMIZER_STATE_SLOTS[optimizer],
        buffers=buffers,
        activations_per_sample=max(outputs, saved),
        batch_size=batch_size,
    )


def _meta_forward(graph: ResolvedGraph) -> tuple[int, int]:
    """(bytes autograd saves for one sample, bytes of module buffers) from a meta-device build and forward.

    A layer whose forward cannot run on the meta device (data-dependent control flow) yields 0 saved bytes;
    the node-output sum then stands in.
    """
    from ..training.build import GraphModule  # local: training.build imports catalogue.resolve

    with torch.device("meta"):
        model = GraphModule(graph, ["x"] * len(graph.inputs))
    model.train()
    owned = {id(t) for t in model.parameters()} | {id(t) for t in model.buffers()}
    buffers = sum(b.numel() * b.element_size() for b in model.buffers())
    seen: set[int] = set()
    saved = 0

    def pack(t: torch.Tensor) -> torch.Tensor:
        nonlocal saved
        base = t._base if t._base is not None else t
        if id(t) not in owned and id(base) not in owned and id(t) not in seen:
            seen.add(id(t))
            saved += t.numel() * t.element_size()
        return t

    with torch.device("meta"):
        inputs = [
            torch.zeros((1, *n.output_shape.dims), dtype=torch.long if n.output_shape.dtype == "long" else None)
            for n in graph.inputs
        ]
        try:
            with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
                model.forward_all(*inputs)
        except (RuntimeError, NotImplementedError, TypeError, ValueError, IndexError):
            saved = 0
    return saved, buffers
