"""Training probes: the `hooks` object of training/loop.py that makes a job's inside visible.

`Probes(spec, bundle)` is handed to `train_records(..., hooks=probes)`. After an optimizer step it may
return a `LayerStatsRecord` (per-layer gradient norms and activation statistics, at most `stats_hz`
per second) and one `TensorRecord` (the next heavy probe in turn, at most `heavy_hz` per second); at
epoch end a confusion matrix. training/run.py encodes the first as a metrics frame, the second as a
binary frame.

Probes must not change training, so that a watched run is the run you would get unwatched: they look
at a fixed probe batch under torch.no_grad in eval mode (dropout off, batch-norm statistics frozen),
restore each module's train/eval flag afterwards, never draw from torch's global random generator,
and only read gradients. Their cost is also bounded: besides the rate caps, each probe's measured
time pushes the next one back so probes take at most ~2 × `BUDGET` of the wall-clock time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..catalogue.spec import JobSpec
from . import probes_maps as maps
from .probes_maps import Plane, TensorRecord
from .probes_stats import activation_stats, grad_norms

__all__ = ["BUDGET", "LayerStatsRecord", "Probes", "TensorRecord"]

BUDGET = 0.01  # per clock (heavy, stats): probes take at most ~2% of wall-clock time, on top of the rate caps
CONFUSION_MAX_SAMPLES = 4096
VECTOR_TYPES = frozenset({"dense", "activation"})
IMAGE_TYPES = frozenset({"conv2d", "fixed_filter2d", "activation", "maxpool2d", "avgpool2d"})
SEQUENCE_TYPES = frozenset({"embedding", "rnn", "lstm", "gru", "conv1d", "transformer_encoder_block",
                            "transformer_decoder_block", "multihead_self_attention", "attention"})
AUTO_NODES = 8


@dataclass(frozen=True, slots=True)
class LayerStatsRecord:
    """Per-layer scalars at one step; encoded as a metrics frame with kind "layers"."""

    step: int
    grad_norms: dict[str, float]
    activations: dict[str, dict[str, float]]

    def to_json(self) -> dict[str, Any]:
        return {"kind": "layers", "step": self.step, "grad_norms": self.grad_norms, "activations": self.activations}


@contextmanager
def inspecting(model: nn.Module) -> Iterator[None]:
    """Eval mode + no_grad for a look at the model, then every module's own train/eval flag back."""
    flags = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        for module, training in flags:
            module.training = training


class _Clock:
    """Minimum interval between events, stretched so their measured cost stays within BUDGET."""

    def __init__(self, hz: float, now: Callable[[], float], budget: float = BUDGET) -> None:
        self.interval = 1.0 / hz
        self.budget = budget
        self.now = now
        self.next = 0.0
        self.last = -self.interval

    def due(self, t: float) -> bool:
        return t >= self.next

    def wait_for_rate(self) -> float:
        """Sleep until the rate cap allows one more event (ignoring the budget stretch); the time after."""
        t = self.now()
        if t < self.last + self.interval:
            time.sleep(self.last + self.interval - t)
            t = self.now()
        return t

    def spent(self, started: float) -> None:
        ended = self.now()
        self.last = started
        self.next = started + max(self.interval, (ended - started) / self.budget)


class _Graph:
    """Node facts the probes need, from the spec (types, params) and the built model (wiring)."""

    def __init__(self, spec: JobSpec, model: nn.Module) -> None:
        self.types = {n.id: n.type for n in spec.model.nodes}
        self.params = {n.id: n.params for n in spec.model.nodes}
        self.layers: nn.ModuleDict = model.layers
        self.inputs_of: dict[str, list[str]] = model.node_inputs
        self.input_ids: list[str] = list(model.input_ids)
        self.output_ids: list[str] = list(model.output_ids)
        self.order: list[str] = list(model.node_ids)
        consumers: dict[str, list[str]] = {n: [] for n in self.order}
        for node, ins in self.inputs_of.items():
            for src in ins:
                consumers[src].append(node)
        self.consumers = consumers

    def hidden(self) -> list[str]:
        return [n for n in self.order if n not in self.input_ids and n not in self.output_ids]

    def with_params(self) -> list[str]:
        return [n for n in self.order if any(p.requires_grad for p in self.layers[n].parameters())]

    def relu_nodes(self) -> frozenset[str]:
        return frozenset(n for n in self.order if self.types.get(n) == "activation"
                         and self.params.get(n, {}).get("fn", "relu") == "relu")

    def shown_before_activation(self, node: str) -> bool:
        """A dense/conv whose only consumers are activations: the activation node shows the same units."""
        cons = self.consumers[node]
        return bool(cons) and all(self.types.get(c) == "activation" for c in cons)


