"""Job-service settings (nested in Settings as `jobs`; env LAYERLAB_JOBS__CPU_SLOTS=2 ...).

The per-user caps, queue cap and wall-clock cap live in `Settings.limits` (catalogue/limits.py);
this holds how the local executor uses the machine.
"""

from __future__ import annotations

import os

from pydantic import BaseModel, ConfigDict, Field


def default_cpu_slots() -> int:
    return max(1, (os.cpu_count() or 1) // 2)


class JobSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    cpu_slots: int = Field(default_factory=default_cpu_slots, ge=1, le=256,
                           description="CPU jobs running at once (default: half the cores, at least 1)")
    threads_per_job: int | None = Field(default=None, ge=1, le=256,
                                        description="torch threads per CPU job (default: cores / cpu_slots)")
    gpu_share: float = Field(default=0.25, gt=0, le=8,
                             description="GPUs a CUDA job asks for, Ray num_gpus semantics (0.25 packs 4 per GPU)")
    prewarm: bool = Field(default=True, description="keep one idle worker process ready so a job starts fast")
    heartbeat_timeout_s: float = Field(default=10.0, gt=0, le=600,
                                       description="a running worker silent this long is killed (lost_heartbeat)")
    retry_after_s: int = Field(default=30, ge=1, le=3600, description="Retry-After sent with 429/503 on full queues")
    worker_address_space_mb: int = Field(
        default=0, ge=0, le=1 << 20,
        description="test-only: cap each worker's address space (RLIMIT_AS) at its size at job start plus this "
                    "many MiB, so a big spec fails with oom instead of swapping; 0 = no cap",
    )
