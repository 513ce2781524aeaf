"""Resolve a model spec into typed nodes: params parsed by each kind's own model, shapes and costs by its rules.

Nothing here allocates a tensor: shapes and costs are arithmetic on TensorShape. `training/build.py` builds
from the result, and `validate.py` adds caps and data-set checks on top.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from . import dag
from . import layers as _layers  # noqa: F401  (registers every layer kind)
from .base import LAYERS, Construct, Cost, LayerKind
from .errors import ShapeMismatch, SpecError
from .pydantic_errors import describe_errors
from .shapes import TensorShape
from .spec import ModelSpec, NodeSpec


@dataclass(frozen=True)
class ResolvedNode:
    index: int  # position in the spec's node list
    spec: NodeSpec
    kind: LayerKind[Any]
    params: BaseModel
    input_shapes: tuple[TensorShape, ...]
    output_shape: TensorShape
    cost: Cost

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def label(self) -> str:
        return node_label(self.spec.id, self.kind)

    def construct(self) -> Construct:
        built = self.kind.construct(self.params, list(self.input_shapes))
        if built is None:
            raise TypeError(f"layer kind {self.kind.type!r} has no module (construct rule returned None)")
        return built


@dataclass(frozen=True)
class ResolvedGraph:
    nodes: tuple[ResolvedNode, ...]  # topological order
    outputs: tuple[str, ...]

    def by_id(self) -> dict[str, ResolvedNode]:
        return {n.id: n for n in self.nodes}

    @property
    def inputs(self) -> tuple[ResolvedNode, ...]:
        """Input nodes in spec order (which is also their order in the topological order)."""
        return tuple(n for n in self.nodes if n.kind.min_inputs == 0 and n.kind.max_inputs == 0)

    @property
    def params(self) -> int:
        return sum(n.cost.params for n in self.nodes)

    @property
    def flops(self) -> int:
        return sum(n.cost.flops for n in self.nodes)


def node_label(node_id: str, kind: LayerKind[Any]) -> str:
    """'conv1 (Conv2d)': the node id and a short human name of its kind for messages."""
    return dag.node_label(node_id, kind.type)


def resolve_graph(model: ModelSpec, *, before_params: Callable[[int], None] | None = None) -> ResolvedGraph:
    """Check topology, then each node's params and shape in topological order; raise the first SpecError.

    `before_params(n_nodes)` runs after the topology checks (validation puts its node-count cap there).
    """
    nodes = model.nodes
    dag.check_ids(nodes)
    dag.check_references(nodes)
    dag.check_types_and_arity(nodes)
    order = dag.topological_order(nodes)
    if before_params is not None:
        before_params(len(nodes))
    shapes: dict[str, TensorShape] = {}
    resolved: list[ResolvedNode] = []
    for i in order:
        node = nodes[i]
        kind = LAYERS[node.type]
        params = parse_params(i, node, kind)
        ins = tuple(shapes[ref] for ref in node.inputs)
        out = _shape(i, node, kind, params, ins)
        shapes[node.id] = out
        resolved.append(ResolvedNode(i, node, kind, params, ins, out, kind.cost(params, list(ins), out)))
    outputs = _outputs(model)
    return ResolvedGraph(tuple(resolved), tuple(outputs))


def parse_params(i: int, node: NodeSpec, kind: LayerKind[Any]) -> BaseModel:
    try:
        return kind.params_model.model_validate(node.params)
    except ValidationError as exc:
        text, sub = describe_errors(exc, prefix="params")
        raise SpecError(
            f"node {node_label(node.id, kind)}: {text}",
            node_id=node.id,
            loc=["model", "nodes", i, "params", *sub],
        ) from None


def _shape(
    i: int, node: NodeSpec, kind: LayerKind[Any], params: BaseModel, ins: tuple[TensorShape, ...]
) -> TensorShape:
    label = node_label(node.id, kind)
    try:
        out = kind.shape(params, list(ins))
    except ShapeMismatch as exc:
        raise SpecError(
            f"node {label} expects {exc.expected}, got {exc.got}", node_id=node.id, loc=["model", "nodes", i]
        ) from None
    if any(d < 1 for d in out.dims):
        raise SpecError(
            f"node {label} would produce an empty output {out.describe()} from {_describe_all(ins)}",
            node_id=node.id,
            loc=["model", "nodes", i, "params"],
        )
    return out


def _describe_all(ins: tuple[TensorShape, ...]) -> str:
    return ", ".join(s.describe() for s in ins) if ins else "no inputs"


def _outputs(model: ModelSpec) -> list[str]:
    if model.outputs is None:
        return dag.default_outputs(model.nodes)
    ids = {n.id for n in model.nodes}
    if not model.outputs:
        raise SpecError("model.outputs is empty; name at least one node or leave it out", loc=["model", "outputs"])
    for j, out in enumerate(model.outputs):
        if out not in ids:
            raise SpecError(
                f"model.outputs names {out!r}, which is not a node id in this model", loc=["model", "outputs", j]
            )
    return list(model.outputs)
