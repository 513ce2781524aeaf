"""docker-compose.yml and the Dockerfile: what they must say, then the api service's command run natively.

No Docker here: the compose file is parsed (PyYAML) and interpolated as Compose does (${VAR:-default},
${VAR:?error}, $$), the Dockerfile is read as text, and the api command is started as a plain process on a
free loopback port with the LAYERLAB_* environment the compose file gives it; /api/health must answer, and
so must the image's own HEALTHCHECK command.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from serverkit import REPO, free_port

pytestmark = pytest.mark.slow

COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
TOKEN = "compose-test-token-0123456789"
_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])((?:[^{}]|\{[^{}]*\})*))?\}")


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose variable substitution on every string of the parsed file."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def one(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name, op, arg = m.group(1), m.group(2), m.group(3) or ""
        current = env.get(name)
        unset_or_empty = not current if op and op.startswith(":") else current is None
        if op in (":-", "-") and unset_or_empty:
            return str(interpolate(arg, env))
        if op in (":?", "?") and unset_or_empty:
            raise ValueError(f"{name}: {arg}")
        return current or ""

    return _VAR.sub(one, value)


def compose(env: dict[str, str]) -> dict[str, Any]:
    return interpolate(yaml.safe_load(COMPOSE.read_text()), env)


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def test_compose_requires_an_api_token() -> None:
    with pytest.raises(ValueError, match="LAYERLAB_AUTH_TOKENS"):
        compose({})


def test_compose_services_ports_volumes_and_ray_profile() -> None:
    doc = compose({"LAYERLAB_AUTH_TOKENS": TOKEN})
    services = doc["services"]
    assert set(services) == {"api", "ray-head", "ray-gpu-worker"}
    api = services["api"]
    assert "profiles" not in api  # `docker compose up` starts it alone
    assert api["ports"] == ["127.0.0.1:8000:8000"]  # loopback unless LAYERLAB_PUBLISH says otherwise
    assert compose({"LAYERLAB_AUTH_TOKENS": TOKEN, "LAYERLAB_PUBLISH": "0.0.0.0:8000"}
                   )["services"]["api"]["ports"] == ["0.0.0.0:8000:8000"]
    assert "layerlab-data:/data" in api["volumes"] and "layerlab-data" in doc["volumes"]
    assert api.get("healthcheck", {}).get("disable") is not True  # the image's HEALTHCHECK applies
    env = api["environment"]
    assert env["LAYERLAB_AUTH_TOKENS"] == TOKEN and env["LAYERLAB_EXECUTOR"] == "local"
    assert env["RAY_AUTH_MODE"] == "token"

    for name in ("ray-head", "ray-gpu-worker"):
        service = services[name]
        assert service["profiles"] == ["ray"]
        assert "ports" not in service  # Ray stays on the compose network
        assert service["environment"]["RAY_AUTH_MODE"] == "token"
        assert service["build"]["args"]["INSTALL_RAY"] == "1"
    head = services["ray-head"]["command"]
    assert head[:3] == ["ray", "start", "--head"] and "--block" in head and "--port=6379" in head
    assert "--include-dashboard=false" in head and "--num-gpus=0" in head
    worker = services["ray-gpu-worker"]
    assert worker["build"]["args"]["VARIANT"] == "cuda"
    assert "--address=ray-head:6379" in worker["command"] and "--block" in worker["command"]
    devices = worker["deploy"]["resources"]["reservations"]["devices"]
    assert devices and devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]


def test_the_ray_profile_switches_the_api_to_the_ray_executor() -> None:
    doc = compose({"LAYERLAB_AUTH_TOKENS": TOKEN, "LAYERLAB_EXECUTOR": "ray", "LAYERLAB_INSTALL_RAY": "1",
                   "RAY_AUTH_TOKEN": "ray-token-0123456789"})
    api = doc["services"]["api"]
    assert api["environment"]["LAYERLAB_EXECUTOR"] == "ray"
    assert api["environment"]["LAYERLAB_RAY_ADDRESS"] == "auto"  # the node the command starts
    assert api["environment"]["RAY_AUTH_TOKEN"] == "ray-token-0123456789"
    assert api["build"]["args"]["INSTALL_RAY"] == "1"
    script = api["command"][-1]
    join = re.search(r'if \[ "\$LAYERLAB_EXECUTOR" = ray \]; then (.*?); fi', script)
    assert join, script
    words = shlex.split(join.group(1).replace("|| exit 1", ""))
    assert words[:3] == ["ray", "start", "--address=ray-head:6379"]
    assert "--num-cpus=0" in words and "--num-gpus=0" in words  # the API's node takes no jobs


def test_dockerfile_pins_torch_first_runs_as_non_root_and_checks_health() -> None:
    steps = dockerfile_instructions()
    args = {rest.split("=")[0]: rest.partition("=")[2] for kw, rest in steps if kw == "ARG"}
    assert args["VARIANT"] == "cpu" and args["INSTALL_RAY"] == "0"
    runs = [rest for kw, rest in steps if kw == "RUN"]
    install = next(r for r in runs if "torch==" in r)
    assert install.index('"torch==${TORCH_VERSION}"') < install.index("-r requirements.lock")
    assert "case \"$VARIANT\" in cpu|cuda)" in install and "download.pytorch.org/whl/cpu" in install
    assert "requirements-ray.lock" in install  # the Ray extra, when INSTALL_RAY=1
    users = [rest for kw, rest in steps if kw == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert any("useradd" in r and users[-1] in r for r in runs)
    health = next(rest for kw, rest in steps if kw == "HEALTHCHECK")
    assert "/api/health" in health
    assert ("VOLUME", '["/data"]') in steps


def test_the_api_command_serves_natively_and_the_healthcheck_passes(tmp_path: Path) -> None:
    """The compose api command, as written, on this machine: only the bind, port and data dir differ."""
    doc = compose({"LAYERLAB_AUTH_TOKENS": TOKEN})
    api = doc["services"]["api"]
    env = {k: str(v) for k, v in api["environment"].items()}
    port = free_port()
    argv = [part.replace("--host 0.0.0.0 --port 8000 --data-dir /data",
                         f"--host 127.0.0.1 --port {port} --data-dir {tmp_path / 'data'}") for part in api["command"]]
    assert f"--port {port}" in argv[-1]
    base = {k: v for k, v in os.environ.items() if not k.startswith(("LAYERLAB_", "RAY_"))}
    base["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{base.get('PATH', '')}"  # `layerlab` on PATH
    log = (tmp_path / "api.log").open("wb")
    process = subprocess.Popen(argv, env={**base, **env, "OMP_NUM_THREADS": "1"}, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    try:
        body = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2)
                if r.status_code == 200:
                    body = r.json()
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        assert body is not None, (tmp_path / "api.log").read_text(errors="replace")[-3000:]
        assert body["status"] == "ok" and body["executor"] == "local"
        assert httpx.get(f"http://127.0.0.1:{port}/api/jobs").status_code == 401  # the token is required
        check = next(rest for kw, rest in dockerfile_instructions() if kw == "HEALTHCHECK")
        command = yaml.safe_load(check.split("CMD", 1)[1].strip())  # the exec-form JSON array
        command = [part.replace("127.0.0.1:8000", f"127.0.0.1:{port}") for part in command]
        command[0] = sys.executable if command[0] == "python" else command[0]
        assert subprocess.run(command, timeout=10).returncode == 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, 15)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)
                process.wait(5)
        log.close()
