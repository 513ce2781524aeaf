"""Cap checks (DESIGN §9): each error names the cap (a Limits field) and the offending value.

Arithmetic on the resolved graph first (parameters, sequence lengths, batch, epochs, steps, FLOPs);
the step-memory estimate, which needs a meta-device forward, comes last.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .errors import SpecError
from .limits import Limits
from .memory import MemoryEstimate, estimate_step_memory
from .resolve import ResolvedGraph
from .training import TrainSpec

MIB = 1024 * 1024


def check_node_count(n: int, limits: Limits) -> None:
    if n > limits.max_nodes:
        raise SpecError(f"the model has {n} nodes; max_nodes is {limits.max_nodes}", loc=["model", "nodes"],
                        cap="max_nodes")


def check_params(graph: ResolvedGraph, limits: Limits) -> None:
    total = graph.params
    if total > limits.max_params:
        biggest = max(graph.nodes, key=lambda n: n.cost.params)
        raise SpecError(
            f"the model has {total:,} trainable parameters; max_params is {limits.max_params:,} "
            f"(largest: node {biggest.label} with {biggest.cost.params:,})",
            node_id=biggest.id,
            loc=["model"],
            cap="max_params",
        )


def check_seq_len(graph: ResolvedGraph, limits: Limits) -> None:
    """Token ids [T] and sequences [T,F]: T is bounded everywhere in the graph (attention costs T²)."""
    for node in graph.nodes:
        shape = node.output_shape
        is_seq = (shape.dtype == "long" and shape.rank == 1) or (shape.dtype == "float" and shape.rank == 2)
        if is_seq and shape.dims[0] > limits.max_seq_len:
            raise SpecError(
                f"node {node.label} outputs a sequence of length {shape.dims[0]} ({shape.describe()}); "
                f"max_seq_len is {limits.max_seq_len}",
                node_id=node.id,
                loc=["model", "nodes", node.index],
                cap="max_seq_len",
            )


def check_train_settings(train: TrainSpec, limits: Limits) -> None:
    if train.batch_size > limits.max_batch:
        raise SpecError(f"train.batch_size is {train.batch_size}; max_batch is {limits.max_batch}",
                        loc=["train", "batch_size"], cap="max_batch")
    epochs = [("train.epochs", train.epochs, ["train", "epochs"])]
    if train.pretrain is not None:
        epochs.append(("train.pretrain.epochs", train.pretrain.epochs, ["train", "pretrain", "epochs"]))
    for name, value, loc in epochs:
        if value > limits.max_epochs:
            raise SpecError(f"{name} is {value}; max_epochs is {limits.max_epochs}", loc=loc, cap="max_epochs")
    if train.max_steps is not None and train.max_steps > limits.max_total_steps:
        raise SpecError(f"train.max_steps is {train.max_steps}; max_total_steps is {limits.max_total_steps}",
                        loc=["train", "max_steps"], cap="max_total_steps")


@dataclass(frozen=True)
class Phase:
    """One training phase over a data set: its sizes and how many epochs."""

    n_train: int
    n_test: int
    epochs: int
    decode_steps: int = 1  # seq2seq test accuracy decodes greedily: one forward per output token


def phase_steps(phase: Phase, train: TrainSpec) -> int:
    steps = phase.epochs * math.ceil(phase.n_train / train.batch_size)
    return min(steps, train.max_steps) if train.max_steps is not None else steps


def check_steps_and_flops(graph: ResolvedGraph, train: TrainSpec, phases: list[Phase], limits: Limits) -> int:
    """Total optimizer steps and the job's FLOPs (forward + backward ≈ 3 × forward; per-epoch evaluation of
    both splits); returns the FLOPs estimate."""
    steps = sum(phase_steps(p, train) for p in phases)
    if steps > limits.max_total_steps:
        raise SpecError(
            f"the job would run {steps:,} optimizer steps (epochs × ceil(n_train / batch_size)); "
            f"max_total_steps is {limits.max_total_steps:,}: lower epochs or set train.max_steps",
            loc=["train", "epochs"],
            cap="max_total_steps",
        )
    per_sample = graph.flops
    flops = 0
    for p in phases:
        trained = phase_steps(p, train) * train.batch_size
        evaluated = p.epochs * (p.n_train + p.n_test * p.decode_steps)
        flops += per_sample * (3 * trained + evaluated)
    if flops > limits.max_flops_per_job:
        raise SpecError(
            f"the job needs about {flops:.3g} FLOPs ({per_sample:,} per sample forward × steps × batch); "
            f"max_flops_per_job is {limits.max_flops_per_job:.3g}",
            loc=["train"],
            cap="max_flops_per_job",
        )
    return flops


def check_memory(graph: ResolvedGraph, train: TrainSpec, limits: Limits) -> MemoryEstimate:
    est = estimate_step_memory(graph, train.batch_size, train.optimizer.name)
    if est.total > limits.max_step_memory_bytes:
        raise SpecError(
            f"one training step needs about {est.total / MIB:,.1f} MiB (weights, gradients, optimizer state and "
            f"batch {train.batch_size} × {est.activations_per_sample / 1024:,.1f} KiB of activations × 2); "
            f"max_step_memory_bytes is {limits.max_step_memory_bytes / MIB:,.0f} MiB",
            loc=["train", "batch_size"],
            cap="max_step_memory_bytes",
        )
    return est
