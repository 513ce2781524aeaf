"""Invalid specs: each raises SpecError whose message names the problem (node id, field or cap).

Also: specs that try to smuggle code (names of callables, import expressions, lambdas, Keras-style class
names, URLs) are refused, and validating them triggers no exec/compile/os.system/subprocess/import events.
"""

from __future__ import annotations

import copy
import sys
from dataclasses import dataclass, field
from typing import Any

import pytest
from graph_specs import autoencoder, mlp, model, node, seq2seq_attention

from layerlab.catalogue.errors import SpecError
from layerlab.catalogue.limits import Limits
from layerlab.catalogue.validate import validate_request

LIMITS = Limits()


@dataclass
class Case:
    body: Any
    says: tuple[str, ...]  # substrings the message must contain
    node_id: str | None = None
    cap: str | None = None
    limits: Limits = field(default_factory=Limits)


def only_model(*nodes: dict, **kw: Any) -> dict:
    return {"model": model(*nodes, **kw)}


def with_data(body: dict, dataset: str = "spiral", **train: Any) -> dict:
    return {"model": body, "data": {"dataset": dataset}, "train": train}


def chain(n: int) -> dict:
    nodes = [node("x", "input", shape=[4])] + [node(f"d{i}", "dense", ["x" if i == 0 else f"d{i - 1}"], units=4)
                                               for i in range(n - 1)]
    return {"model": model(*nodes)}


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def set_in(body: dict, path: list, value: Any) -> dict:
    out = copy.deepcopy(body)
    target = out
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return out


X2 = node("x", "input", shape=[2])
BASE_JOB = with_data(mlp())

