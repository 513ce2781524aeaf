"""Fuzzing the validator with random layer chains from the registry (reliability plan R9, CI-sized).

Every generated spec either raises SpecError or yields a report whose parameter count equals a meta-device
build's and whose per-node shapes equal a meta-device forward's; no other exception ever escapes.
"""

from __future__ import annotations

import types
import typing
from typing import Any

import annotated_types as at
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from layerlab.catalogue.base import LAYERS
from layerlab.catalogue.errors import SpecError
from layerlab.catalogue.limits import Limits
from layerlab.catalogue.resolve import resolve_graph
from layerlab.catalogue.spec import ModelSpec
from layerlab.catalogue.validate import validate_request
from layerlab.training.build import build_model, count_parameters

torch.set_num_threads(1)
LIMITS = Limits()
KINDS = sorted(k for k, kind in LAYERS.items() if kind.max_inputs != 0)
SMALL = 24  # keep sizes small: the point is rule agreement, not caps
GARBAGE = st.sampled_from(["16", None, True, 1.5, [1], {"a": 1}, -1, 10**12, "relu"])


def _bounds(meta: list[Any]) -> tuple[float | None, float | None]:
    lo = hi = None
    for m in meta:
        if isinstance(m, at.Ge):
            lo = m.ge
        elif isinstance(m, at.Gt):
            lo = m.gt
        elif isinstance(m, at.Le):
            hi = m.le
        elif isinstance(m, at.Lt):
            hi = m.lt
    return lo, hi


def _value(annotation: Any, meta: list[Any]) -> st.SearchStrategy[Any]:
    """A plausible value for a params field, from its annotation and bounds (sometimes just outside them)."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return st.one_of(*[_value(a, meta) for a in args if a is not type(None)], st.none())
    if origin is typing.Literal:
        return st.sampled_from(args)
    if annotation is bool:
        return st.booleans()
    lo, hi = _bounds(meta)
    if annotation is int:
        low = int(lo) if lo is not None else -2
        high = min(int(hi) if hi is not None else SMALL, max(low, SMALL))
        return st.integers(low - 1, high + 1) if low <= high else st.integers(low, low + 1)
    if annotation is float:
        low = float(lo) if lo is not None else -1.0
        high = float(hi) if hi is not None else 2.0
        return st.floats(low, min(high, low + 5.0), allow_nan=False, allow_infinity=False)
    if origin is list:
        (item,) = args
        return st.lists(_value(item, []) if item is not int else st.integers(-1, 8), min_size=1, max_size=3)
    return GARBAGE


def params_for(kind_type: str) -> st.SearchStrategy[dict[str, Any]]:
    fields = LAYERS[kind_type].params_model.model_fields
    chosen = {name: _value(f.annotation, list(f.metadata)) for name, f in fields.items()}
    return st.fixed_dictionaries({}, optional={**chosen, **({"bogus": GARBAGE} if not chosen else {})})


def _resolves(nodes: list[dict[str, Any]]) -> bool:
    try:
        resolve_graph(ModelSpec.model_validate({"nodes": nodes}))
    except (SpecError, ValueError):
        return False
    return True


@st.composite
def chains(draw: st.DrawFn) -> dict[str, Any]:
    """A random input, then 1–6 layers, each fed by the previous node (and random earlier ones for merges).

    Each step tries up to three candidate layers and keeps the first that still resolves, so deep valid
    chains are common while invalid steps (the last candidate) still occur.
    """
    dtype = draw(st.sampled_from(["float", "long"]))
    rank = 1 if dtype == "long" else draw(st.integers(1, 3))
    shape = draw(st.lists(st.integers(1, 12), min_size=rank, max_size=rank))
    nodes = [{"id": "n0", "type": "input", "params": {"shape": shape, "dtype": dtype}}]
    for i in range(1, draw(st.integers(1, 6)) + 1):
        for attempt in range(3):
            kind_type = draw(st.sampled_from(KINDS))
            kind = LAYERS[kind_type]
            hi = kind.max_inputs if kind.max_inputs is not None else 3
            n_inputs = draw(st.integers(max(kind.min_inputs, 1), min(hi, 3)))
            prev = [f"n{j}" for j in range(i)]
            extra = draw(st.lists(st.sampled_from(prev), min_size=n_inputs - 1, max_size=n_inputs - 1))
            candidate = {"id": f"n{i}", "type": kind_type, "params": draw(params_for(kind_type)),
                         "inputs": [f"n{i - 1}", *extra]}
            if attempt == 2 or _resolves([*nodes, candidate]):
                break
        nodes.append(candidate)
    return {"nodes": nodes}


def check_one(body: dict[str, Any]) -> bool:
    """Validate; on success cross-check against a meta-device build and forward. True when accepted."""
    try:
        report = validate_request({"model": body}, LIMITS)
    except SpecError as err:
        assert err.message and isinstance(err.loc, list)
        return False
    spec = ModelSpec.model_validate(body)
    with torch.device("meta"):
        net = build_model(spec)
        inputs = [torch.zeros((2, *i["shape"]), dtype=torch.long if i["dtype"] == "long" else torch.float32)
                  for i in report.to_json()["inputs"]]
        values = net.forward_all(*inputs)
    assert report.params == count_parameters(net)
    for entry in report.to_json()["nodes"]:
        assert list(values[entry["id"]].shape) == [2, *entry["output_shape"]], (entry, body)
    return True


def test_random_chains_validate_consistently() -> None:
    accepted: list[dict[str, Any]] = []

    @settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
    @given(chains())
    def run(body: dict[str, Any]) -> None:
        if check_one(body):
            accepted.append(body)

    run()
    # Guard against a fuzzer that only produces rejected specs (then the checks above would prove little).
    assert len(accepted) >= 40, len(accepted)
    assert sum(len(b["nodes"]) >= 5 for b in accepted) >= 10
    kinds = {n["type"] for b in accepted for n in b["nodes"]}
    assert len(kinds) >= len(KINDS) // 2, sorted(kinds)
