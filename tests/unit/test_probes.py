"""Probes: values right against direct computation, rate caps, and no effect on training.

Real data sets, real models from specs, the real training loop; a stepping clock makes every probe
due at every step where a test wants the most probing (the strongest check that probing is harmless).
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
import torch

from layerlab.catalogue.spec import JobSpec
from layerlab.training.build import build_model
from layerlab.training.data import load_dataset
from layerlab.training.loop import StepRecord, train_records
from layerlab.training.probes import BUDGET, LayerStatsRecord, Probes, TensorRecord, _Clock, inspecting

torch.set_num_threads(1)


def node(id_: str, type_: str, inputs: list[str] | None = None, **params: Any) -> dict[str, Any]:
    return {"id": id_, "type": type_, "params": params, "inputs": inputs or []}


def spec_of(nodes: list[dict], data: dict, **train: Any) -> JobSpec:
    train = {"epochs": 2, "batch_size": 32, **train}
    return JobSpec.model_validate({"model": {"nodes": nodes}, "data": data, "train": train})


MLP = [
    node("x", "input", shape=[2]),
    node("h1", "dense", ["x"], units=8),
    node("a1", "activation", ["h1"], fn="relu"),
    node("d1", "dropout", ["a1"], p=0.2),
    node("bn", "batchnorm", ["d1"]),
    node("h2", "dense", ["bn"], units=6),
    node("a2", "activation", ["h2"], fn="tanh"),
    node("out", "dense", ["a2"], units=2),
]
CNN = [
    node("x", "input", shape=[1, 8, 8]),
    node("c1", "conv2d", ["x"], filters=4, kernel_size=3, padding=1),
    node("r1", "activation", ["c1"], fn="relu"),
    node("edge", "fixed_filter2d", ["r1"], filter="edge_vertical"),
    node("p1", "maxpool2d", ["edge"], kernel_size=2),
    node("f", "flatten", ["p1"]),
    node("d", "dropout", ["f"], p=0.3),
    node("out", "dense", ["d"], units=10),
]
LSTM = [
    node("x", "input", shape=[13], dtype="long"),
    node("emb", "embedding", ["x"], num_embeddings=65, embedding_dim=8),
    node("lstm", "lstm", ["emb"], hidden_size=12, return_sequences=True),
    node("att", "multihead_self_attention", ["lstm"], num_heads=3),
    node("enc", "transformer_encoder_block", ["att"], num_heads=2, ff_dim=16, dropout=0.1),
    node("last", "gru", ["enc"], hidden_size=8, return_sequences=False),
    node("out", "dense", ["last"], units=2),
]
SEQ2SEQ = [
    node("src", "input", shape=[10], dtype="long"),
    node("tgt_in", "input", shape=[11], dtype="long"),
    node("e_src", "embedding", ["src"], num_embeddings=13, embedding_dim=8),
    node("e_tgt", "embedding", ["tgt_in"], num_embeddings=13, embedding_dim=8),
    node("enc", "lstm", ["e_src"], hidden_size=8, return_sequences=True),
    node("dec", "lstm", ["e_tgt"], hidden_size=8, return_sequences=True),
    node("att", "attention", ["dec", "enc"], kind="additive"),
    node("cat", "concat", ["dec", "att"]),
    node("out", "dense", ["cat"], units=13),
]
AUTOENCODER = [
    node("x", "input", shape=[1, 8, 8]),
    node("f", "flatten", ["x"]),
    node("e", "dense", ["f"], units=16),
    node("a", "activation", ["e"], fn="relu"),
    node("z", "dense", ["a"], units=2),
    node("d", "dense", ["z"], units=64),
    node("r", "reshape", ["d"], shape=[1, 8, 8]),
]

CASES = {
    "mlp_spiral": (MLP, {"dataset": "spiral"}, {}),
    "cnn_digits": (CNN, {"dataset": "digits"}, {"max_steps": 30}),
    "lstm_attention_sentiment": (LSTM, {"dataset": "sentiment"}, {"max_steps": 25}),
    "seq2seq_reverse": (SEQ2SEQ, {"dataset": "reverse"}, {"max_steps": 20}),
    "autoencoder_digits": (AUTOENCODER, {"dataset": "digits"}, {"target": "input", "max_steps": 30}),
}


def every_call_clock() -> Any:
    """Each reading is 1000 s after the previous: with budget=1 every probe is due at every step."""
    return itertools.count(0.0, 1000.0).__next__


def run_loop(spec: JobSpec, bundle: Any, hooks: Any = None) -> list[Any]:
    return list(train_records(spec, bundle=bundle, hooks=hooks))


@pytest.mark.parametrize("case", sorted(CASES))
def test_probed_training_gives_bit_identical_losses_to_the_bare_loop(case: str) -> None:
    nodes, data, train = CASES[case]
    spec = spec_of(nodes, data, **train)
    bundle = load_dataset(spec.data)
    bare = run_loop(spec, bundle)
    probes = Probes(spec, bundle, clock=every_call_clock(), budget=1.0)
    probed = run_loop(spec, bundle, probes)
    bare_losses = [r.loss for r in bare if isinstance(r, StepRecord)]
    probed_losses = [r.loss for r in probed if isinstance(r, StepRecord)]
    assert bare_losses and probed_losses == bare_losses
    assert [r.to_json() for r in bare if not isinstance(r, StepRecord)][:-1] == \
        [r.to_json() for r in probed if not isinstance(r, (StepRecord, TensorRecord, LayerStatsRecord))][:-1]
    tensors = [r for r in probed if isinstance(r, TensorRecord)]
    stats = [r for r in probed if isinstance(r, LayerStatsRecord)]
    assert len(stats) == len(bare_losses), "a stats record after every step with the stepping clock"
    kinds = {r.kind for r in tensors}
    expected = {
        "mlp_spiral": {"decision_boundary", "neuron_maps", "weight_histograms", "confusion_matrix"},
        "cnn_digits": {"feature_maps", "filters", "weight_histograms", "confusion_matrix"},
        "lstm_attention_sentiment": {"attention", "lstm_gates", "activations", "weight_histograms",
                                     "confusion_matrix"},
        "seq2seq_reverse": {"attention", "lstm_gates", "activations", "weight_histograms"},
        "autoencoder_digits": {"reconstructions", "activations", "weight_histograms"},
    }[case]
    assert expected <= kinds
    for record in tensors:
        assert record.array.nbytes <= 256 * 1024
        assert record.array.dtype == {"float16": np.float16, "float32": np.float32, "uint8": np.uint8}[record.dtype]
        assert np.isfinite(record.array.astype(np.float32)).all()


def trained(spec: JobSpec, bundle: Any, steps: int = 15) -> torch.nn.Module:
    """A model after a few real steps, left with the last step's gradients in place."""
    model = build_model(spec.model, list(bundle.train.inputs))
    seen = {}

    class Grab:
        def after_step(self, step, model, batch, loss):
            seen["model"] = model

    spec = spec.model_copy(update={"train": spec.train.model_copy(update={"max_steps": steps})})
    for _ in train_records(spec, bundle=bundle, model=model, hooks=Grab()):
        pass
    return seen["model"]


