"""The playground's pure logic under Node (no browser): its own unit tests, and the wire contract with the server.

tests/e2e/js/*.test.mjs run with Node's test runner (graph editing, layout, share URLs, chart alignment, float16).
The contract test has the server's real encoder (streaming/protocol.py) write binary tensor frames and the
browser's decoder (frontend/js/jobs/frames.js) read them back: every value must come out as the server meant it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from layerlab.streaming.protocol import encode_tensor

REPO = Path(__file__).resolve().parents[2]
NODE = shutil.which("node")
ESM = "--experimental-default-type=module"  # frontend/ is plain ES modules without a package.json "type"

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed (.ci/run installs it)")


def test_frontend_unit_tests_pass() -> None:
    files = sorted(str(p) for p in (REPO / "tests" / "e2e" / "js").glob("*.test.mjs"))
    assert files
    r = subprocess.run([NODE, ESM, "--test", *files], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert "# fail 0" in r.stdout and "# pass 0" not in r.stdout


def test_browser_decoder_reads_the_servers_tensor_frames(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    probs = rng.random((2, 4, 4))
    cases = [
        ("float32", rng.normal(size=(3, 4)).astype(np.float32), None),
        ("float16", rng.normal(size=(2, 5)).astype(np.float16), None),
        ("uint8", np.round(probs * 255).astype(np.uint8), {"scale": 1 / 255, "extent": [-1, 1, -2, 2]}),
    ]
    for i, (dtype, array, meta) in enumerate(cases):
        frame = encode_tensor(40 + i, "decision_boundary", "out", 7, array, dtype, meta)
        (tmp_path / f"{i}.bin").write_bytes(frame.data)
    frames_js = (REPO / "frontend" / "js" / "jobs" / "frames.js").as_uri()
    script = f"""
        import {{ readFileSync }} from "node:fs";
        import {{ decodeBinary }} from "{frames_js}";
        const out = [];
        for (let i = 0; i < {len(cases)}; i++) {{
          const b = readFileSync("{tmp_path.as_posix()}/" + i + ".bin");
          const {{ header, values }} = decodeBinary(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
          out.push({{ header, values: Array.from(values) }});
        }}
        console.log(JSON.stringify(out));
    """
    r = subprocess.run([NODE, ESM, "--input-type=module", "-e", script], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr[-2000:]
    decoded = json.loads(r.stdout)
    for i, (dtype, array, meta) in enumerate(cases):
        header, values = decoded[i]["header"], np.array(decoded[i]["values"])
        assert header["seq"] == 40 + i and header["kind"] == "decision_boundary" and header["node"] == "out"
        assert header["shape"] == list(array.shape) and header["dtype"] == dtype
        expected = array.astype(np.float64).reshape(-1)
        if meta:
            assert header["extent"] == meta["extent"]
            expected = expected * meta["scale"]
        np.testing.assert_allclose(values, expected, rtol=1e-6, atol=1e-7)
