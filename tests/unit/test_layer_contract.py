"""The contract every registered layer kind keeps: its rules agree with the module it builds.

Parametrised over `LAYERS`, so a newly registered kind is covered without touching this file; a few
extra cases cover other parameter settings and input ranks through the same checks.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from typing import Any

import pytest
import torch
from pydantic import ValidationError
from torch import nn

import layerlab.catalogue.layers  # noqa: F401  (registers every kind)
from layerlab.catalogue.base import LAYERS, LayerKind
from layerlab.catalogue.errors import ShapeMismatch
from layerlab.catalogue.shapes import TensorShape
from layerlab.training import modules

torch.set_num_threads(1)

SECTIONS = {"9.1", "9.2", "9.3.1", "9.3.2", "9.3.3", "9.4", "9.5"}
GROUPS = {"core", "regularisation", "conv", "norm", "sequence", "attention", "merge"}
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def s(*dims: int, dtype: str = "float") -> TensorShape:
    return TensorShape(tuple(dims), dtype)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Case:
    type: str
    params: dict[str, Any]
    inputs: tuple[TensorShape, ...]

    @property
    def kind(self) -> LayerKind[Any]:
        return LAYERS[self.type]

    def id(self) -> str:
        extra = ",".join(f"{k}={v}" for k, v in self.params.items())
        ins = "+".join(x.describe().replace(" ", "") for x in self.inputs)
        return f"{self.type}({extra})[{ins}]"


# Other settings and ranks, checked like the defaults.
EXTRA: list[tuple[str, dict[str, Any], tuple[TensorShape, ...]]] = [
    ("input", {"shape": [12], "dtype": "long"}, ()),
    ("input", {"shape": [1, 8, 8]}, ()),
    ("dense", {"units": 5, "bias": False}, (s(7, 3),)),
    *[("activation", {"fn": fn}, (s(3, 5),)) for fn in ("tanh", "sigmoid", "leaky_relu", "elu", "gelu", "softmax")],
    ("dropout", {"p": 0.3, "mode": "scale_at_inference"}, (s(2, 3, 3),)),
    ("flatten", {}, (s(9, dtype="long"),)),
    ("reshape", {"shape": [1, 4, 4]}, (s(16),)),
    ("reshape", {"shape": [3, -1]}, (s(2, 6),)),
    ("add", {}, (s(2, 3, 3), s(2, 3, 3), s(2, 3, 3))),
    ("concat", {"axis": 0}, (s(2, 4), s(3, 4))),
    ("concat", {"axis": 0}, (s(1, 5, 5), s(3, 5, 5))),
    ("concat", {}, (s(4), s(2), s(3))),
    ("conv1d", {"filters": 3, "kernel_size": 5, "stride": 2, "padding": 0}, (s(12, 2),)),
    ("conv2d", {"filters": 4, "kernel_size": 5, "stride": 2, "padding": 0}, (s(1, 9, 11),)),
    ("fixed_filter2d", {"filter": "mean"}, (s(3, 5, 7),)),
    ("fixed_filter2d", {"filter": "edge_horizontal"}, (s(2, 4, 4),)),
    ("maxpool2d", {"kernel_size": 3, "stride": 1}, (s(2, 5, 6),)),
    ("avgpool2d", {"kernel_size": 3}, (s(1, 7, 8),)),
    ("batchnorm", {}, (s(6),)),
    ("batchnorm", {"momentum": 0.5}, (s(5, 3),)),
    ("layernorm", {}, (s(7),)),
    ("embedding", {"num_embeddings": 5, "embedding_dim": 3, "padding_idx": 0}, (s(4, dtype="long"),)),
    ("rnn", {"nonlinearity": "relu", "return_sequences": True}, (s(5, 2),)),
    ("rnn", {"num_layers": 3, "bidirectional": True}, (s(5, 2),)),
    ("lstm", {"hidden_size": 5, "num_layers": 2, "bidirectional": True, "return_sequences": True}, (s(4, 3),)),
    ("lstm", {"hidden_size": 5, "num_layers": 2, "bidirectional": True}, (s(4, 3),)),
    ("gru", {"hidden_size": 4, "num_layers": 2, "return_sequences": True}, (s(6, 2),)),
    ("gru", {"bidirectional": True}, (s(1, 2),)),
    ("attention", {"kind": "dot"}, (s(3, 6), s(9, 6))),
    ("attention", {"attention_dim": 4}, (s(1, 2), s(5, 3))),
    ("multihead_self_attention", {"num_heads": 4, "causal": True}, (s(3, 8),)),
    ("multihead_self_attention", {"num_heads": 1}, (s(1, 3),)),
    ("positional_encoding", {}, (s(512, 7),)),
    ("transformer_encoder_block", {"num_heads": 4, "ff_dim": 16, "dropout": 0.0, "norm_first": False}, (s(3, 12),)),
    ("transformer_decoder_block", {"num_heads": 2, "ff_dim": 8}, (s(4, 6), s(7, 10))),
    ("transformer_decoder_block", {"norm_first": False}, (s(4, 8), s(2, 8))),
    ("bahdanau_decoder", {"cell": "lstm", "hidden_size": 5, "attention_dim": 3}, (s(3, 2), s(6, 4))),
]


def _cases() -> list[Case]:
    out = [Case(t, {}, tuple(k.example_inputs)) for t, k in sorted(LAYERS.items())]
    out += [Case(t, p, ins) for t, p, ins in EXTRA if t in LAYERS]
    return out


CASES = _cases()
IDS = [c.id() for c in CASES]


def _params(case: Case) -> Any:
    return case.kind.params_model.model_validate(case.params)


def _build(case: Case) -> tuple[nn.Module, TensorShape, Any]:
    p = _params(case)
    ins = list(case.inputs)
    out = case.kind.shape(p, ins)
    built = case.kind.construct(p, ins)
    assert built is not None
    return built.factory(**built.kwargs), out, p


def _batch(shape: TensorShape, n: int = 2) -> torch.Tensor:
    if shape.dtype == "long":
        return torch.randint(0, 2, (n, *shape.dims))
    return torch.randn(n, *shape.dims, requires_grad=True)


def _forward(case: Case, module: nn.Module, out: TensorShape) -> tuple[list[torch.Tensor], torch.Tensor]:
    # An input node has no upstream: it receives a batch of its own declared shape.
    xs = [_batch(x) for x in case.inputs] if case.inputs else [_batch(out)]
    return xs, module(*xs)


def _trainable(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def test_the_catalogue_has_every_design_kind() -> None:
    wanted = {
        "input", "dense", "activation", "dropout", "flatten", "reshape", "add", "concat",
        "conv1d", "conv2d", "fixed_filter2d", "maxpool2d", "avgpool2d", "batchnorm", "layernorm",
        "embedding", "rnn", "lstm", "gru", "attention", "multihead_self_attention", "positional_encoding",
        "transformer_encoder_block", "transformer_decoder_block", "bahdanau_decoder",
    }
    assert wanted <= set(LAYERS)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_shape_rule_matches_a_real_forward(case: Case) -> None:
    module, out, _ = _build(case)
    _, y = _forward(case, module, out)
    assert tuple(y.shape) == (2, *out.dims)
    assert (out.dtype == "float") == y.is_floating_point()


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_cost_rule_counts_the_real_parameters(case: Case) -> None:
    module, out, p = _build(case)
    cost = case.kind.cost(p, list(case.inputs), out)
    assert cost.params == _trainable(module)
    assert isinstance(cost.flops, int) and cost.flops >= 0


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_meta_device_build_has_the_same_parameter_count(case: Case) -> None:
    p = _params(case)
    built = case.kind.construct(p, list(case.inputs))
    assert built is not None
    with torch.device("meta"):
        meta = built.factory(**built.kwargs)
    assert all(t.device.type == "meta" for t in meta.parameters())
    out = case.kind.shape(p, list(case.inputs))
    assert _trainable(meta) == case.kind.cost(p, list(case.inputs), out).params


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_backward_gives_finite_gradients(case: Case) -> None:
    module, out, _ = _build(case)
    xs, y = _forward(case, module, out)
    if not y.requires_grad:
        assert out.dtype == "long" and _trainable(module) == 0
        return
    (y * torch.randn_like(y)).sum().backward()
    grads = [t.grad for t in xs if t.requires_grad] + [q.grad for q in module.parameters() if q.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_construct_kwargs_are_printable_literals(case: Case) -> None:
    built = case.kind.construct(_params(case), list(case.inputs))
    assert built is not None
    assert ast.literal_eval(repr(built.kwargs)) == built.kwargs
    # The same rule model.py export uses: a torch.nn class by its nn name, or a class of training/modules.py.
    name = built.factory.__name__
    assert getattr(nn, name, None) is built.factory or getattr(modules, name, None) is built.factory


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_params_round_trip_through_json(case: Case) -> None:
    model = case.kind.params_model
    p = _params(case)
    assert model.model_validate_json(p.model_dump_json()) == p
    assert model.model_validate(json.loads(json.dumps(p.model_dump(mode="json")))) == p


@pytest.mark.parametrize("type_", sorted(LAYERS))
def test_declaration_is_complete_and_serialisable(type_: str) -> None:
    kind = LAYERS[type_]
    doc = json.loads(json.dumps(kind.to_json()))
    assert doc["type"] == type_ and doc["defaults"] is not None
    assert kind.section in SECTIONS and kind.group in GROUPS
    for text in (kind.title, kind.description):
        assert text.en.strip() and JAPANESE.search(text.ja)
    assert len(kind.description.en) > 40
    n = len(kind.example_inputs)
    assert kind.min_inputs <= n and (kind.max_inputs is None or n <= kind.max_inputs)
    assert n > 0 or kind.max_inputs == 0


def _mismatch(type_: str, params: dict[str, Any], ins: list[TensorShape]) -> str:
    kind = LAYERS[type_]
    with pytest.raises(ShapeMismatch) as err:
        kind.shape(kind.params_model.model_validate(params), ins)
    return str(err.value)


SHAPE_ERRORS: list[tuple[str, dict[str, Any], list[TensorShape], str]] = [
    ("dense", {}, [s(5, dtype="long")], "expects a float tensor [..., F], got token ids [5]"),
    ("activation", {}, [s(5, dtype="long")], "got token ids [5]"),
    ("reshape", {"shape": [3, 3]}, [s(8)], "expects 9 elements to reshape to [3,3], got vector [8] (8 elements)"),
    ("reshape", {"shape": [3, -1]}, [s(8)], "divisible by 3"),
    ("add", {}, [s(8), s(4)], "expects every input shaped like the first, vector [8], got vector [4]"),
    ("concat", {}, [s(5, 4), s(6, 4)], "except along axis -1, got sequence [6,4]"),
    ("concat", {"axis": 2}, [s(4), s(4)], "expects inputs with an axis 2, got vector [4]"),
    ("conv2d", {}, [s(64)], "expects an image [C,H,W], got vector [64]"),
    ("conv2d", {"kernel_size": 5, "padding": 0}, [s(1, 4, 8)], "expects a height of at least 5 for kernel 5"),
    ("conv1d", {}, [s(1, 8, 8)], "expects a sequence [T,F], got image [1,8,8]"),
    ("maxpool2d", {"kernel_size": 3}, [s(1, 2, 8)], "got image [1,2,8]"),
    ("fixed_filter2d", {}, [s(5, 4)], "expects an image [C,H,W], got sequence [5,4]"),
    ("batchnorm", {}, [s(4, dtype="long")], "expects a vector [F], a sequence [T,F] or an image [C,H,W]"),
    ("embedding", {}, [s(5, 3)], "expects token ids [T] (dtype long), got sequence [5,3]"),
    ("lstm", {}, [s(12, dtype="long")], "expects a sequence [T,F], got token ids [12]"),
    ("gru", {}, [s(1, 28, 28)], "expects a sequence [T,F], got image [1,28,28]"),
    ("attention", {"kind": "dot"}, [s(4, 8), s(6, 5)], "expects keys/values of width 8 like the queries"),
    ("attention", {}, [s(8), s(6, 5)], "expects queries as a sequence [T',H], got vector [8]"),
    ("multihead_self_attention", {"num_heads": 3}, [s(5, 8)], "with D divisible by num_heads=3, got sequence [5,8]"),
    ("positional_encoding", {}, [s(513, 4)], "expects a sequence of at most 512 steps, got sequence [513,4]"),
    ("transformer_encoder_block", {}, [s(9, dtype="long")], "expects a sequence [T,F], got token ids [9]"),
    ("transformer_decoder_block", {}, [s(4, 8), s(8)], "expects an encoder memory as a sequence [S,M], got vector"),
    ("bahdanau_decoder", {}, [s(4, dtype="long"), s(6, 8)], "expects decoder inputs as a sequence [T',E], got token"),
]


@pytest.mark.parametrize(("type_", "params", "ins", "message"), SHAPE_ERRORS, ids=[e[3] for e in SHAPE_ERRORS])
def test_shape_errors_say_what_was_expected_and_got(
    type_: str, params: dict[str, Any], ins: list[TensorShape], message: str
) -> None:
    assert type_ in LAYERS, f"{type_} is not registered in the catalogue"
    assert message in _mismatch(type_, params, ins)


def test_params_refuse_unknown_keys_and_out_of_range_values() -> None:
    with pytest.raises(ValidationError):
        LAYERS["dense"].params_model.model_validate({"units": 8, "activation": "relu"})
    with pytest.raises(ValidationError):
        LAYERS["dense"].params_model.model_validate({"units": 100_000})
    with pytest.raises(ValidationError):
        LAYERS["dropout"].params_model.model_validate({"p": 1.0})
    with pytest.raises(ValidationError):
        LAYERS["reshape"].params_model.model_validate({"shape": [-1, -1]})
    with pytest.raises(ValidationError):
        LAYERS["activation"].params_model.model_validate({"fn": "__import__"})
    with pytest.raises(ValidationError):
        LAYERS["embedding"].params_model.model_validate({"num_embeddings": 10, "padding_idx": 10})
    with pytest.raises(ValidationError):
        LAYERS["lstm"].params_model.model_validate({"num_layers": 5})
    with pytest.raises(ValidationError):
        LAYERS["rnn"].params_model.model_validate({"hidden_size": "32"})