def all_records(probes: Probes, model: torch.nn.Module) -> list[TensorRecord]:
    """Run every planned heavy probe once, as the hooks do."""
    if not probes._ready:
        probes._prepare(model)
    out = []
    for item in probes._items:
        with inspecting(model):
            record = item(7, model)
        if record is not None:
            out.append(record)
    return out


def first_record(probes: Probes, model: torch.nn.Module, kind: str, node_id: str | None = None) -> TensorRecord:
    for record in all_records(probes, model):
        if record.kind == kind and (node_id is None or record.node == node_id):
            return record
    raise AssertionError(f"no {kind} probe for {node_id}")


def test_gradient_norms_equal_get_total_norm_of_each_nodes_parameter_grads() -> None:
    spec = spec_of(MLP, {"dataset": "spiral"})
    bundle = load_dataset(spec.data)
    model = build_model(spec.model, ["x"])
    x, y = bundle.train.inputs["x"][:32], bundle.train.target[:32]
    torch.nn.functional.cross_entropy(model(x), y).backward()
    probes = Probes(spec, bundle)
    probes._prepare(model)
    record = probes.layer_stats(1, model)
    expected = {}
    for name in ("h1", "bn", "h2", "out"):
        grads = [p.grad for p in model.layers[name].parameters()]
        expected[name] = float(torch.nn.utils.get_total_norm(grads))
        by_hand = float(torch.sqrt(sum((g.double() ** 2).sum() for g in grads)))
        assert expected[name] == pytest.approx(by_hand, rel=1e-5)
    assert record.grad_norms == pytest.approx(expected, rel=1e-6)
    assert set(record.grad_norms) == set(expected), "nodes without parameters have no gradient norm"


def test_activation_statistics_and_dead_relu_fraction() -> None:
    spec = spec_of(MLP, {"dataset": "spiral"})
    bundle = load_dataset(spec.data)
    model = build_model(spec.model, ["x"])
    with torch.no_grad():
        model.layers["h1"].bias[:3] = -1e4  # three of eight ReLU units can never fire: 3/8 dead
        model.layers["h1"].bias[3:] = 1e4  # the others always do
    probes = Probes(spec, bundle)
    probes._prepare(model)
    model.train()
    record = probes.layer_stats(1, model)
    assert record.activations["a1"]["dead"] == pytest.approx(3 / 8)
    assert "dead" not in record.activations["a2"], "only ReLU nodes report dead units"
    with inspecting(model):
        h2 = model.forward_all(*probes._probe_inputs)["h2"]
    assert record.activations["h2"]["mean"] == pytest.approx(float(h2.mean()), rel=1e-5)
    assert record.activations["h2"]["std"] == pytest.approx(float(h2.std()), rel=1e-5)
    assert model.training and all(m.training for m in model.modules()), "train mode restored"


