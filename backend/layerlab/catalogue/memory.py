"""Conservative estimate of one training step's memory, without allocating a real tensor.

weights + gradients + optimizer state (+ two parameter-sized temporaries for the foreach optimizer step) +
buffers + a fixed runtime workspace (kernel scratch space, allocator slack: measured 10–40 MiB on CPU) +
batch × activations × 2, where activations per sample
are the larger of (a) every node's output and (b) what autograd saves for backward when each node's module,
built on the meta device, runs on meta inputs of its input shapes (meta tensors have shapes but no storage,
so internal tensors such as LSTM gates or attention scores are counted without being computed).
Recurrent modules unroll step by step, which on the meta device costs Python time per step: they run on a
short prefix of the sequence and their saved bytes are scaled by T (they grow linearly in T).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .resolve import ResolvedGraph, ResolvedNode
from .shapes import TensorShape

# Per-parameter state tensors each optimizer keeps (rmsprop counted with its momentum buffer: conservative).
OPTIMIZER_STATE_SLOTS: dict[str, int] = {
    "sgd": 0, "momentum": 1, "nesterov": 1, "adagrad": 1, "rmsprop": 2, "adam": 2, "adamw": 2,
}
FLOAT_BYTES = 4
OPTIMIZER_TEMPORARIES = 2
RUNTIME_WORKSPACE = 16 * 1024 * 1024
RECURRENT_PROBE_STEPS = 4
RECURRENT = (nn.RNNBase, nn.RNNCellBase)


def element_bytes(shape: TensorShape) -> int:
    return 8 if shape.dtype == "long" else FLOAT_BYTES


@dataclass(frozen=True)
class MemoryEstimate:
    weights: int
    gradients: int
    optimizer: int
    optimizer_temporaries: int
    buffers: int
    workspace: int
    activations_per_sample: int
    batch_size: int

    @property
    def total(self) -> int:
        return (self.weights + self.gradients + self.optimizer + self.optimizer_temporaries + self.buffers
                + self.workspace
                + self.batch_size * self.activations_per_sample * 2)


def estimate_step_memory(graph: ResolvedGraph, batch_size: int, optimizer: str) -> MemoryEstimate:
    params = graph.params
    outputs = sum(n.output_shape.numel() * element_bytes(n.output_shape) for n in graph.nodes)
    saved = buffers = 0
    for node in graph.nodes:
        node_saved, node_buffers = node_saved_bytes(node)
        saved += node_saved
        buffers += node_buffers
    return MemoryEstimate(
        weights=params * FLOAT_BYTES,
        gradients=params * FLOAT_BYTES,
        optimizer=params * FLOAT_BYTES * OPTIMIZER_STATE_SLOTS[optimizer],
        optimizer_temporaries=params * FLOAT_BYTES * OPTIMIZER_TEMPORARIES,
        buffers=buffers,
        workspace=RUNTIME_WORKSPACE,
        activations_per_sample=max(outputs, saved),
        batch_size=batch_size,
    )


def node_saved_bytes(node: ResolvedNode) -> tuple[int, int]:
    """(bytes autograd saves for one sample in this node's forward, bytes of its module's buffers).

    A module whose forward cannot run on the meta device (data-dependent control flow) yields 0 saved
    bytes; the node-output sum then stands in.
    """
    if not node.spec.inputs:
        return 0, 0
    built = node.construct()
    with torch.device("meta"):
        module = built.factory(**built.kwargs)
    module.train()
    buffers = sum(b.numel() * b.element_size() for b in module.buffers())
    shapes, scale = _probe_shapes(module, node.input_shapes)
    owned = {id(t) for t in module.parameters()} | {id(t) for t in module.buffers()}
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
        inputs = [torch.zeros((1, *s.dims), dtype=torch.long if s.dtype == "long" else None) for s in shapes]
        try:
            with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
                module(*inputs)
        except (RuntimeError, NotImplementedError, TypeError, ValueError, IndexError):
            saved = 0
    return saved * scale, buffers


def _probe_shapes(module: nn.Module, shapes: tuple[TensorShape, ...]) -> tuple[tuple[TensorShape, ...], int]:
    """Input shapes to run on, and the factor that scales the saved bytes back to the real length."""
    if not any(isinstance(m, RECURRENT) for m in module.modules()) or len(shapes) != 1 or shapes[0].rank != 2:
        return shapes, 1
    (x,) = shapes
    steps = x.dims[0]
    probe = min(steps, RECURRENT_PROBE_STEPS)
    return (TensorShape((probe, *x.dims[1:]), x.dtype),), -(-steps // probe)
