"""What the training loop yields: plain dataclasses, each JSON-able through `to_json()`.

`training/run.py` turns them into wire events; benchmarks and tests read them directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Phase = Literal["pretrain", "train"]
StopReason = Literal["completed", "early_stopping", "max_steps", "stopped"]


class NonFiniteLoss(FloatingPointError):
    """The loss became NaN or infinite; the job service reports reason `nan_loss`."""

    def __init__(self, step: int, value: float, phase: Phase = "train") -> None:
        super().__init__(f"loss is {value} at step {step} ({phase}); lower the learning rate or clip gradients")
        self.step = step
        self.value = value
        self.phase = phase


@dataclass(frozen=True, slots=True)
class StepRecord:
    """One optimizer step: the batch's loss/accuracy, the lr used, examples seen so far in this phase."""

    step: int
    epoch: int
    loss: float
    accuracy: float | None
    lr: float
    examples: int
    phase: Phase = "train"

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "step", "step": self.step, "epoch": self.epoch, "loss": self.loss,
            "accuracy": self.accuracy, "lr": self.lr, "examples": self.examples, "phase": self.phase,
        }


@dataclass(frozen=True, slots=True)
class EvalRecord:
    """Loss and accuracy over a whole split, in eval mode.

    For seq2seq the loss is teacher-forced on both splits (comparable with training); the test accuracy
    comes from greedy decoding (what the model really produces), the train accuracy stays teacher-forced.
    """

    step: int
    epoch: int
    split: Literal["train", "test"]
    loss: float
    accuracy: float | None
    phase: Phase = "train"

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "eval", "step": self.step, "epoch": self.epoch, "split": self.split,
            "loss": self.loss, "accuracy": self.accuracy, "phase": self.phase,
        }


@dataclass(frozen=True, slots=True)
class SummaryRecord:
    """The last record of a run: final metrics, the best test result, and why it stopped."""

    stop_reason: StopReason
    steps: int
    epochs: int
    seconds: float
    loss_kind: str
    device: str
    train_loss: float | None = None
    train_accuracy: float | None = None
    test_loss: float | None = None
    test_accuracy: float | None = None
    best_test_loss: float | None = None
    best_test_accuracy: float | None = None
    pretrain: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "summary", "stop_reason": self.stop_reason, "steps": self.steps, "epochs": self.epochs,
            "seconds": self.seconds, "loss_kind": self.loss_kind, "device": self.device,
            "train_loss": self.train_loss, "train_accuracy": self.train_accuracy,
            "test_loss": self.test_loss, "test_accuracy": self.test_accuracy,
            "best_test_loss": self.best_test_loss, "best_test_accuracy": self.best_test_accuracy,
            "pretrain": self.pretrain,
        }


Record = StepRecord | EvalRecord | SummaryRecord
