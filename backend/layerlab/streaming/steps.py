"""Reading per-step metrics: a `steps` frame (several fast steps as columns) back into per-step rows.

The worker sends a `step` frame per step, or one `steps` frame for the steps of the last ~20 ms when they
come faster (see `training/step_frames.py`, which writes both). Readers that want one row per optimizer
step — the Python client, the CLI's progress line, tests — expand both forms with `expand_steps`.
Pure Python on purpose: the client imports it without numpy or torch.
"""

from __future__ import annotations

from typing import Any

COLUMNS = ("step", "epoch", "loss", "accuracy", "lr", "examples")


def expand_steps(frame: dict[str, Any]) -> list[dict[str, Any]]:
    """Per-step rows of a `step` or `steps` metrics frame (each with kind "step" and the frame's seq);
    [] for any other frame."""
    if frame.get("type") != "metrics":
        return []
    if frame.get("kind") == "step":
        return [frame]
    if frame.get("kind") != "steps":
        return []
    shared = {k: v for k, v in frame.items() if k not in COLUMNS and k != "kind"}
    return [{**shared, "kind": "step", **dict(zip(COLUMNS, values, strict=True))}
            for values in zip(*(frame[name] for name in COLUMNS), strict=True)]
