"""Per-deployment caps on what a job may ask for (DESIGN §9, reliability plan S9: classroom CPU tier).

Checked before anything is queued; an error names the cap (the field name here) and the offending value.
The infra settings nest this model as `Settings.limits` (env: LAYERLAB_LIMITS__MAX_NODES=32 ...).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

KIB = 1024
MIB = 1024 * KIB


class Limits(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_body_bytes: int = Field(default=256 * KIB, ge=1, description="spec JSON body (413 beyond)")
    max_json_depth: int = Field(default=32, ge=2, description="nesting depth of the spec JSON")
    max_nodes: int = Field(default=64, ge=1, description="nodes in the model DAG")
    max_params: int = Field(default=5_000_000, ge=1, description="trainable parameters (closed form)")
    max_step_memory_bytes: int = Field(
        default=512 * MIB, ge=1, description="weights + grads + optimizer state + batch activations (estimate)"
    )
    max_seq_len: int = Field(default=512, ge=1, description="sequence length T of any sequence or token tensor")
    max_batch: int = Field(default=512, ge=1, description="train.batch_size")
    max_epochs: int = Field(default=50, ge=1, description="train.epochs")
    max_total_steps: int = Field(default=20_000, ge=1, description="optimizer steps per job")
    max_flops_per_job: float = Field(default=1e13, gt=0, description="estimated training FLOPs per job")
    max_wall_seconds: float = Field(default=600.0, gt=0, description="wall clock per job")
    max_running: int = Field(default=1, ge=0, description="running jobs per user")
    max_queued: int = Field(default=3, ge=0, description="queued jobs per user (429 beyond)")
    queue_cap: int = Field(default=100, ge=0, description="global queue length (503 + Retry-After beyond)")