CASES: dict[str, Case] = {
    # ---- shapes -------------------------------------------------------------------------------------------
    "conv on a vector": Case(only_model(node("x", "input", shape=[64]), node("conv1", "conv2d", ["x"])),
                             ("node conv1 (Conv2d)", "image [C,H,W]", "vector [64]"), "conv1"),
    "dense on token ids": Case(only_model(node("x", "input", shape=[10], dtype="long"),
                                          node("h", "dense", ["x"], units=4)), ("node h", "token ids [10]"), "h"),
    "add of different shapes": Case(only_model(X2, node("a", "dense", ["x"], units=8),
                                               node("b", "dense", ["x"], units=5), node("res", "add", ["a", "b"])),
                                     ("node res", "[8]", "[5]"), "res"),
    "reshape numel mismatch": Case(only_model(X2, node("h", "dense", ["x"], units=10),
                                              node("r", "reshape", ["h"], shape=[3, 3])), ("node r", "[10]"), "r"),
    "dot attention with different widths": Case(
        only_model(node("q", "input", shape=[5, 8]), node("k", "input", shape=[7, 6]),
                   node("attn", "attention", ["q", "k"], kind="dot")), ("node attn", "width 8", "[7,6]"), "attn"),
    "heads do not divide width": Case(
        only_model(node("x", "input", shape=[5, 10]), node("mhsa", "multihead_self_attention", ["x"], num_heads=3)),
        ("node mhsa", "3"), "mhsa"),
    "kernel larger than image": Case(
        only_model(node("x", "input", shape=[1, 4, 4]), node("conv1", "conv2d", ["x"], kernel_size=7, padding=0)),
        ("node conv1", "kernel 7"), "conv1"),
    "lstm on a vector": Case(only_model(node("x", "input", shape=[8]), node("rnn1", "lstm", ["x"])),
                             ("node rnn1", "sequence [T,F]", "vector [8]"), "rnn1"),
    "embedding on floats": Case(only_model(node("x", "input", shape=[8, 2]), node("emb", "embedding", ["x"])),
                                ("node emb", "token ids"), "emb"),
    # ---- topology -----------------------------------------------------------------------------------------
    "self loop": Case(only_model(X2, node("h", "dense", ["h"], units=2)), ("cycle", "node h"), "h"),
    "two-cycle": Case(only_model(X2, node("a", "dense", ["b"], units=2), node("b", "dense", ["a"], units=2),
                                 node("c", "dense", ["x"], units=2)), ("cycle through node a",), "a"),
    "dangling input": Case(only_model(X2, node("h", "dense", ["ghost"], units=2)), ("node h", "'ghost'"), "h"),
    "duplicate ids": Case(only_model(X2, node("h", "dense", ["x"], units=2), node("h", "dense", ["x"], units=3)),
                          ("duplicate node id 'h'",), "h"),
    "bad id pattern": Case(only_model(X2, node("Conv-1", "dense", ["x"], units=2)), ("Conv-1", "id", "pattern"),
                           "Conv-1"),
    "reserved id": Case(only_model(X2, node("eval", "dense", ["x"], units=2)), ("'eval'", "reserved"), "eval"),
    "unknown type": Case(only_model(X2, node("h", "transformer_xl", ["x"])), ("node h", "unknown layer type"), "h"),
    "dense with two inputs": Case(only_model(X2, node("h", "dense", ["x", "x"], units=2)),
                                  ("node h (Dense)", "exactly 1", "got 2"), "h"),
    "add with one input": Case(only_model(X2, node("s", "add", ["x"])), ("node s (Add)", "2 to 8", "got 1"), "s"),
    "input with an input": Case(only_model(X2, node("y", "input", ["x"], shape=[2])), ("node y (Input)", "got 1"),
                                "y"),
    "outputs name a missing node": Case(only_model(X2, node("h", "dense", ["x"], units=2), outputs=["nope"]),
                                        ("model.outputs", "'nope'")),
    "empty node list": Case({"model": {"nodes": []}}, ("model.nodes",)),
    # ---- caps ---------------------------------------------------------------------------------------------
    "too many nodes": Case(chain(65), ("65 nodes", "max_nodes"), cap="max_nodes"),
    "too many params": Case(only_model(node("x", "input", shape=[4096]), node("big", "dense", ["x"], units=4096)),
                            ("max_params", "16,781,312", "big"), "big", "max_params"),
    "node list bomb": Case(chain(100_000), ("100000 nodes", "max_nodes"), cap="max_nodes"),
    "dense 10^6 units": Case(only_model(X2, node("h", "dense", ["x"], units=10**6)),
                             ("node h (Dense): params.units", "8192"), "h"),
    "10^4 heads": Case(only_model(node("x", "input", shape=[8, 16]),
                                  node("mhsa", "multihead_self_attention", ["x"], num_heads=10**4)),
                       ("node mhsa", "params.num_heads", "16"), "mhsa"),
    "epochs 10^9": Case(with_data(mlp(), epochs=10**9), ("train.epochs",), cap="max_epochs"),
    "overflowing float": Case(with_data(mlp(), weight_decay=1e309), ("train.weight_decay", "finite")),
    "step memory": Case(only_model(node("x", "input", shape=[3, 128, 128]),
                                   node("conv1", "conv2d", ["x"], filters=512)),
                        ("max_step_memory_bytes", "MiB"), cap="max_step_memory_bytes"),
    "sequence too long": Case(only_model(node("x", "input", shape=[600], dtype="long"),
                                         node("emb", "embedding", ["x"])), ("length 600", "max_seq_len"), "x",
                              "max_seq_len"),
    "batch over schema bound": Case(with_data(mlp(), batch_size=513), ("train.batch_size", "512"), cap="max_batch"),
    "batch over deployment cap": Case(with_data(mlp(), batch_size=128), ("batch_size is 128", "max_batch"),
                                      cap="max_batch", limits=Limits(max_batch=64)),
    "epochs over schema bound": Case(with_data(mlp(), epochs=51), ("train.epochs", "50"), cap="max_epochs"),
    "epochs over deployment cap": Case(with_data(mlp(), epochs=10), ("epochs is 10", "max_epochs"),
                                       cap="max_epochs", limits=Limits(max_epochs=5)),
    "total steps": Case(with_data(mlp(features=784), "mnist5k", batch_size=1, epochs=10),
                        ("40,000", "max_total_steps"), cap="max_total_steps",
                        limits=Limits()),
    "max_steps over cap": Case(with_data(mlp(), max_steps=200), ("max_steps is 200", "max_total_steps"),
                               cap="max_total_steps", limits=Limits(max_total_steps=100)),
    "flops per job": Case(with_data(mlp()), ("FLOPs", "max_flops_per_job"), cap="max_flops_per_job",
                          limits=Limits(max_flops_per_job=1e6)),
    "json depth": Case(set_in(only_model(X2), ["model", "nodes", 0, "params", "shape"], nested(40)),
                       ("max_json_depth",), cap="max_json_depth"),
    "absurd json depth": Case({"model": nested(40_000)}, ("max_json_depth",), cap="max_json_depth"),
    # ---- types and values ---------------------------------------------------------------------------------
    "string where a number belongs": Case(only_model(X2, node("h", "dense", ["x"], units="16")),
                                          ("node h (Dense)", "params.units", "integer"), "h"),
    "bool where an int belongs": Case(only_model(X2, node("h", "dense", ["x"], units=True)),
                                      ("node h", "params.units", "integer"), "h"),
    "float where an int belongs": Case(only_model(X2, node("h", "dense", ["x"], units=3.5)),
                                       ("node h", "params.units"), "h"),
    "param over its bound": Case(only_model(node("x", "input", shape=[1, 8, 8]),
                                            node("conv1", "conv2d", ["x"], kernel_size=13)),
                                 ("node conv1 (Conv2d): params.kernel_size", "less than or equal to 11"), "conv1"),
    "negative size": Case(only_model(X2, node("h", "dense", ["x"], units=-4)), ("node h", "params.units"), "h"),
    "huge integer": Case(only_model(X2, node("h", "dense", ["x"], units=10**30)), ("node h", "params.units"), "h"),
    "NaN learning rate": Case(set_in(BASE_JOB, ["train", "optimizer"], {"lr": float("nan")}),
                              ("train.optimizer.lr", "finite")),
    "infinite dropout": Case(only_model(X2, node("d", "dropout", ["x"], p=float("inf"))),
                             ("model.nodes[1].params.p", "finite")),
    "unknown param key": Case(only_model(X2, node("h", "dense", ["x"], units=4, activation="relu")),
                              ("node h", "params.activation", "Extra inputs"), "h"),
    "unknown top-level key": Case({**BASE_JOB, "code": "print(1)"}, ("code", "Extra inputs")),
    "unknown node key": Case(set_in(only_model(X2), ["model", "nodes", 0, "module"], "builtins"),
                             ("node x (Input)", "module", "Extra inputs"), "x"),
    "not an object": Case(["model"], ("JSON object",)),
    # ---- data-set fit -------------------------------------------------------------------------------------
    "input shape differs from field": Case(with_data(mlp(features=3)), ("node x (Input)", "vector [3]",
                                                                       "field 'x'", "spiral", "vector [2]"), "x"),
    "field missing from data set": Case(with_data(model(node("pixels", "input", shape=[2], field="pixels"),
                                                        node("out", "dense", ["pixels"], units=2))),
                                        ("node pixels", "'pixels'", "spiral"), "pixels"),
    "classes differ": Case(with_data(mlp(classes=3)), ("output node out", "2 classes", "vector [2]"), "out"),
    "regression with cross entropy": Case(with_data(mlp(classes=1), "plane", loss="cross_entropy"),
                                          ("loss cross_entropy", "plane", "regression")),
    "regression width": Case(with_data(mlp(classes=2), "plane"), ("output node out", "vector [1]"), "out"),
    "seq2seq vocabulary": Case(with_data(set_in(seq2seq_attention(), ["nodes", 8, "params", "units"], 12),
                                         "reverse"), ("output node logits", "13 tokens", "[11,13]"), "logits"),
    "seq2seq with mse": Case(with_data(seq2seq_attention(), "reverse", loss="mse"), ("loss mse", "seq2seq")),
    "autoencoder output shape": Case(with_data(set_in(autoencoder(), ["nodes", 8, "params", "shape"], [64]),
                                               "digits", target="input"),
                                     ("output node recon", "train.target 'input'", "image [1,8,8]"), "recon"),
    "embedding smaller than vocabulary": Case(
        with_data(model(node("x", "input", shape=[13], dtype="long"),
                        node("emb", "embedding", ["x"], num_embeddings=20, embedding_dim=8),
                        node("rnn", "gru", ["emb"], hidden_size=8), node("out", "dense", ["rnn"], units=2)),
                  "sentiment"), ("node emb", "num_embeddings=20", "65"), "emb"),
    "probe names a missing node": Case({**BASE_JOB, "probes": {"nodes": ["h1", "ghost"]}},
                                       ("probes.nodes", "'ghost'")),
    "freeze names a missing node": Case(
        with_data(mlp(), pretrain={"data": {"dataset": "moons"}, "freeze": ["ghost"]}),
        ("train.pretrain.freeze", "'ghost'")),
}

