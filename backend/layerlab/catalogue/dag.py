"""Topology of a model spec: unique ids, existing references, arity, acyclicity, topological order.

These checks come before any params or shapes are looked at, so every later rule may assume a clean DAG.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

from torch import nn

from .base import LAYERS
from .errors import SpecError
from .spec import NodeSpec

# A node id names its module inside nn.ModuleDict, so it may not shadow a ModuleDict attribute
# ("eval", "train", "forward", "keys" ...): add_module would refuse it or the module would be unreachable.
RESERVED_IDS = frozenset(name for name in dir(nn.ModuleDict) if not name.startswith("_"))


def _loc(i: int, *rest: str | int) -> list[str | int]:
    return ["model", "nodes", i, *rest]


def shown_type(raw: str) -> str:
    """A user-supplied type string made safe to echo in a message (never resolved to anything)."""
    text = raw if len(raw) <= 40 else raw[:40] + "…"
    return repr(text)


def node_label(node_id: str, type_name: str) -> str:
    """'conv1 (Conv2d)': a node id and a short human name of its layer kind, for messages."""
    kind = LAYERS.get(type_name)
    return f"{node_id} ({kind.title.en.split(' (')[0] if kind is not None else shown_type(type_name)})"


def check_ids(nodes: Sequence[NodeSpec]) -> None:
    """Node ids are unique and do not collide with ModuleDict attributes."""
    seen: dict[str, int] = {}
    for i, node in enumerate(nodes):
        if node.id in seen:
            raise SpecError(
                f"duplicate node id {node.id!r} (nodes {seen[node.id]} and {i})", node_id=node.id, loc=_loc(i, "id")
            )
        if node.id in RESERVED_IDS:
            raise SpecError(
                f"node id {node.id!r} is reserved (it names a module container attribute); choose another id",
                node_id=node.id,
                loc=_loc(i, "id"),
            )
        seen[node.id] = i


def check_references(nodes: Sequence[NodeSpec]) -> None:
    """Every input reference names an existing node."""
    ids = {n.id for n in nodes}
    for i, node in enumerate(nodes):
        for j, ref in enumerate(node.inputs):
            if ref not in ids:
                raise SpecError(
                    f"node {node.id} has input {ref!r}, which is not a node id in this model",
                    node_id=node.id,
                    loc=_loc(i, "inputs", j),
                )


def check_types_and_arity(nodes: Sequence[NodeSpec]) -> None:
    """Every type is a registered layer kind (looked up in the registry dict only) with the right number of inputs."""
    for i, node in enumerate(nodes):
        kind = LAYERS.get(node.type)
        if kind is None:
            raise SpecError(
                f"node {node.id} has unknown layer type {shown_type(node.type)}; see GET /api/catalogue for the types",
                node_id=node.id,
                loc=_loc(i, "type"),
            )
    for i, node in enumerate(nodes):
        kind = LAYERS[node.type]
        n = len(node.inputs)
        lo, hi = kind.min_inputs, kind.max_inputs
        if n < lo or (hi is not None and n > hi):
            if hi is None:
                want = f"at least {lo}"
            elif lo == hi:
                want = f"exactly {lo}"
            else:
                want = f"{lo} to {hi}"
            raise SpecError(
                f"node {node_label(node.id, node.type)} takes {want} input(s), got {n}",
                node_id=node.id,
                loc=_loc(i, "inputs"),
            )


def topological_order(nodes: Sequence[NodeSpec]) -> list[int]:
    """Indices of nodes in topological order, ties broken by spec order; raises SpecError on a cycle.

    Assumes ids are unique and references exist (check_ids / check_references first).
    """
    index = {n.id: i for i, n in enumerate(nodes)}
    indegree = [len(n.inputs) for n in nodes]
    consumers: list[list[int]] = [[] for _ in nodes]
    for i, node in enumerate(nodes):
        for ref in node.inputs:
            consumers[index[ref]].append(i)
    ready = [i for i, d in enumerate(indegree) if d == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for c in consumers[i]:
            indegree[c] -= 1
            if indegree[c] == 0:
                heapq.heappush(ready, c)
    if len(order) < len(nodes):
        on_cycle = _node_on_cycle(nodes, {i for i, d in enumerate(indegree) if d > 0}, index)
        node = nodes[on_cycle]
        raise SpecError(
            f"the model has a cycle through node {node.id}; a model must be a DAG (use a recurrent layer for loops)",
            node_id=node.id,
            loc=_loc(on_cycle, "inputs"),
        )
    return order


def _node_on_cycle(nodes: Sequence[NodeSpec], stuck: set[int], index: dict[str, int]) -> int:
    """A node that lies on a cycle (stuck nodes may merely depend on one): walk inputs until a node repeats."""
    i = min(stuck)
    seen: set[int] = set()
    while i not in seen:
        seen.add(i)
        i = next(index[r] for r in nodes[i].inputs if index[r] in stuck)
    return i


def default_outputs(nodes: Sequence[NodeSpec]) -> list[str]:
    """Sink nodes (nothing consumes them), in spec order."""
    consumed = {ref for n in nodes for ref in n.inputs}
    return [n.id for n in nodes if n.id not in consumed]
