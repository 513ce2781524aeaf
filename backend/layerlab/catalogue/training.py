"""Training settings: optimizers, losses, schedules, regularisation, clipping, init, early stopping."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

OptimizerName = Literal["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"]
LossName = Literal["auto", "cross_entropy", "mse", "bce", "sequence_cross_entropy"]
ScheduleName = Literal["constant", "step", "cosine", "linear_warmup"]
InitScheme = Literal["default", "xavier", "he", "zeros", "normal"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class OptimizerSpec(_Strict):
    name: OptimizerName = "adam"
    lr: float = Field(default=0.01, gt=0, le=10)
    momentum: float = Field(default=0.9, ge=0, lt=1, description="for momentum / nesterov / rmsprop")
    beta1: float = Field(default=0.9, ge=0, lt=1)
    beta2: float = Field(default=0.999, ge=0, lt=1)


class ScheduleSpec(_Strict):
    name: ScheduleName = "constant"
    step_size: int = Field(default=10, ge=1, le=100_000, description="epochs between decays (step)")
    gamma: float = Field(default=0.5, gt=0, le=1, description="decay factor (step)")
    warmup_steps: int = Field(default=100, ge=1, le=100_000, description="linear_warmup length in steps")


class InitSpec(_Strict):
    scheme: InitScheme = "default"
    std: float = Field(default=0.01, gt=0, le=10, description="σ for the normal scheme")


class TrainSpec(_Strict):
    optimizer: OptimizerSpec = Field(default_factory=OptimizerSpec)
    loss: LossName = "auto"
    target: Literal["label", "input"] = Field(
        default="label", description="'input' trains an autoencoder to reconstruct its input"
    )
    epochs: int = Field(default=10, ge=1, le=50)
    batch_size: int = Field(default=32, ge=1, le=512)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    schedule: ScheduleSpec = Field(default_factory=ScheduleSpec)
    weight_decay: float = Field(default=0.0, ge=0, le=1, description="L2 penalty (decoupled for adamw)")
    l1: float = Field(default=0.0, ge=0, le=1, description="L1 penalty on weights")
    clip_grad_norm: float | None = Field(default=None, gt=0, le=1000)
    early_stopping_patience: int = Field(default=0, ge=0, le=50, description="epochs without test improvement; 0 = off")
    init: InitSpec = Field(default_factory=InitSpec)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    max_steps: int | None = Field(default=None, ge=1, le=20_000)
