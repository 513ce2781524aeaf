"""A batched study as a job: the stored payload, and the worker-side generator of its wire frames.

The payload keeps every variant's full spec, so the worker rebuilds exactly the members the API
validated. Frames follow the training job's: `status` running, `metrics` per step (thinned by the first
variant's probes.metrics_every) and per evaluation — each carrying one value per member in member order
(`losses`, `accuracies`) plus their mean (`loss`, `accuracy`) for generic views — and a `summary` whose
`members` list holds every member's final metrics and the values it was given.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from statistics import mean
from typing import Any

import torch

from ..streaming.protocol import Frame, FrameEncoder
from ..training.batched_loop import (
    BatchedEvalRecord,
    BatchedStepRecord,
    BatchedSummary,
    member_of,
    train_batched,
)
from ..training.build import build_model, count_parameters
from ..training.run import parse_spec, with_error_frame
from .study import StudyPlan


def study_payload(plan: StudyPlan, study_id: str) -> dict[str, Any]:
    """What the batched study job stores (its `spec`): read back by `study_events` in the worker."""
    first = plan.variants[0].spec
    return {
        "kind": "study",
        "study_id": study_id,
        "name": plan.name,
        "axes": [a.model_dump(mode="json") for a in plan.axes],
        "members": [v.to_json() for v in plan.variants],
        "variants": [v.spec.model_dump(mode="json") for v in plan.variants],
        "train": {"device": first.train.device},  # read by the scheduler, like a training job's
    }


def _mean(values: list[float] | None) -> float | None:
    return mean(values) if values else None


def study_events(
    payload: dict[str, Any], *, seq_start: int, should_stop: Callable[[], bool], artifact_dir: str | Path
) -> Iterator[Frame]:
    enc = FrameEncoder(seq_start)
    yield from with_error_frame(enc, _run(payload, enc, should_stop))


def _run(payload: dict[str, Any], enc: FrameEncoder, should_stop: Callable[[], bool]) -> Iterator[Frame]:
    variants = [parse_spec(raw) for raw in payload["variants"]]
    members = payload["members"]
    first = variants[0]
    with torch.device("meta"):
        params = [count_parameters(build_model(v.model)) for v in variants]
    yield enc.text("status", status="running", mode="batched", members=len(variants), params=params,
                   threads=torch.get_num_threads(), study_id=payload.get("study_id"))
    every = first.probes.metrics_every
    summary: BatchedSummary | None = None
    records = train_batched(first, [member_of(v) for v in variants], models=[v.model for v in variants],
                            should_stop=should_stop)
    for record in records:
        if isinstance(record, BatchedStepRecord):
            if every == 1 or record.step % every == 0:
                yield enc.text("metrics", kind="step", step=record.step, epoch=record.epoch, split="train",
                               loss=_mean(record.losses), accuracy=_mean(record.accuracies), losses=record.losses,
                               accuracies=record.accuracies, lr_factor=record.lr_factor)
        elif isinstance(record, BatchedEvalRecord):
            yield enc.text("metrics", kind="eval", step=record.step, epoch=record.epoch, split=record.split,
                           loss=_mean(record.losses), accuracy=_mean(record.accuracies), losses=record.losses,
                           accuracies=record.accuracies)
        elif isinstance(record, BatchedSummary):
            summary = record
    fields: dict[str, Any] = summary.to_json() if summary is not None else {"stop_reason": "stopped"}
    fields.pop("kind", None)
    results = fields.pop("members", [{} for _ in members])
    fields["members"] = [{**m, **r} for m, r in zip(members, results, strict=True)]
    fields.update(mode="batched", study_id=payload.get("study_id"), params=params)
    yield enc.text("summary", **fields)