CODE_LIKE = ["os.system", "__import__('os')", "lambda x: x", "torch.nn.Module", "eval", "__class__",
             "builtins.exec", "subprocess.Popen", "gASVAAAAAAAAAACMBXBvc2l4lIwGc3lzdGVtlJOULg=="]
CODE_CASES: dict[str, Case] = {}
for text in CODE_LIKE:
    CODE_CASES[f"type={text}"] = Case(only_model(X2, node("h", text, ["x"])), ("node h", "unknown layer type"), "h")
    CODE_CASES[f"activation={text}"] = Case(only_model(X2, node("a", "activation", ["x"], fn=text)),
                                            ("node a (Activation): params.fn",), "a")
    CODE_CASES[f"optimizer={text}"] = Case(set_in(BASE_JOB, ["train", "optimizer"], {"name": text}),
                                           ("train.optimizer.name",))
    CODE_CASES[f"dataset={text}"] = Case(set_in(BASE_JOB, ["data", "dataset"], text), ("data.dataset",))
KERAS = {"class_name": "__lambda__", "config": {"function": "os.system"}}
CODE_CASES.update({
    "type=keras lambda": Case(only_model(X2, {"id": "h", "type": KERAS, "inputs": ["x"]}), ("node h", "type"), "h"),
    "activation=keras lambda": Case(only_model(X2, node("a", "activation", ["x"], fn=KERAS)), ("params.fn",), "a"),
    "optimizer=keras lambda": Case(set_in(BASE_JOB, ["train", "optimizer"], KERAS), ("train.optimizer",)),
    "dataset=keras lambda": Case(set_in(BASE_JOB, ["data"], KERAS), ("data",)),
    "loss=code": Case(set_in(BASE_JOB, ["train", "loss"], "torch.nn.MSELoss"), ("train.loss",)),
    "$ref key": Case(set_in(BASE_JOB, ["data", "$ref"], "file:///etc/passwd"), ("data", "URL")),
    "url in name": Case({**BASE_JOB, "name": "see http://169.254.169.254/latest"}, ("name", "URL")),
    "url in input field": Case(only_model(node("x", "input", shape=[2], field="https://evil.example/x.csv")),
                               ("model.nodes[0].params.field", "URL")),
    "file uri as type": Case(only_model(X2, node("h", "file:///tmp/evil.py", ["x"])), ("model.nodes[1].type", "URL")),
})


