"""Build a torch module from a model spec: one module per node, called in topological order.

The graph is resolved by `catalogue.resolve` (params and shapes from the layer rules), so an invalid spec
raises SpecError here too. Build on the meta device (`with torch.device("meta"):`) to count parameters
without allocating memory.
"""

from __future__ import annotations

from collections.abc import Collection

import torch
from torch import nn

from ..catalogue.resolve import ResolvedGraph, resolve_graph
from ..catalogue.spec import ModelSpec


class GraphModule(nn.Module):
    """A model DAG as an nn.Module.

    `layers[node_id]` holds each node's module (input nodes: Identity), so state_dict keys are
    `layers.<node_id>.<param>`. `forward(*inputs)` takes one tensor per input node, in `input_fields` order.
    """

    def __init__(self, graph: ResolvedGraph, input_fields: list[str]) -> None:
        super().__init__()
        self.layers = nn.ModuleDict()
        for node in graph.nodes:
            built = node.construct()
            self.layers[node.id] = built.factory(**built.kwargs)
        self.node_ids: list[str] = [n.id for n in graph.nodes]
        self.node_inputs: dict[str, list[str]] = {n.id: list(n.spec.inputs) for n in graph.nodes}
        self.input_ids: list[str] = [n.id for n in graph.inputs]
        self.input_fields = input_fields
        self.output_ids: list[str] = list(graph.outputs)

    def forward_all(self, *inputs: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every node's output, keyed by node id (probes read activations from here)."""
        if len(inputs) != len(self.input_ids):
            raise TypeError(f"expected {len(self.input_ids)} input tensor(s) ({', '.join(self.input_fields)}), "
                            f"got {len(inputs)}")
        values: dict[str, torch.Tensor] = dict(zip(self.input_ids, inputs, strict=True))
        for node_id in self.node_ids:
            args = [values[ref] for ref in self.node_inputs[node_id]] or [values[node_id]]
            values[node_id] = self.layers[node_id](*args)
        return values

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        """The first output node's tensor."""
        return self.forward_all(*inputs)[self.output_ids[0]]


def input_fields(graph: ResolvedGraph, data_fields: Collection[str] | None = None) -> list[str]:
    """Data-set field per input node: params.field, else the node id if the data set has such a field, else "x".

    Without `data_fields` (no data set known), the node id stands in when the model has several inputs.
    """
    inputs = graph.inputs
    out: list[str] = []
    for node in inputs:
        field = getattr(node.params, "field", None)
        if field:
            out.append(field)
        elif data_fields is not None:
            out.append(node.id if node.id in data_fields else "x")
        else:
            out.append(node.id if len(inputs) > 1 else "x")
    return out


def build_model(model: ModelSpec, data_fields: Collection[str] | None = None) -> GraphModule:
    """Instantiate the spec's modules (on the current default device; use the meta device to only count)."""
    graph = resolve_graph(model)
    return GraphModule(graph, input_fields(graph, data_fields))


def count_parameters(module: nn.Module) -> int:
    """Trainable parameters (works on meta-device modules too)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
