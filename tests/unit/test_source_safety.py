"""Static scan of the package source (AST): no pickle-family imports, no eval/exec, no torch.load without a
literal weights_only=True, no numpy.load(allow_pickle=True) or yaml.load, and the job pipes carry bytes only."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "backend" / "layerlab"
PICKLE_FAMILY = {"pickle", "cPickle", "_pickle", "cloudpickle", "dill", "joblib", "shelve", "marshal", "jsonpickle"}
SOURCES = sorted(PACKAGE.rglob("*.py"))


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def problems(source: str, path: str, *, bytes_only_pipes: bool = False) -> list[str]:
    found: list[str] = []
    for node in ast.walk(ast.parse(source, path)):
        where = f"{path}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Import):
            found += [f"{where} imports {a.name}" for a in node.names if a.name.split(".")[0] in PICKLE_FAMILY]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in PICKLE_FAMILY:
            found.append(f"{where} imports from {node.module}")
        elif isinstance(node, ast.Call):
            name = _dotted(node.func)
            if name in ("eval", "exec", "builtins.eval", "builtins.exec"):
                found.append(f"{where} calls {name}")
            elif name.endswith("torch.load"):
                weights_only = _keyword(node, "weights_only")
                if not (isinstance(weights_only, ast.Constant) and weights_only.value is True):
                    found.append(f"{where} calls torch.load without weights_only=True")
            elif name in ("np.load", "numpy.load"):
                allow = _keyword(node, "allow_pickle")
                if allow is not None and not (isinstance(allow, ast.Constant) and allow.value is False):
                    found.append(f"{where} calls {name} with allow_pickle")
            elif name == "yaml.load" and _dotted(_keyword(node, "Loader") or ast.Name("")) != "yaml.SafeLoader":
                found.append(f"{where} calls yaml.load without SafeLoader")
            elif bytes_only_pipes and isinstance(node.func, ast.Attribute) and node.func.attr in ("send", "recv"):
                found.append(f"{where} calls .{node.func.attr}() (pickles); use send_bytes/recv_bytes")
    return found


def test_the_scanner_catches_what_it_looks_for() -> None:
    bad = (
        "import pickle\nfrom cloudpickle import dumps\nimport joblib\n"
        "eval('1')\nexec('x = 1')\ntorch.load('w.pt')\ntorch.load('w.pt', weights_only=False)\n"
        "np.load('a.npy', allow_pickle=True)\nyaml.load(text)\nconn.send({'a': 1})\n"
    )
    found = problems(bad, "bad.py", bytes_only_pipes=True)
    assert len(found) == 10, found
    good = "torch.load('w.pt', weights_only=True)\nnp.load('a.npy')\nconn.send_bytes(b'x')\nliteral_eval('1')\n"
    assert problems(good, "good.py", bytes_only_pipes=True) == []


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_package_source_is_free_of_unsafe_deserialisation_and_eval(path: Path) -> None:
    relative = path.relative_to(PACKAGE)
    assert problems(path.read_text(), str(relative), bytes_only_pipes=relative.parts[0] == "jobs") == []


def test_the_scan_covers_the_whole_package() -> None:
    names = {str(p.relative_to(PACKAGE)) for p in SOURCES}
    assert {"jobs/worker.py", "jobs/executors/local.py", "training/run.py", "app.py"} <= names
