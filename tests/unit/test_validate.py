"""Validation of good specs: per-node shapes and parameters agree with the real built model; nothing real is
allocated; the step-memory estimate is conservative against a measured training step."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import graph_specs as g
import psutil
import pytest
import torch

from layerlab.catalogue.errors import SpecError
from layerlab.catalogue.limits import Limits
from layerlab.catalogue.spec import JobSpec, ModelSpec
from layerlab.catalogue.validate import validate_job, validate_model, validate_request
from layerlab.training.build import build_model, count_parameters

torch.set_num_threads(1)
LIMITS = Limits()

MODELS = {
    "mlp": g.mlp(),
    "residual": g.residual_mlp(),
    "branches": g.branches(),
    "cnn": g.cnn(side=28),
    "seq2seq_additive": g.seq2seq_attention("additive"),
    "seq2seq_dot": g.seq2seq_attention("dot"),
    "autoencoder": g.autoencoder(),
    "transformer": g.transformer(blocks=2),
    "gru": g.recurrent_classifier("gru"),
    "lstm": g.recurrent_classifier("lstm"),
    "rnn": g.recurrent_classifier("rnn"),
}


def real_inputs(report_json: dict, batch: int = 2) -> list[torch.Tensor]:
    out = []
    for spec in report_json["inputs"]:
        shape = (batch, *spec["shape"])
        out.append(torch.randint(0, 13, shape) if spec["dtype"] == "long" else torch.rand(shape))
    return out


@pytest.mark.parametrize("name", list(MODELS))
def test_report_matches_the_real_model(name: str) -> None:
    report = validate_request({"model": MODELS[name]}, LIMITS)
    body = report.to_json()
    json.dumps(body)
    torch.manual_seed(0)
    net = build_model(ModelSpec.model_validate(MODELS[name]))
    assert body["params"] == count_parameters(net) == report.params
    values = net.forward_all(*real_inputs(body))
    for entry in body["nodes"]:
        assert list(values[entry["id"]].shape[1:]) == entry["output_shape"], entry["id"]
        expected_dtype = "long" if values[entry["id"]].dtype == torch.long else "float"
        assert entry["dtype"] == expected_dtype
        module = net.layers[entry["id"]]
        assert entry["params"] == count_parameters(module), entry["id"]
        assert entry["flops"] >= 0
    assert [n["id"] for n in body["nodes"]] == [n["id"] for n in MODELS[name]["nodes"]]  # spec order
    assert body["memory_bytes"] > 4 * body["params"]


def test_report_json_shape_for_a_job() -> None:
    report = validate_request(g.job(g.seq2seq_attention(), "reverse", epochs=3, batch_size=64), LIMITS)
    body = report.to_json()
    assert body["ok"] is True
    assert set(body) >= {"nodes", "params", "flops", "memory_bytes", "inputs", "outputs", "total_steps"}
    assert [(i["id"], i["field"], i["shape"], i["dtype"]) for i in body["inputs"]] == [
        ("src", "src", [10], "long"), ("tgt_in", "tgt_in", [11], "long")]
    assert body["outputs"] == [{"id": "logits", "shape": [11, g.VOCAB], "dtype": "float"}]
    assert body["total_steps"] == 3 * -(-1600 // 64)
    assert body["flops_per_job"] > 3 * body["total_steps"] * 64 * body["flops"]


def test_entry_points_agree() -> None:
    raw = g.job(g.mlp(), "spiral")
    spec = JobSpec.model_validate(raw)
    assert validate_job(spec, LIMITS).to_json() == validate_request(raw, LIMITS).to_json()
    assert validate_model(spec.model, LIMITS).to_json() == validate_request({"model": raw["model"]}, LIMITS).to_json()


def test_input_field_mapping_with_a_data_set() -> None:
    body = g.model(g.node("pixels", "input", shape=[2], field="x"), g.node("out", "dense", ["pixels"], units=2))
    report = validate_request({"model": body, "data": {"dataset": "moons"}}, LIMITS).to_json()
    assert report["inputs"][0]["field"] == "x"
    plain = g.model(g.node("features", "input", shape=[2]), g.node("out", "dense", ["features"], units=2))
    report = validate_request({"model": plain, "data": {"dataset": "moons"}}, LIMITS).to_json()
    assert report["inputs"][0]["field"] == "x"


def test_reconstruction_and_regression_targets_accepted() -> None:
    validate_request(g.job(g.autoencoder(), "digits", target="input"), LIMITS)
    validate_request(g.job(g.mlp(classes=1), "plane"), LIMITS)
    validate_request(g.job(g.mlp(classes=1), "moons", loss="bce"), LIMITS)
    validate_request(g.job(g.mlp(classes=2), "moons", loss="mse"), LIMITS)


def test_model_only_uses_default_training_settings_within_caps() -> None:
    body = {"model": g.mlp()}
    assert validate_request(body, LIMITS).memory.batch_size == 32
    small = validate_request(body, Limits(max_batch=8, max_epochs=1))
    assert small.memory.batch_size == 8


def test_memory_estimate_ignores_an_outer_no_grad() -> None:
    body = {"model": g.recurrent_classifier("lstm")}
    plain = validate_request(body, LIMITS).memory
    with torch.no_grad():
        inside = validate_request(body, LIMITS).memory
    assert inside == plain
    assert plain.activations_per_sample > sum(4 * 13 * d for d in (8, 32))  # gates saved, not only outputs


def test_caps_are_inclusive_bounds() -> None:
    """Exactly at a cap passes, one above fails."""
    body = {"model": g.mlp(hidden=16)}
    params = validate_request(body, LIMITS).params
    validate_request(body, Limits(max_params=params))
    with pytest.raises(SpecError) as err:
        validate_request(body, Limits(max_params=params - 1))
    assert err.value.cap == "max_params"
    n = len(body["model"]["nodes"])
    validate_request(body, Limits(max_nodes=n))
    with pytest.raises(SpecError):
        validate_request(body, Limits(max_nodes=n - 1))
    memory = validate_request(body, LIMITS).memory.total
    validate_request(body, Limits(max_step_memory_bytes=memory))
    with pytest.raises(SpecError):
        validate_request(body, Limits(max_step_memory_bytes=memory - 1))
    seq = {"model": g.model(g.node("x", "input", shape=[512], dtype="long"), g.node("e", "embedding", ["x"]))}
    validate_request(seq, LIMITS)
    with pytest.raises(SpecError):
        validate_request(seq, Limits(max_seq_len=511))


def test_validation_allocates_no_real_tensors() -> None:
    """A 4.9 M-parameter spec (≈ 19.6 MB of float32 weights, ×5 with grads and Adam state) validates with
    negligible RSS growth: only arithmetic and meta tensors are involved."""
    body = {"model": g.model(g.node("x", "input", shape=[2200]), g.node("wide", "dense", ["x"], units=2200),
                             g.node("out", "dense", ["wide"], units=10))}
    validate_request({"model": g.mlp()}, LIMITS)  # warm-up: lazy imports and caches
    proc = psutil.Process()
    before = proc.memory_info().rss
    for _ in range(3):
        report = validate_request(body, LIMITS)
    grown = proc.memory_info().rss - before
    assert 4_800_000 < report.params < LIMITS.max_params
    assert grown < 4 * 2**20, f"RSS grew by {grown / 2**20:.1f} MiB"


MEASURE = r"""
import ctypes, gc, json, sys
import torch
torch.set_num_threads(1)
from layerlab.catalogue.spec import ModelSpec
from layerlab.catalogue.resolve import resolve_graph
from layerlab.catalogue.memory import estimate_step_memory
from layerlab.training.build import build_model

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024