def test_decision_boundary_and_neuron_maps_equal_the_model_on_the_grid() -> None:
    spec = spec_of(MLP, {"dataset": "spiral"})
    bundle = load_dataset(spec.data)
    model = trained(spec, bundle)
    probes = Probes(spec, bundle)
    record = first_record(probes, model, "decision_boundary")
    g = spec.probes.grid
    assert record.array.shape == (2, g, g) and record.dtype == "uint8"
    x0, x1, y0, y1 = record.meta["extent"]
    xs, ys = np.linspace(x0, x1, g), np.linspace(y0, y1, g)
    grid = torch.tensor([[xs[j], ys[i]] for i in range(g) for j in range(g)], dtype=torch.float32)
    with inspecting(model):
        values = model.forward_all(grid)
    probs = torch.softmax(values["out"], -1).reshape(g, g, 2).permute(2, 0, 1).numpy()
    assert np.abs(record.array / 255.0 - probs).max() <= 0.5 / 255 + 1e-4
    data_x = bundle.train.inputs["x"]
    assert x0 < float(data_x[:, 0].min()) and x1 > float(data_x[:, 0].max()), "the grid covers the data"
    neurons = first_record(probes, model, "neuron_maps", "a1")
    expected = values["a1"].reshape(g, g, -1).permute(2, 0, 1).numpy()
    np.testing.assert_allclose(neurons.array.astype(np.float32), expected, rtol=2e-3, atol=2e-3)
    shown = {r.node for r in all_records(probes, model) if r.kind == "neuron_maps"}
    assert shown == {"a1", "a2"}, "pre-activation dense units are not drawn twice"


def test_regression_plane_boundary_is_the_raw_output() -> None:
    nodes = [node("x", "input", shape=[2]), node("h", "dense", ["x"], units=4),
             node("a", "activation", ["h"], fn="tanh"), node("out", "dense", ["a"], units=1)]
    spec = spec_of(nodes, {"dataset": "plane"})
    bundle = load_dataset(spec.data)
    model = trained(spec, bundle)
    probes = Probes(spec, bundle)
    record = first_record(probes, model, "decision_boundary")
    probes_plane = probes._plane(torch.device("cpu"))
    with inspecting(model):
        expected = model(probes_plane.points).reshape(1, spec.probes.grid, spec.probes.grid).numpy()
    assert record.meta["value"] == "output" and record.dtype == "float16"
    np.testing.assert_allclose(record.array.astype(np.float32), expected, rtol=2e-3, atol=2e-3)


def test_attention_probes_sum_to_one_and_equal_the_modules_weights() -> None:
    spec = spec_of(LSTM, {"dataset": "sentiment"})
    bundle = load_dataset(spec.data)
    model = trained(spec, bundle)
    probes = Probes(spec, bundle)
    for name, heads in (("att", 3), ("enc", 2)):
        record = first_record(probes, model, "attention", name)
        t = spec.model.nodes[0].params["shape"][0]
        assert record.array.shape == (heads, t, t)
        rows = record.array.astype(np.float32).sum(-1)
        np.testing.assert_allclose(rows, 1.0, atol=5e-3)
        x = probes._probe_inputs[0][:1]
        with inspecting(model):
            model(x)
        np.testing.assert_allclose(record.array.astype(np.float32),
                                   model.layers[name].last_weights[0].numpy(), atol=1e-3)


def test_additive_attention_of_an_encoder_decoder_and_lstm_gates() -> None:
    spec = spec_of(SEQ2SEQ, {"dataset": "reverse"})
    bundle = load_dataset(spec.data)
    model = trained(spec, bundle)
    probes = Probes(spec, bundle)
    record = first_record(probes, model, "attention", "att")
    assert record.array.shape == (1, 11, 10), "[heads, decoder positions, encoder positions]"
    np.testing.assert_allclose(record.array.astype(np.float32).sum(-1), 1.0, atol=5e-3)
    gates = first_record(probes, model, "lstm_gates", "enc")
    assert gates.array.shape == (4, 10, 8) and gates.meta["gates"] == ["input", "forget", "cell", "output"]
    with inspecting(model):
        emb = model.forward_all(*(x[:1] for x in probes._probe_inputs))["e_src"]
        direct = model.layers["enc"].gates(emb)
    np.testing.assert_allclose(gates.array[1].astype(np.float32), direct["forget"][0].numpy(), atol=1e-3)
    values = gates.array.astype(np.float32)
    assert values[[0, 1, 3]].min() >= 0 and values[[0, 1, 3]].max() <= 1, "sigmoid gates lie in [0, 1]"