def check(case: Case) -> SpecError:
    with pytest.raises(SpecError) as info:
        validate_request(case.body, case.limits)
    err = info.value
    for text in case.says:
        assert text in err.message, f"{text!r} not in {err.message!r}"
    if case.node_id is not None:
        assert err.node_id == case.node_id, err.to_json()
    if case.cap is not None:
        assert err.cap == case.cap, err.to_json()
    assert err.to_json()["message"] == err.message
    return err


def test_enough_cases() -> None:
    assert len(CASES) >= 35 and len(CODE_CASES) >= 20


@pytest.mark.parametrize("name", list(CASES))
def test_invalid_spec(name: str) -> None:
    check(CASES[name])


@pytest.mark.parametrize("name", list(CODE_CASES))
def test_code_like_spec_is_refused(name: str) -> None:
    check(CODE_CASES[name])


def test_limits_can_be_tightened_per_deployment() -> None:
    body = only_model(X2, node("h", "dense", ["x"], units=64), node("out", "dense", ["h"], units=2))
    validate_request(body, LIMITS)
    err = check(Case(body, ("max_params", "322"), "h", "max_params", Limits(max_params=100)))
    assert "max_params is 100" in err.message
    check(Case(body, ("3 nodes", "max_nodes"), cap="max_nodes", limits=Limits(max_nodes=2)))


def test_first_problem_wins_in_topological_order() -> None:
    """Two bad nodes: the error names the one that comes first when walking the DAG, not in list order."""
    body = only_model(node("late", "dense", ["early"], units="x"), node("early", "conv2d", ["x"]),
                      node("x", "input", shape=[4]))
    err = check(Case(body, ("node early",), "early"))
    assert err.loc == ["model", "nodes", 1]


EVENTS = ("exec", "compile", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "subprocess.Popen", "import",
          "ctypes.dlopen", "socket.connect", "open")


def test_validating_code_like_specs_runs_no_code() -> None:
    seen: list[str] = []
    recording = False

    def hook(event: str, args: tuple) -> None:
        if recording and event.startswith(EVENTS):
            seen.append(f"{event}: {str(args)[:120]}")

    # Warm up every path once (lazy imports happen here, before recording).
    validate_request(BASE_JOB, LIMITS)
    for warm in ("dense on token ids", "string where a number belongs", "probe names a missing node"):
        check(CASES[warm])
    modules_before = set(sys.modules)
    sys.addaudithook(hook)  # audit hooks cannot be removed: this one only records while `recording` is set
    recording = True
    try:
        compile("1 + 1", "<self-check>", "eval")  # the recorder does see such events
        assert seen and seen[0].startswith("compile")
        seen.clear()
        for case in CODE_CASES.values():
            check(case)
    finally:
        recording = False
    assert seen == []
    assert set(sys.modules) - modules_before == set()