class Probes:
    """The probe hooks for one job (see module docstring). Build with the job's spec and data bundle."""

    def __init__(
        self, spec: JobSpec, bundle: Any, clock: Callable[[], float] = time.monotonic, budget: float = BUDGET
    ) -> None:
        self.spec = spec
        self.settings = spec.probes
        self.bundle = bundle
        self.now = clock
        self.heavy_clock = _Clock(self.settings.heavy_hz, clock, budget)
        self.stats_clock = _Clock(self.settings.stats_hz, clock, budget)
        self._ready = False
        self._items: list[Callable[[int, nn.Module], TensorRecord | None]] = []
        self._turn = 0
        self._epoch_probe: Callable[[int, int, nn.Module], TensorRecord | None] | None = None

    # -- the loop's hooks ------------------------------------------------------------------------------

    def after_step(self, step: int, model: nn.Module, batch: Any, loss: torch.Tensor) -> list[Any] | None:
        t = self.now()
        stats_due, heavy_due = self.stats_clock.due(t), self.heavy_clock.due(t)
        if not (stats_due or heavy_due):
            return None
        if not self._ready:
            self._prepare(model)
            t = self.now()
        out: list[Any] = []
        if stats_due:
            out.append(self.layer_stats(step, model))
            self.stats_clock.spent(t)
        if heavy_due and self._items:
            t = self.now()
            record = self._next_item(step, model)
            self.heavy_clock.spent(t)
            if record is not None:
                out.append(record)
        return out

    def after_epoch(self, epoch: int, step: int, model: nn.Module, evals: list[Any]) -> list[Any] | None:
        if not self._ready:
            self._prepare(model)
        if self._epoch_probe is None:
            return None
        t = self.now()
        if not self.heavy_clock.due(t):
            if epoch != self.spec.train.epochs:
                return None
            t = self.heavy_clock.wait_for_rate()  # the final matrix waits its turn: at most 1/heavy_hz
        record = self._epoch_probe(epoch, step, model)
        self.heavy_clock.spent(t)
        return [record] if record is not None else None

    # -- probes ------------------------------------------------------------------------------------------

    def layer_stats(self, step: int, model: nn.Module) -> LayerStatsRecord:
        norms = grad_norms(self.graph.layers, self._param_nodes)
        with inspecting(model):
            values = model.forward_all(*self._probe_inputs)
        acts = activation_stats(values, self._stat_nodes, self._relu_nodes)
        return LayerStatsRecord(step, norms, acts)

    def _next_item(self, step: int, model: nn.Module) -> TensorRecord | None:
        item = self._items[self._turn % len(self._items)]
        self._turn += 1
        with inspecting(model):
            return item(step, model)

    # -- set-up (first call, when the model exists) --------------------------------------------------

    def _prepare(self, model: nn.Module) -> None:
        self._ready = True
        self.graph = _Graph(self.spec, model)
        device = next((p.device for p in model.parameters()), torch.device("cpu"))
        self._fields = list(model.input_fields)
        fields = self._fields
        source = self.bundle.test if len(self.bundle.test) >= self.settings.probe_batch else self.bundle.train
        k = min(self.settings.probe_batch, len(source))
        self._probe_inputs = tuple(source.inputs[f][:k].to(device) for f in fields)
        self._probe_target = source.target[:k].to(device)
        with inspecting(model):
            values = model.forward_all(*self._probe_inputs)
        self._shapes = {n: tuple(v.shape[1:]) for n, v in values.items()}
        floats = [n for n in self.graph.order if n not in self.graph.input_ids and values[n].is_floating_point()]
        self._stat_nodes = floats
        self._relu_nodes = self.graph.relu_nodes()
        self._param_nodes = self.graph.with_params()
        self._items = self._plan(model, values, device)
        self._epoch_probe = self._confusion_probe(device) if self._wanted("confusion_matrix") else None

    def _wanted(self, kind: str) -> bool:
        return self.settings.kinds is None or kind in self.settings.kinds

    def _chosen(self, candidates: list[str]) -> list[str]:
        if self.settings.nodes:
            return [n for n in self.settings.nodes if n in candidates]
        return candidates[:AUTO_NODES]

    def _plan(self, model: nn.Module, values: dict[str, torch.Tensor], device: torch.device) -> list[Callable]:
        g, types, items = self.graph, self.graph.types, []
        samples = self.settings.samples
        hidden = g.hidden()
        rank = {n: len(self._shapes[n]) for n in self._shapes}
        plane = self._plane(device)
        out_id = g.output_ids[0]

        if plane is not None:
            classification = self.bundle.signature.task == "classification"
            if self._wanted("decision_boundary"):
                items.append(lambda step, m: maps.boundary(out_id, step, m(plane.points), plane, classification))
            if self._wanted("neuron_maps"):
                for node in [n for n in hidden if types[n] in VECTOR_TYPES and rank[n] == 1
                             and not g.shown_before_activation(n)][:AUTO_NODES]:
                    items.append(self._neuron_map_item(node, plane))
        # the views that say what a sequence model does come first in the rotation: attention, then gates
        if self._wanted("attention"):
            for node in [n for n in g.order if hasattr(g.layers[n], "last_weights")]:
                items.append(self._attention_item(node, "last_weights", node))
                if getattr(g.layers[node], "cross_attn", None) is not None:
                    items.append(self._attention_item(node, "last_cross_weights", f"{node}:cross"))
        if self._wanted("lstm_gates"):
            for node in [n for n in g.order if types[n] == "lstm"]:
                items.append(self._gates_item(node))
        if self._wanted("activations"):
            vectors = [n for n in hidden if rank[n] == 1 and types[n] in VECTOR_TYPES
                       and not g.shown_before_activation(n)]
            sequences = [n for n in hidden if rank[n] == 2 and types[n] in SEQUENCE_TYPES
                         and values[n].is_floating_point()]
            for node in self._chosen(vectors + sequences) if plane is None else []:
                items.append(self._values_item(node, lambda node, step, v: maps.activations(node, step, v, samples)))
        if self._wanted("feature_maps"):
            images = [n for n in hidden if rank[n] == 3 and types[n] in IMAGE_TYPES
                      and not g.shown_before_activation(n)]
            for node in self._chosen(images):
                items.append(self._values_item(node, maps.feature_maps))
        if self._wanted("filters"):
            for node in [n for n in g.order if types[n] in ("conv2d", "conv1d")][:AUTO_NODES]:
                items.append(lambda step, m, node=node: maps.filters(node, step, g.layers[node]))
        if self._wanted("reconstructions") and self.spec.train.target == "input":
            items.append(self._reconstruction_item(out_id, samples))
        if self._wanted("weight_histograms") and self._param_nodes:
            bins, nodes = self.settings.histogram_bins, self._param_nodes
            items.append(lambda step, m: maps.weight_histograms(step, g.layers, nodes, bins))
        return items

    def _plane(self, device: torch.device) -> Plane | None:
        """The input plane for 2-D data sets (one input of shape [2], a class or value target)."""
        fields = self.bundle.signature.fields
        if len(self.graph.input_ids) != 1 or len(fields) != 1:
            return None
        (shape,) = fields.values()
        if shape.dims != (2,) or shape.dtype != "float" or self.bundle.signature.task not in (
                "classification", "regression"):
            return None
        (x,) = self.bundle.train.inputs.values()
        return Plane.around(x.to(device), self.settings.grid)

    def _values_item(self, node: str, make: Callable[[str, int, torch.Tensor], TensorRecord]) -> Callable:
        def item(step: int, model: nn.Module) -> TensorRecord:
            return make(node, step, model.forward_all(*self._probe_inputs)[node])
        return item

    def _neuron_map_item(self, node: str, plane: Plane) -> Callable:
        def item(step: int, model: nn.Module) -> TensorRecord:
            return maps.neuron_maps(node, step, model.forward_all(plane.points)[node], plane)
        return item

    def _attention_item(self, node: str, attribute: str, label: str) -> Callable:
        def item(step: int, model: nn.Module) -> TensorRecord | None:
            model.forward_all(*(x[:1] for x in self._probe_inputs))
            weights = getattr(self.graph.layers[node], attribute)
            return None if weights is None else maps.attention(label, step, weights)
        return item

    def _gates_item(self, node: str) -> Callable:
        def item(step: int, model: nn.Module) -> TensorRecord:
            values = model.forward_all(*(x[:1] for x in self._probe_inputs))
            return maps.lstm_gates(node, step, self.graph.layers[node], values[self.graph.inputs_of[node][0]])
        return item

    def _reconstruction_item(self, out_id: str, samples: int) -> Callable:
        def item(step: int, model: nn.Module) -> TensorRecord:
            inputs = tuple(x[:samples] for x in self._probe_inputs)
            return maps.reconstructions(out_id, step, inputs[0], model(*inputs))
        return item

    def _confusion_probe(self, device: torch.device) -> Callable | None:
        sig = self.bundle.signature
        out_shape = self._shapes[self.graph.output_ids[0]]
        if sig.task != "classification" or not sig.num_classes or self.spec.train.target != "label" \
                or out_shape not in ((sig.num_classes,), (1,)):
            return None
        test = self.bundle.test
        n = min(len(test), CONFUSION_MAX_SAMPLES)
        inputs = tuple(test.inputs[f][:n].to(device) for f in self._fields)
        target = test.target[:n].to(device)
        classes, out_id = sig.num_classes, self.graph.output_ids[0]

        def probe(epoch: int, step: int, model: nn.Module) -> TensorRecord:
            with inspecting(model):
                preds = torch.cat([
                    maps.class_probabilities(model(*(x[i:i + 512] for x in inputs))).argmax(-1)
                    for i in range(0, n, 512)
                ])
            return maps.confusion_matrix(out_id, step, preds, target, classes, epoch)
        return probe