def step(net, inputs):
    opt = torch.optim.Adam(net.parameters())
    for _ in range(2):
        opt.zero_grad()
        net(*inputs).float().pow(2).mean().backward()
        opt.step()

def settle():
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)

for body, batch in json.loads(sys.stdin.read()):
    spec = ModelSpec.model_validate(body)
    graph = resolve_graph(spec)
    estimate = estimate_step_memory(graph, batch, "adam").total
    torch.manual_seed(0)
    inputs = [torch.randint(0, 13, (batch, *n.output_shape.dims)) if n.output_shape.dtype == "long"
              else torch.rand(batch, *n.output_shape.dims) for n in graph.inputs]
    step(build_model(spec), [t[:1] for t in inputs])  # loads the kernels' code pages; freed afterwards
    settle()
    before = status("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak (VmHWM) to the current RSS
    step(build_model(spec), inputs)
    print(json.dumps({"estimate": estimate, "measured": status("VmHWM") - before}), flush=True)
    del inputs
    settle()
"""

MEMORY_CASES = {
    "cnn": (g.cnn(side=28), 256),
    "wide mlp": (g.mlp(hidden=2048, features=784, classes=10), 64),
    "transformer": (g.transformer(blocks=2, seq=128, d=64), 32),
    "seq2seq": (g.seq2seq_attention(hidden=128), 256),
}


@pytest.mark.skipif(not os.access("/proc/self/clear_refs", os.W_OK), reason="needs Linux /proc/self/clear_refs")
def test_memory_estimate_is_conservative() -> None:
    """Measured peak RSS growth of real training steps ≤ 1.5 × the estimate (reliability plan R9), and the
    estimate is not so loose that it would refuse models that fit (≤ 2.5 × measured). One subprocess, so the
    peak-RSS counter belongs to these steps alone."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", MEASURE], input=json.dumps(list(MEMORY_CASES.values())),
                         capture_output=True, text=True, timeout=240, env=env, check=True)
    results = dict(zip(MEMORY_CASES, (json.loads(line) for line in out.stdout.strip().splitlines()), strict=True))
    for name, result in results.items():
        assert result["measured"] > 10 * 2**20, (name, result)  # the step really allocated something
        assert result["measured"] <= 1.5 * result["estimate"], (name, result)
        assert result["estimate"] <= 2.5 * result["measured"], (name, result)
