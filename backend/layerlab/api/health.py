"""GET /api/health: liveness plus what this server can train on (CPU, and CUDA devices when present)."""

from __future__ import annotations

import os
import platform
from functools import lru_cache
from typing import Any, Literal

import psutil
import torch
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from .. import __version__

router = APIRouter(tags=["health"])


class Device(BaseModel):
    kind: Literal["cpu", "cuda"]
    name: str
    index: int | None = Field(default=None, description="CUDA device index")
    cores: int | None = Field(default=None, description="logical CPU cores")
    memory_bytes: int | None = Field(default=None, description="total memory of the device")
    location: str | None = Field(default=None, description="the Ray node it is on (Ray executor)")
    slots: int | None = Field(default=None, description="CPU jobs that can run at once")
    slots_free: int | None = Field(default=None, description="CPU job slots free now")
    share_free: float | None = Field(default=None, description="fraction of this GPU not held by jobs (0..1)")
    jobs: int | None = Field(default=None, description="running jobs holding a share of this GPU")


class Health(BaseModel):
    status: Literal["ok"]
    version: str
    executor: Literal["local", "ray"]
    devices: list[Device]


def cpu_name() -> str:
    """The CPU model where Linux tells it (platform.processor() is empty there), else the architecture."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "cpu"


def cpu_device() -> Device:
    name = cpu_name()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return Device(kind="cpu", name=name, cores=cores, memory_bytes=psutil.virtual_memory().total)


def cuda_devices() -> list[Device]:
    """CUDA devices by index; reading properties initialises CUDA in this process but creates no tensors."""
    if not torch.cuda.is_available():
        return []
    out = []
    for i in range(torch.cuda.device_count()):
        props = torch.cuda.get_device_properties(i)
        out.append(Device(kind="cuda", name=props.name, index=i, memory_bytes=int(props.total_memory)))
    return out


@lru_cache(maxsize=1)
def devices() -> tuple[Device, ...]:
    """Hardware does not change while the server runs: probe once."""
    return (cpu_device(), *cuda_devices())


def with_load(load: dict[str, Any] | None) -> list[Device]:
    """The devices jobs run on and how busy the scheduler has them: this machine's (local executor), or
    the Ray cluster's GPUs (`cluster_gpus`, one label per GPU) with its CPU slots."""
    if load is None:
        return list(devices())
    cpu = load["cpu"]
    gpus = load["gpus"]
    if load.get("cluster_gpus") is not None:
        out = [Device(kind="cpu", name="Ray cluster CPUs", cores=cpu["slots"] * cpu["threads"],
                      slots=cpu["slots"], slots_free=cpu["slots_free"])]
        for i, label in enumerate(load["cluster_gpus"]):
            name, _, where = label.partition(" on ")
            use = gpus[i] if i < len(gpus) else {}
            out.append(Device(kind="cuda", name=name, index=i, location=where or None,
                              share_free=use.get("share_free"), jobs=use.get("jobs")))
        return out
    out = []
    for device in devices():
        if device.kind == "cpu":
            out.append(device.model_copy(update={"slots": cpu["slots"], "slots_free": cpu["slots_free"]}))
        elif device.index is not None and device.index < len(gpus):
            out.append(device.model_copy(update=gpus[device.index]))
        else:
            out.append(device)
    return out


@router.get("/api/health", response_model=Health, summary="Liveness, available devices and their load")
def health(request: Request) -> dict[str, Any]:
    settings = request.app.state.settings
    service = getattr(request.app.state, "jobs", None)
    load = service.device_load() if service is not None else None
    return {"status": "ok", "version": __version__, "executor": settings.executor, "devices": with_load(load)}
