"""Every chapter preset is a valid job and, trained as written on one CPU core, reaches its stated quality."""

from __future__ import annotations

import copy
import functools
import json
import time

import pytest
import torch

from layerlab.catalogue.limits import Limits
from layerlab.catalogue.presets import PRESETS, PRESETS_BY_ID, Preset, presets_json
from layerlab.catalogue.spec import JobSpec
from layerlab.catalogue.validate import validate_job, validate_request
from layerlab.training.loop import SummaryRecord, train_records

torch.set_num_threads(1)

CHAPTER_SECTIONS = {"9.2", "9.3.1", "9.3.2", "9.3.3", "9.4", "9.5"}


def summary_of(spec: JobSpec) -> SummaryRecord:
    last = None
    for record in train_records(spec):
        last = record
    assert isinstance(last, SummaryRecord)
    return last


@functools.cache
def trained(preset_id: str) -> tuple[SummaryRecord, float]:
    """A preset's summary and seconds, trained once per test session."""
    started = time.perf_counter()
    summary = summary_of(PRESETS_BY_ID[preset_id].job_spec())
    return summary, time.perf_counter() - started


def test_every_section_has_a_preset_and_ids_are_unique() -> None:
    assert {p.section for p in PRESETS} == CHAPTER_SECTIONS
    assert len(PRESETS_BY_ID) == len(PRESETS)
    wanted = {"mlp_spiral", "deep_sigmoid", "deep_relu", "autoencoder_digits", "dropout_mlp", "cnn_mnist",
              "fixed_filters", "transfer_digits", "rnn_sentiment", "lstm_sentiment", "gru_sentiment",
              "birnn_sentiment", "seq2seq_attention", "transformer_sentiment"}
    assert wanted <= set(PRESETS_BY_ID)


def test_presets_json_round_trips() -> None:
    out = presets_json()
    text = json.dumps(out, ensure_ascii=False)
    for item in json.loads(text):
        assert item["title"]["en"] and item["title"]["ja"] and item["description"]["ja"]
        assert item["expect"]["op"] in (">=", "<=")
        assert JobSpec.model_validate(item["spec"]) == PRESETS_BY_ID[item["id"]].job_spec()


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.id)
def test_preset_is_valid(preset: Preset) -> None:
    report = validate_job(preset.job_spec(), Limits())
    assert report.params > 0
    assert validate_request(copy.deepcopy(preset.spec), Limits()).to_json()["ok"] is True


@pytest.mark.slow
@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.id)
def test_preset_reaches_its_stated_quality(preset: Preset) -> None:
    summary, seconds = trained(preset.id)
    value = getattr(summary, preset.expect.metric)
    print(f"\n[preset] {preset.id}: {preset.expect.metric}={value:.4f} "
          f"(claim {preset.expect.op} {preset.expect.threshold}) in {seconds:.1f} s, {summary.steps} steps")
    assert summary.stop_reason == "completed"
    assert preset.expect.met(value), f"{preset.id}: {preset.expect.metric}={value}"


@pytest.mark.slow
def test_transfer_beats_the_same_labels_from_scratch() -> None:
    """The transfer preset's lesson: without pretraining the same 50 labels get less far."""
    spec = copy.deepcopy(PRESETS_BY_ID["transfer_digits"].spec)
    del spec["train"]["pretrain"]
    scratch = summary_of(JobSpec.model_validate(spec))
    transfer, _ = trained("transfer_digits")
    print(f"\n[preset] transfer_digits from scratch: test_accuracy={scratch.test_accuracy:.4f} "
          f"(with transfer {transfer.test_accuracy:.4f})")
    assert scratch.test_accuracy < transfer.test_accuracy
