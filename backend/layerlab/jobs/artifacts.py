"""Job artifacts on disk: data_dir/jobs/<id>/<name>, a fixed set of names, each written atomically.

Atomic = write a temp file in the same directory, fsync it, rename over the target, fsync the directory;
a crash leaves either the old file or the new one, never half of one. No path is ever built from user
text: job ids are checked to be uuid4 hex and names come from the fixed table below.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

ARTIFACTS: dict[str, str] = {
    "spec.json": "application/json",
    "weights.safetensors": "application/octet-stream",
    "model.onnx": "application/octet-stream",
    "model.py": "text/x-python; charset=utf-8",
}
JOB_ID = re.compile(r"^[0-9a-f]{32}$")


def job_dir(data_dir: Path, job_id: str) -> Path:
    if not JOB_ID.fullmatch(job_id):
        raise ValueError("not a job id")
    return data_dir / "jobs" / job_id


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Let `write` fill a temp path, then make it durable and visible under `path` in one rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    atomic_write(path, lambda tmp: tmp.write_bytes(data))