def test_cnn_feature_maps_filters_histograms_and_confusion_matrix() -> None:
    spec = spec_of(CNN, {"dataset": "digits"})
    bundle = load_dataset(spec.data)
    model = trained(spec, bundle)
    probes = Probes(spec, bundle)
    fmap = first_record(probes, model, "feature_maps", "r1")
    with inspecting(model):
        values = model.forward_all(probes._probe_inputs[0][:1])
    np.testing.assert_allclose(fmap.array.astype(np.float32), values["r1"][0].numpy(), rtol=2e-3, atol=2e-3)
    assert {r.node for r in all_records(probes, model) if r.kind == "feature_maps"} == {"r1", "edge", "p1"}
    filt = first_record(probes, model, "filters", "c1")
    np.testing.assert_allclose(filt.array.astype(np.float32), model.layers["c1"].weight.detach().numpy(),
                               rtol=2e-3, atol=2e-3)
    hist = first_record(probes, model, "weight_histograms")
    assert hist.meta["nodes"] == ["c1", "out"]
    weights = torch.cat([p.detach().reshape(-1) for p in model.layers["out"].parameters()])
    assert hist.array[1].sum() == weights.numel()
    assert hist.meta["ranges"][1] == pytest.approx([float(weights.min()), float(weights.max())])
    confusion = probes._epoch_probe(1, 30, model)
    with inspecting(model):
        preds = model(bundle.test.inputs["x"]).argmax(-1)
    direct = np.zeros((10, 10), np.float32)
    np.add.at(direct, (bundle.test.target.numpy(), preds.numpy()), 1)
    np.testing.assert_array_equal(confusion.array, direct)
    assert confusion.array.sum() == len(bundle.test)


def test_reconstructions_are_inputs_and_the_models_outputs() -> None:
    spec = spec_of(AUTOENCODER, {"dataset": "digits"}, target="input")
    bundle = load_dataset(spec.data)
    model = trained(spec, bundle)
    probes = Probes(spec, bundle)
    record = first_record(probes, model, "reconstructions")
    s = spec.probes.samples
    assert record.array.shape == (2, s, 1, 8, 8)
    x = probes._probe_inputs[0][:s]
    with inspecting(model):
        out = model(x)
    np.testing.assert_allclose(record.array[0].astype(np.float32), x.numpy(), atol=2e-3)
    np.testing.assert_allclose(record.array[1].astype(np.float32), out.numpy(), rtol=2e-3, atol=2e-3)


def test_heavy_frames_respect_the_rate_cap_and_kinds_filter() -> None:
    spec = spec_of(MLP, {"dataset": "spiral"}, epochs=6)
    spec = spec.model_copy(update={"probes": spec.probes.model_copy(update={"heavy_hz": 5.0, "stats_hz": 20.0})})
    bundle = load_dataset(spec.data)
    ticks = itertools.count(0.0, 0.01)  # 10 ms of "wall clock" per reading
    probes = Probes(spec, bundle, clock=ticks.__next__, budget=1.0)  # the rate caps alone (budget: below)
    records = run_loop(spec, bundle, probes)
    elapsed = next(ticks)
    heavy = [r for r in records if isinstance(r, TensorRecord)]
    stats = [r for r in records if isinstance(r, LayerStatsRecord)]
    assert 2 <= len(heavy) <= 5 * elapsed + 1
    assert 2 <= len(stats) <= 20 * elapsed + 1
    kinds = spec.probes.model_copy(update={"kinds": ["decision_boundary"]})
    only = Probes(spec.model_copy(update={"probes": kinds}), bundle, clock=every_call_clock(), budget=1.0)
    got = {r.kind for r in run_loop(spec, bundle, only) if isinstance(r, TensorRecord)}
    assert got == {"decision_boundary"}


def test_probe_cost_is_held_within_the_budget() -> None:
    """A probe that takes long pushes the next one back so probes stay ~BUDGET of the wall clock."""
    readings = iter([10.0, 10.05, 20.0, 20.0001])
    clock = _Clock(10.0, readings.__next__)
    clock.spent(clock.now())  # took 50 ms
    assert clock.next == pytest.approx(10.0 + 0.05 / BUDGET)
    assert not clock.due(clock.next - 0.01) and clock.due(clock.next + 0.01)
    assert clock.next - 10.0 > 10 * clock.interval, "a slow probe is pushed back well beyond the rate cap"
    clock.spent(clock.now())  # took 0.1 ms: the rate cap decides
    assert clock.next == pytest.approx(20.0 + 0.1)
