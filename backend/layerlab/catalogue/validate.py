"""Validate a job spec (or a model alone) before anything is queued; raise the FIRST problem as SpecError.

Order: JSON depth, non-finite numbers and URLs; pydantic parse; node ids; input references; layer types;
arity; cycles; node count; each node's params and shape in topological order; outputs; caps (parameters,
sequence length, batch, epochs, steps, FLOPs, step memory); then, with a data spec, the data set's fields,
the output against task and loss, and node ids named by probes and training settings.
Nothing here allocates a real tensor: shapes and costs are arithmetic, memory uses a meta-device forward.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from . import caps, compat
from .dag import node_label
from .datasets import DataSpec, signature
from .errors import SpecError
from .jsonguard import check_node_count, check_raw
from .limits import Limits
from .memory import MemoryEstimate
from .pydantic_errors import first_error
from .resolve import ResolvedGraph, resolve_graph
from .spec import JobSpec, ModelSpec
from .training import TrainSpec

# Schema bounds that mirror a deployment cap: a pydantic bound error on these fields names the cap too.
CAPPED_FIELDS: dict[tuple[str | int, ...], str] = {
    ("train", "epochs"): "max_epochs",
    ("train", "pretrain", "epochs"): "max_epochs",
    ("train", "batch_size"): "max_batch",
    ("train", "max_steps"): "max_total_steps",
    ("data", "seq_len"): "max_seq_len",
    ("model", "nodes"): "max_nodes",
}


@dataclass(frozen=True)
class ValidationReport:
    model: ModelSpec
    graph: ResolvedGraph
    input_fields: list[str]
    memory: MemoryEstimate
    total_steps: int | None = None
    flops_per_job: int | None = None

    @property
    def params(self) -> int:
        return self.graph.params

    def to_json(self) -> dict[str, Any]:
        by_id = self.graph.by_id()
        nodes = [by_id[n.id] for n in self.model.nodes]  # spec order, as the editor lists them
        out: dict[str, Any] = {
            "ok": True,
            "nodes": [
                {"id": n.id, "type": n.kind.type, "output_shape": n.output_shape.to_json(),
                 "dtype": n.output_shape.dtype, "params": n.cost.params, "flops": n.cost.flops}
                for n in nodes
            ],
            "params": self.graph.params,
            "flops": self.graph.flops,
            "memory_bytes": self.memory.total,
            "inputs": [
                {"id": n.id, "field": f, "shape": n.output_shape.to_json(), "dtype": n.output_shape.dtype}
                for n, f in zip(self.graph.inputs, self.input_fields, strict=True)
            ],
            "outputs": [
                {"id": i, "shape": by_id[i].output_shape.to_json(), "dtype": by_id[i].output_shape.dtype}
                for i in self.graph.outputs
            ],
        }
        if self.total_steps is not None:
            out["total_steps"] = self.total_steps
            out["flops_per_job"] = self.flops_per_job
        return out


def validate_request(raw: Any, limits: Limits) -> ValidationReport:
    """Check a decoded JSON body: a whole job spec, or {"model": ...} alone (checks what it is given)."""
    if isinstance(raw, dict):
        check_node_count(raw, limits.max_nodes)  # a node-list bomb is refused before it is walked
    check_raw(raw, limits.max_json_depth)
    if set(raw) <= {"model"}:
        model = _parse(ModelSpec, raw.get("model"), raw, prefix=["model"])
        return validate_model(model, limits)
    return validate_job(_parse(JobSpec, raw, raw, prefix=[]), limits)


def validate_model(model: ModelSpec, limits: Limits, train: TrainSpec | None = None) -> ValidationReport:
    """Topology, params, shapes, outputs and the model's caps; step memory at the given training settings, or
    at the default batch size (capped by max_batch) with Adam when there are none."""
    from ..training.build import input_fields

    graph = resolve_graph(model, before_params=lambda n: caps.check_node_count(n, limits))
    caps.check_params(graph, limits)
    caps.check_seq_len(graph, limits)
    if train is None:
        train = TrainSpec(batch_size=min(TrainSpec().batch_size, limits.max_batch))
    else:
        caps.check_train_settings(train, limits)
    return ValidationReport(model, graph, input_fields(graph), caps.check_memory(graph, train, limits))


def validate_job(spec: JobSpec, limits: Limits) -> ValidationReport:
    """Everything validate_model checks, plus steps/FLOPs caps and the fit between model, data set and loss."""
    from ..training.build import input_fields

    train = spec.train
    graph = resolve_graph(spec.model, before_params=lambda n: caps.check_node_count(n, limits))
    caps.check_params(graph, limits)
    caps.check_seq_len(graph, limits)
    caps.check_train_settings(train, limits)
    sig = signature(spec.data)
    phases = [caps.Phase(sig.n_train, sig.n_test, train.epochs, _decode_steps(sig))]
    data_sets: list[tuple[DataSpec, str]] = [(spec.data, "")]
    if train.pretrain is not None:
        pre = signature(train.pretrain.data)
        phases.insert(0, caps.Phase(pre.n_train, pre.n_test, train.pretrain.epochs, _decode_steps(pre)))
        data_sets.insert(0, (train.pretrain.data, " (train.pretrain.data)"))
    steps = sum(caps.phase_steps(p, train) for p in phases)
    flops = caps.check_steps_and_flops(graph, train, phases, limits)
    memory = caps.check_memory(graph, train, limits)
    fields = input_fields(graph, sig.fields)
    for data, where in data_sets:
        data_sig = signature(data)
        data_fields = input_fields(graph, data_sig.fields)
        compat.check_inputs(graph, data_fields, data_sig, data.dataset, where)
        compat.check_vocab(graph, data_fields, data_sig, data.dataset, where)
        compat.check_output(graph, data_fields, data_sig, train, data.dataset, where)
    ids = {n.id for n in spec.model.nodes}
    compat.check_node_refs(ids, spec.probes.nodes, ["probes", "nodes"], "probes.nodes")
    if train.pretrain is not None:
        compat.check_node_refs(ids, train.pretrain.freeze, ["train", "pretrain", "freeze"], "train.pretrain.freeze")
    return ValidationReport(spec.model, graph, fields, memory, steps, flops)


def _decode_steps(sig: Any) -> int:
    return sig.target.dims[0] if sig.task == "seq2seq" else 1


def _parse(model_type: type, value: Any, raw: dict, prefix: list[str | int]) -> Any:
    try:
        return model_type.model_validate(value)
    except ValidationError as exc:
        raise _pydantic_spec_error(exc, raw, prefix) from None


def _pydantic_spec_error(exc: ValidationError, raw: dict, prefix: list[str | int]) -> SpecError:
    """A readable SpecError naming the field; inside model.nodes[i], also that node's id and type."""
    err = first_error(exc)
    loc: list[str | int] = [*prefix, *err.loc]
    cap = CAPPED_FIELDS.get(tuple(loc)) if err.type in ("less_than_equal", "less_than", "too_long") else None
    if len(loc) >= 3 and loc[:2] == ["model", "nodes"] and isinstance(loc[2], int):
        node_id, label = _raw_node_label(raw, loc[2])
        return SpecError(f"node {label}: {err.text(loc[3:] or ['node'])}", node_id=node_id, loc=loc, cap=cap)
    return SpecError(err.text(loc), loc=loc, cap=cap)


def _raw_node_label(raw: dict, i: int) -> tuple[str | None, str]:
    """Name a node from the raw body for a parse error: 'conv1 (conv2d)', or 'model.nodes[i]' if unnamed."""
    model = raw.get("model")
    nodes = model.get("nodes") if isinstance(model, dict) else None
    node = nodes[i] if isinstance(nodes, list) and i < len(nodes) else None
    if isinstance(node, dict) and isinstance(node.get("id"), str):
        node_id = node["id"][:48]
        kind = node.get("type")
        return node_id, node_label(node_id, kind) if isinstance(kind, str) else node_id
    return None, f"model.nodes[{i}]"


def warm_up() -> None:
    """Validate a tiny model once, so the first user request does not pay for torch's lazily imported meta
    kernels (seconds on a busy machine). Servers call this at start-up."""
    body = {"nodes": [{"id": "x", "type": "input", "params": {"shape": [2]}},
                      {"id": "h", "type": "dense", "params": {"units": 2}, "inputs": ["x"]}]}
    validate_model(ModelSpec.model_validate(body), Limits())
