"""Per-step metrics on the wire: one frame per slow step, fast steps held and sent together as columns,
never reordered against the job's other frames, and read back into the same per-step rows."""

from __future__ import annotations

import json

import numpy as np
import pytest

from layerlab.catalogue.spec import JobSpec
from layerlab.streaming.protocol import FrameEncoder
from layerlab.streaming.steps import expand_steps
from layerlab.training.loop import train_records
from layerlab.training.records import StepRecord
from layerlab.training.run import record_frame, train_events
from layerlab.training.step_frames import STEP_FRAME_S, StepFrames, step_frame


class FakeClock:
    def __init__(self) -> None:
        self.t = 10.0

    def __call__(self) -> float:
        return self.t


def rec(step: int, phase: str = "train", loss: float | None = None) -> StepRecord:
    return StepRecord(step, 1 + step // 10, 1.0 / step if loss is None else loss, 0.5, 0.01, 16 * step, phase)


def rows(frames) -> list[dict]:
    return [r for f in frames for r in expand_steps(json.loads(f.data))]


def test_slow_steps_go_one_frame_each_fast_steps_together() -> None:
    clock = FakeClock()
    frames = StepFrames(FrameEncoder(0), clock)
    out = frames.add(rec(1))  # the first step: at once, alone
    assert [json.loads(f.data)["kind"] for f in out] == ["step"]
    clock.t += STEP_FRAME_S * 2
    assert [json.loads(f.data)["kind"] for f in frames.add(rec(2))] == ["step"]  # a slow step: alone too
    held = []
    for s in range(3, 13):
        clock.t += STEP_FRAME_S / 20
        held += frames.add(rec(s))
    assert held == []
    clock.t += STEP_FRAME_S
    out = frames.add(rec(13))
    assert len(out) == 1
    body = json.loads(out[0].data)
    assert body["kind"] == "steps" and body["step"] == list(range(3, 14)) and body["seq"] == 2
    assert [r["step"] for r in rows(out)] == list(range(3, 14))


def test_rows_of_a_steps_frame_equal_the_step_frames_they_replace() -> None:
    records = [rec(s) for s in range(1, 6)] + [StepRecord(6, 1, 0.25, None, 0.02, 96)]
    one_by_one = [json.loads(step_frame(FrameEncoder(7), r).data) for r in records]
    clock = FakeClock()
    frames = StepFrames(FrameEncoder(7), clock)
    got = frames.add(records[0])
    for r in records[1:]:
        got += frames.add(r)
    got += frames.drain()
    assert [json.loads(f.data)["kind"] for f in got] == ["step", "steps"]
    for mine, theirs in zip(rows(got), one_by_one, strict=True):
        assert {k: v for k, v in mine.items() if k != "seq"} == {k: v for k, v in theirs.items() if k != "seq"}


def test_a_phase_change_closes_the_held_batch() -> None:
    clock = FakeClock()
    frames = StepFrames(FrameEncoder(0), clock)
    out = frames.add(rec(1, "pretrain")) + frames.add(rec(2, "pretrain")) + frames.add(rec(3, "train"))
    out += frames.drain()
    assert [(r["step"], r["phase"]) for r in rows(out)] == [(1, "pretrain"), (2, "pretrain"), (3, "train")]
    assert all(len({r["phase"] for r in expand_steps(json.loads(f.data))}) == 1 for f in out)


def test_expand_steps_ignores_other_frames() -> None:
    assert expand_steps({"type": "metrics", "kind": "eval", "step": 3, "loss": 0.1}) == []
    assert expand_steps({"type": "status", "status": "running"}) == []


def test_a_training_job_streams_every_step_once_in_order_before_each_evaluation(tmp_path) -> None:
    spec = JobSpec.model_validate({
        "model": {"nodes": [{"id": "x", "type": "input", "params": {"shape": [2]}},
                            {"id": "h", "type": "dense", "params": {"units": 8}, "inputs": ["x"]},
                            {"id": "a", "type": "activation", "params": {"fn": "tanh"}, "inputs": ["h"]},
                            {"id": "out", "type": "dense", "params": {"units": 2}, "inputs": ["a"]}]},
        "data": {"dataset": "xor", "n_samples": 400},
        "train": {"epochs": 3, "batch_size": 8, "optimizer": {"name": "adam", "lr": 0.01}},
    })
    bare = [r for r in train_records(spec) if isinstance(r, StepRecord)]
    frames = [json.loads(f.data) for f in train_events(spec, seq_start=0, should_stop=lambda: False,
                                                         artifact_dir=tmp_path)
              if not f.binary]
    assert any(f.get("kind") == "steps" for f in frames), "a small MLP is fast enough to batch its steps"
    streamed = [r for f in frames for r in expand_steps(f)]
    assert [r["step"] for r in streamed] == [r.step for r in bare]
    assert [r["loss"] for r in streamed] == [r.loss for r in bare]  # bit-identical, as the bare loop
    seqs = [f["seq"] for f in frames]
    assert seqs == sorted(seqs)
    # every evaluation comes after all the steps before it
    seen = 0
    for f in frames:
        seen += len(expand_steps(f))
        if f.get("kind") == "eval":
            assert seen == f["step"]


@pytest.mark.parametrize("record", [
    StepRecord(1, 1, 0.6931471805599453, 0.5, 0.01, 16),
    StepRecord(12345, 7, 1e-9, None, 0.001, 123456, "pretrain"),
    StepRecord(3, 1, 12.5, 1.0, 3e-05, 48),
    StepRecord(4, 2, 0.1 + 0.2, 0.0, 1.0, 64),
])
def test_step_frame_has_record_frames_exact_bytes(record: StepRecord) -> None:
    fast, general = step_frame(FrameEncoder(9), record), record_frame(FrameEncoder(9), record)
    assert fast == general
    assert json.loads(fast.data)["loss"] == record.loss


@pytest.mark.parametrize("record", [
    StepRecord(1, 1, np.float64(0.25), 0.5, 0.01, 16),  # a numpy float's repr is not JSON
    StepRecord(1, 1, 0.25, float("nan"), 0.01, 16),  # non-finite: JSON null, as the general path writes
    StepRecord(1, 1, 0.25, 0.5, 1, 16),  # an int lr
])
def test_step_frame_falls_back_to_the_general_encoder_for_unusual_values(record: StepRecord) -> None:
    fast, general = step_frame(FrameEncoder(0), record), record_frame(FrameEncoder(0), record)
    assert fast == general
    json.loads(fast.data)
