"""model.py export: the generated file runs with only torch (layerlab blocked), loads the job's safetensors
weights into the same state_dict keys, and gives the same outputs as the in-process GraphModule."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import graph_specs as g
import pytest
import torch
from safetensors.torch import load_file, save_file

from layerlab.catalogue.base import LAYERS
from layerlab.catalogue.spec import ModelSpec
from layerlab.training.build import build_model, count_parameters
from layerlab.training.export_py import model_py, variable_names

torch.set_num_threads(1)

SPECS = {
    "mlp": g.mlp(),
    "cnn": g.cnn(side=28),
    "seq2seq_attention": g.seq2seq_attention("additive"),
    "transformer": g.transformer(blocks=2),
    "autoencoder": g.autoencoder(),
    "bigru_keyword_ids": g.model(
        g.node("x", "input", shape=[13], dtype="long"),
        g.node("lambda", "embedding", ["x"], num_embeddings=32, embedding_dim=8),
        g.node("if", "gru", ["lambda"], hidden_size=8, bidirectional=True, return_sequences=True),
        g.node("if_", "layernorm", ["if"]),
        g.node("self", "flatten", ["if_"]),
        g.node("class", "dense", ["self"], units=3)),
    "decoder_with_memory": g.model(
        g.node("src", "input", shape=[10], dtype="long"),
        g.node("src_emb", "embedding", ["src"], num_embeddings=g.VOCAB, embedding_dim=16),
        g.node("memory", "transformer_encoder_block", ["src_emb"], num_heads=2, ff_dim=32, dropout=0.0),
        g.node("tgt_in", "input", shape=[11], dtype="long"),
        g.node("tgt_emb", "embedding", ["tgt_in"], num_embeddings=g.VOCAB, embedding_dim=16),
        g.node("tgt_pos", "positional_encoding", ["tgt_emb"]),
        g.node("decoder", "transformer_decoder_block", ["tgt_pos", "memory"], num_heads=2, ff_dim=32, dropout=0.0),
        g.node("logits", "dense", ["decoder"], units=g.VOCAB)),
}



def registry_specs() -> dict[str, dict]:
    """One small model per registered layer kind (its example inputs feeding it), so a new kind is exported too."""
    out = {}
    for kind_type, kind in sorted(LAYERS.items()):
        if not kind.example_inputs:
            continue
        inputs = [g.node(f"in{i}", "input", shape=list(s.dims), dtype=s.dtype)
                  for i, s in enumerate(kind.example_inputs)]
        out[f"kind_{kind_type}"] = g.model(*inputs, g.node("layer", kind_type, [n["id"] for n in inputs]))
    return out


SPECS.update(registry_specs())

# Runs with -I (no script dir, no user site) and an import blocker, so model.py cannot lean on layerlab.
RUNNER = r"""
import importlib.abc, importlib.util, json, sys

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "layerlab" or name.startswith("layerlab."):
            raise ImportError("layerlab must not be needed by model.py")
        return None

sys.meta_path.insert(0, Block())
import torch
from safetensors.torch import load_file, save_file
torch.set_num_threads(1)

results = {}
for folder in sys.argv[1:]:
    spec = importlib.util.spec_from_file_location("exported_model", folder + "/model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.Model()
    model.load_state_dict(load_file(folder + "/weights.safetensors"), strict=True)
    model.eval()
    inputs = load_file(folder + "/inputs.safetensors")
    with torch.no_grad():
        out = model(*[inputs[f"in{i}"] for i in range(len(inputs))])
        example = model(*model.example_inputs(batch=3))
    save_file({"out": out.contiguous()}, folder + "/out.safetensors")
    results[folder] = {
        "params": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "keys": sorted(model.state_dict()),
        "example_shape": list(example.shape),
        "layerlab_loaded": any(m == "layerlab" or m.startswith("layerlab.") for m in sys.modules),
    }
print(json.dumps(results))
"""


def fixed_inputs(net: torch.nn.Module, spec: ModelSpec) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    shapes = {n.id: n.params for n in spec.nodes if n.type == "input"}
    out = []
    for node_id in net.input_ids:
        params = shapes[node_id]
        shape = (4, *params["shape"])
        if params.get("dtype") == "long":
            out.append(torch.randint(0, g.VOCAB, shape, generator=gen))
        else:
            out.append(torch.rand(shape, generator=gen))
    return out


def test_exported_models_match_in_process_modules(tmp_path: Path) -> None:
    expected = {}
    folders = []
    for name, body in SPECS.items():
        spec = ModelSpec.model_validate(body)
        torch.manual_seed(0)
        net = build_model(spec).eval()
        with torch.no_grad():  # make BatchNorm running statistics non-trivial, as after training
            net.train()(*fixed_inputs(net, spec))
            net.eval()
        inputs = fixed_inputs(net, spec)
        folder = tmp_path / name
        folder.mkdir()
        (folder / "model.py").write_text(model_py(spec))
        save_file({k: v.contiguous() for k, v in net.state_dict().items()}, folder / "weights.safetensors")
        save_file({f"in{i}": t for i, t in enumerate(inputs)}, folder / "inputs.safetensors")
        with torch.no_grad():
            expected[str(folder)] = (net(*inputs), count_parameters(net), sorted(net.state_dict()))
        folders.append(str(folder))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")} | {"OMP_NUM_THREADS": "1"}
    run = subprocess.run([sys.executable, "-I", "-c", RUNNER, *folders], capture_output=True, text=True,
                         cwd=tmp_path, env=env, timeout=240)
    assert run.returncode == 0, run.stderr[-3000:]
    results = json.loads(run.stdout.strip().splitlines()[-1])
    for folder in folders:
        out, params, keys = expected[folder]
        got = results[folder]
        assert got["params"] == params, folder
        assert got["keys"] == keys, folder
        assert not got["layerlab_loaded"], folder
        assert got["example_shape"][0] == 3
        exported = load_file(Path(folder) / "out.safetensors")["out"]
        assert exported.shape == out.shape, folder
        assert torch.allclose(exported, out, atol=1e-5, rtol=1e-4), folder


@pytest.mark.parametrize("name", list(SPECS))
def test_model_py_imports_only_torch_and_stdlib_math(name: str) -> None:
    source = model_py(ModelSpec.model_validate(SPECS[name]))
    tree = ast.parse(source)
    imported = set()
    for stmt in ast.walk(tree):
        if isinstance(stmt, ast.Import):
            imported |= {a.name.split(".")[0] for a in stmt.names}
        elif isinstance(stmt, ast.ImportFrom):
            imported.add((stmt.module or "").split(".")[0])
    assert imported <= {"__future__", "math", "torch"}, imported
    assert "class Model(nn.Module)" in source
    for node in SPECS[name]["nodes"]:
        assert f"self.layers[{node['id']!r}] = " in source


def test_forward_has_one_line_per_node() -> None:
    source = model_py(ModelSpec.model_validate(SPECS["seq2seq_attention"]))
    assert "attn = self.layers['attn'](decoder, encoder)" in source
    assert "joined = self.layers['joined'](decoder, attn)" in source
    assert "nn.Linear(in_features=64, out_features=13, bias=True)" in source


def test_variable_names_avoid_keywords_and_collisions() -> None:
    names = variable_names(["if", "if_", "self", "x", "class"])
    assert len(set(names.values())) == 5
    assert names["x"] == "x" and names["if_"] == "if_"
    assert all(n.isidentifier() and n not in ("if", "self", "class") for n in names.values())
