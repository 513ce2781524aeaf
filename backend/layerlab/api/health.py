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


@router.get("/api/health", response_model=Health, summary="Liveness and available devices")
def health(request: Request) -> dict[str, Any]:
    settings = request.app.state.settings
    return {"status": "ok", "version": __version__, "executor": settings.executor, "devices": list(devices())}
