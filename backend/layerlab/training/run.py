"""The ONE event generator every executor runs: a job spec in, encoded wire frames out.

`train_events` wraps the bare loop (`training/loop.py`): a `running` status frame first (device,
parameters), `metrics` frames for the loop's records (steps one by one, or several at once when they come
fast: `step_frames.py`), then — unless the run was stopped — the artifacts
(weights.safetensors, model.onnx) written atomically, and a `summary` frame last. On an exception it
yields an `error` frame carrying the machine-readable reason and re-raises, so the local worker and a Ray
task both see the same stream and the same failure.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from ..catalogue.spec import JobSpec
from ..jobs.artifacts import atomic_write
from ..jobs.model import Reason
from ..streaming.protocol import Frame, FrameEncoder
from .build import build_model, count_parameters
from .data import DatasetBundle, load_dataset
from .device import resolve_device
from .loop import train_records
from .probes import LayerStatsRecord, Probes, TensorRecord
from .records import EvalRecord, NonFiniteLoss, StepRecord, SummaryRecord
from .step_frames import StepFrames, record_fields

log = logging.getLogger(__name__)

OOM_MARKERS = ("out of memory", "DefaultCPUAllocator: can't allocate")
ONNX_OPSET = 17


def parse_spec(raw: dict[str, Any]) -> JobSpec:
    """The stored (already validated, JSON) spec back into the model; JSON mode keeps strict types sound."""
    return JobSpec.model_validate_json(json.dumps(raw))


def failure_reason(exc: BaseException) -> str:
    """`nan_loss`, `oom` or `exception:<Type>: message` for a failed run."""
    if isinstance(exc, NonFiniteLoss):
        return Reason.NAN_LOSS
    if isinstance(exc, MemoryError | torch.OutOfMemoryError):
        return Reason.OOM
    if isinstance(exc, RuntimeError) and any(m in str(exc) for m in OOM_MARKERS):
        return Reason.OOM
    return Reason.exception(type(exc).__name__, str(exc))


def record_frame(enc: FrameEncoder, record: StepRecord | EvalRecord | LayerStatsRecord) -> Frame:
    """A loop record as a `metrics` frame: step, epoch, split, loss, accuracy, lr (+ kind, phase, examples)."""
    return enc.text("metrics", **record_fields(record))


def job_events(
    raw: dict[str, Any],
    *,
    seq_start: int,
    should_stop: Callable[[], bool],
    artifact_dir: str | Path,
) -> Iterator[Frame]:
    """What every executor runs for a stored job: by its `kind`, a lab (labs/lab_job.py), a batched study
    (labs/study_run.py), or — no kind — a training job spec (`train_events`)."""
    kind = raw.get("kind")
    if kind == "lab":
        from ..labs.lab_job import lab_events

        return lab_events(raw, seq_start=seq_start, should_stop=should_stop, artifact_dir=artifact_dir)
    if kind == "study":
        from ..labs.study_run import study_events

        return study_events(raw, seq_start=seq_start, should_stop=should_stop, artifact_dir=artifact_dir)
    return train_events(parse_spec(raw), seq_start=seq_start, should_stop=should_stop, artifact_dir=artifact_dir)


def train_events(
    spec: JobSpec,
    *,
    seq_start: int,
    should_stop: Callable[[], bool],
    artifact_dir: str | Path,
) -> Iterator[Frame]:
    enc = FrameEncoder(seq_start)
    yield from with_error_frame(enc, _run(spec, enc, should_stop, Path(artifact_dir)))


def with_error_frame(enc: FrameEncoder, frames: Iterator[Frame]) -> Iterator[Frame]:
    """Pass a job's frames through; if the job raises, send its `error` frame first, then re-raise so the
    executor records the failure. Shared by training, lab and study jobs so every kind fails alike."""
    try:
        yield from frames
    except BaseException as exc:
        if isinstance(exc, GeneratorExit):
            raise
        yield enc.text("error", reason=failure_reason(exc), message=str(exc)[:1000], error_type=type(exc).__name__)
        raise


def _run(spec: JobSpec, enc: FrameEncoder, should_stop: Callable[[], bool], artifact_dir: Path) -> Iterator[Frame]:
    device = resolve_device(spec.train.device)
    torch.manual_seed(spec.train.seed)
    bundle = load_dataset(spec.data)
    model = build_model(spec.model, data_fields=bundle.train.inputs.keys())
    yield enc.text("status", status="running", device=str(device), params=count_parameters(model),
                   threads=torch.get_num_threads())
    every = spec.probes.metrics_every
    summary: SummaryRecord | None = None
    hooks = Probes(spec, bundle) if spec.probes.enabled else None
    steps = StepFrames(enc)
    try:
        for record in train_records(spec, bundle=bundle, model=model, hooks=hooks, should_stop=should_stop):
            if isinstance(record, StepRecord):
                if every == 1 or record.step % every == 0:
                    yield from steps.add(record)
                continue
            yield from steps.drain()  # held steps go before whatever came after them
            if isinstance(record, TensorRecord):
                yield enc.tensor(record.kind, record.node, record.step, record.array, record.dtype, record.meta)
            elif isinstance(record, EvalRecord | LayerStatsRecord):
                yield record_frame(enc, record)
            elif isinstance(record, SummaryRecord):
                summary = record
    except GeneratorExit:
        raise
    except BaseException:
        yield from steps.drain()  # the steps before a NaN loss or a crash are shown with its error
        raise
    yield from steps.drain()
    fields = summary.to_json() if summary is not None else {"stop_reason": "stopped"}
    fields.pop("kind", None)
    fields["params"] = count_parameters(model)
    if fields.get("stop_reason") != "stopped":
        fields["artifacts"] = write_artifacts(model, bundle, artifact_dir)
    yield enc.text("summary", **fields)


def write_artifacts(model: torch.nn.Module, bundle: DatasetBundle, artifact_dir: Path) -> dict[str, Any]:
    """weights.safetensors always; model.onnx when the model exports (else the reason, not a failed job)."""
    model = model.to("cpu").eval()
    state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    atomic_write(artifact_dir / "weights.safetensors", lambda tmp: save_file(state, str(tmp)))
    out: dict[str, Any] = {"weights.safetensors": True}
    try:
        atomic_write(artifact_dir / "model.onnx", lambda tmp: export_onnx(model, bundle, tmp))
        out["model.onnx"] = True
    except Exception as exc:  # an exporter limitation must not fail a trained job
        log.info("ONNX export failed: %s", exc)
        out["model.onnx"] = False
        out["onnx_error"] = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:300] if str(exc) else ''}"
    return out


def input_fields(model: torch.nn.Module, bundle: DatasetBundle) -> list[str]:
    return list(getattr(model, "input_fields", None) or bundle.test.inputs)


def example_inputs(model: torch.nn.Module, bundle: DatasetBundle, n: int = 2) -> tuple[torch.Tensor, ...]:
    return tuple(bundle.test.inputs[f][:n].to("cpu") for f in input_fields(model, bundle))


def export_onnx(model: torch.nn.Module, bundle: DatasetBundle, path: Path) -> None:
    """TorchScript-based exporter (dynamo=False: no onnxscript needed) with a dynamic batch axis."""
    args = example_inputs(model, bundle)
    names = input_fields(model, bundle)  # data-set field names: what a user feeds onnxruntime
    with torch.no_grad():
        torch.onnx.export(
            model, args, str(path), dynamo=False, opset_version=ONNX_OPSET, input_names=names,
            output_names=["output"], dynamic_axes={**{n: {0: "batch"} for n in names}, "output": {0: "batch"}},
        )
