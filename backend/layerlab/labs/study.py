"""Studies: one base job spec, one or two varied settings, every variant validated, then run as ONE batched
job when the variants can share a batched ensemble, else as separate jobs that share a study id.

A varied setting is a dotted path into the spec's JSON — `train.optimizer.name`, `train.seed`,
`data.label_noise`, `nodes.h1.params.units` (a node's params by node id) — set to each value in turn.
Paths are walked as plain dictionary keys of the submitted JSON: nothing is resolved to code.
Variants batch when their models are dense/activation/dropout chains that differ at most in dense widths,
their data and training schedule are the same, and they differ otherwise only in what a batched member may
have of its own (init seed, optimizer and its settings, weight decay, init scheme).
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from itertools import product
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..catalogue.errors import SpecError
from ..catalogue.limits import Limits
from ..catalogue.spec import JobSpec
from ..catalogue.validate import validate_request
from ..training.batched_loop import batchable_model, batchable_train

MAX_BATCHED = 64  # members of one batched study job
MAX_SEPARATE = 16  # separate jobs of one study
KEY = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
ROOTS = ("train", "data", "probes", "nodes")
# What a batched member may have of its own; everything else must be equal across the variants.
MEMBER_FIELDS = ("seed", "optimizer", "weight_decay", "init")

Mode = Literal["auto", "batched", "jobs"]


class Axis(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(max_length=160, description="dotted path into the base spec: train.optimizer.name, train.seed, "
                                                  "data.label_noise, nodes.<node id>.params.<param>")
    values: list[Any] = Field(min_length=1, max_length=MAX_BATCHED, description="the values it takes, in order")


class StudyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=200)
    base: dict[str, Any] = Field(description="a whole job spec (model, data, train, probes)")
    vary: Axis
    vary2: Axis | None = Field(default=None, description="a second setting: every combination of both is run")
    mode: Mode = Field(default="auto", description="auto: one batched job when the variants allow it, else "
                                                   "separate jobs; batched / jobs: insist on one")


@dataclass(frozen=True)
class Variant:
    index: int
    values: dict[str, Any]  # path -> value
    spec: JobSpec
    flops: int

    @property
    def label(self) -> str:
        return ", ".join(f"{p}={v if isinstance(v, str) else json.dumps(v)}" for p, v in self.values.items())

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "label": self.label, "values": self.values}


@dataclass(frozen=True)
class StudyPlan:
    name: str | None
    axes: list[Axis]
    variants: list[Variant]
    mode: Literal["batched", "jobs"]
    why_not_batched: str | None


def _path_keys(path: str, loc: list[str | int]) -> list[str]:
    keys = path.split(".")
    if keys[:2] == ["model", "nodes"]:
        keys = keys[1:]
    if not keys or keys[0] not in ROOTS or len(keys) < 2 or not all(KEY.fullmatch(k) for k in keys):
        raise SpecError(f"{path!r} is not a path this study can vary: use train.<...>, data.<...>, probes.<...> or "
                        "nodes.<node id>.params.<param> (lower snake_case keys)", loc=loc)
    if keys[0] == "nodes" and (len(keys) < 4 or keys[2] != "params"):
        raise SpecError(f"{path!r}: a node setting is varied as nodes.<node id>.params.<param>", loc=loc)
    return keys


def apply_path(raw: dict[str, Any], path: str, value: Any, loc: list[str | int]) -> None:
    """Set `path` in the spec JSON `raw` (in place); node paths find the node by its id."""
    keys = _path_keys(path, loc)
    if keys[0] == "nodes":
        model = raw.get("model")
        nodes = model.get("nodes") if isinstance(model, dict) else None
        node = next((n for n in nodes if isinstance(n, dict) and n.get("id") == keys[1]), None) \
            if isinstance(nodes, list) else None
        if node is None:
            raise SpecError(f"{path!r} names node {keys[1]!r}, which is not in base.model", loc=loc,
                            node_id=keys[1])
        target, keys = node, keys[2:]
    else:
        target = raw
    for key in keys[:-1]:
        inner = target.setdefault(key, {})
        if not isinstance(inner, dict):
            raise SpecError(f"{path!r}: {key!r} is not an object in the base spec", loc=loc)
        target = inner
    target[keys[-1]] = copy.deepcopy(value)


def expand(req: StudyRequest, limits: Limits) -> list[Variant]:
    """Every combination of the axes' values, each a validated job spec; the first problem is a SpecError
    that names the variant (and the node, when a node is at fault)."""
    axes = [req.vary] + ([req.vary2] if req.vary2 is not None else [])
    if len(axes) == 2 and axes[0].path == axes[1].path:
        raise SpecError("vary and vary2 name the same path", loc=["vary2", "path"])
    for i, axis in enumerate(axes):
        _path_keys(axis.path, [("vary", "vary2")[i], "path"])
    count = 1
    for axis in axes:
        count *= len(axis.values)
    if count > MAX_BATCHED:
        raise SpecError(f"this study has {count} variants; a study runs at most {MAX_BATCHED}",
                        loc=["vary", "values"], cap="max_study_variants")
    if "data" not in req.base:
        raise SpecError("base needs 'data' (the data set every variant trains on)", loc=["base", "data"])
    variants = []
    for index, combo in enumerate(product(*(a.values for a in axes))):
        values = {a.path: v for a, v in zip(axes, combo, strict=True)}
        raw = copy.deepcopy(req.base)
        for i, (axis, value) in enumerate(zip(axes, combo, strict=True)):
            apply_path(raw, axis.path, value, [("vary", "vary2")[i], "path"])
        if req.name is not None and "name" not in req.base:
            raw["name"] = req.name
        label = ", ".join(f"{p}={v if isinstance(v, str) else json.dumps(v)}" for p, v in values.items())
        try:
            report = validate_request(raw, limits)
        except SpecError as exc:
            raise SpecError(f"variant {index + 1} ({label}): {exc.message}", node_id=exc.node_id,
                            loc=["variants", index, *exc.loc], cap=exc.cap) from None
        variants.append(Variant(index, values, JobSpec.model_validate(raw), int(report.flops_per_job or 0)))
    return variants


def _shared_part(spec: JobSpec) -> dict[str, Any]:
    """What must be equal across batched members: the spec without member fields and dense widths."""
    raw = spec.model_dump(mode="json")
    raw.pop("name", None)
    for key in MEMBER_FIELDS:
        raw["train"].pop(key, None)
    for node in raw["model"]["nodes"]:
        node.pop("ui", None)
        if node["type"] == "dense":
            node["params"].pop("units", None)
    return raw


def why_not_batched(variants: list[Variant], limits: Limits) -> str | None:
    """None when the variants can train as one batched ensemble, else the reason in a sentence."""
    first = variants[0].spec
    reason = batchable_model(first.model) or batchable_train(first)
    if reason is not None:
        return reason
    shared = _shared_part(first)
    for v in variants[1:]:
        if _shared_part(v.spec) != shared:
            return (f"variant {v.index + 1} ({v.label}) differs from variant 1 in more than a member's own "
                    "settings (seed, optimizer, weight decay, init) and dense widths")
    total = sum(v.flops for v in variants)
    if total > limits.max_flops_per_job:
        return f"the members together need {total:.3g} FLOPs, over limits.max_flops_per_job for one job"
    return None


def plan_study(req: StudyRequest, limits: Limits) -> StudyPlan:
    variants = expand(req, limits)
    reason = why_not_batched(variants, limits)
    if req.mode == "batched" and reason is not None:
        raise SpecError(f"mode 'batched' is impossible: {reason}", loc=["mode"])
    mode: Literal["batched", "jobs"] = "batched" if reason is None and req.mode != "jobs" else "jobs"
    if mode == "jobs" and len(variants) > MAX_SEPARATE:
        raise SpecError(f"{len(variants)} variants would run as separate jobs ({reason or 'mode jobs'}); at most "
                        f"{MAX_SEPARATE} separate jobs per study", loc=["vary", "values"], cap="max_study_jobs")
    axes = [req.vary] + ([req.vary2] if req.vary2 is not None else [])
    return StudyPlan(req.name, axes, variants, mode, reason if req.mode != "jobs" else "mode 'jobs' was asked for")
