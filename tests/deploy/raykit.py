"""A real local Ray cluster for tests: `ray start --block` nodes on this machine, each in its own session.

Every node runs in a dedicated temp dir with token authentication on, and is stopped by the process
group of the `ray start` we started (never `ray stop`, which would end every Ray on the machine).
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

RAY = Path(sys.executable).with_name("ray")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RayNode:
    process: subprocess.Popen[bytes]
    log: Path
    resources: str

    @property
    def pgid(self) -> int:
        return self.process.pid

    def kill(self, sig: signal.Signals = signal.SIGKILL) -> None:
        try:
            os.killpg(self.pgid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def stop(self, timeout: float = 3.0) -> None:
        """SIGTERM (ray start --block then stops its node), SIGKILL the group if it lingers."""
        if self.process.poll() is None:
            self.kill(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        self.kill(signal.SIGKILL)
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            pass


@dataclass
class RayCluster:
    """Head node plus worker nodes on 127.0.0.1; `env` is what a driver needs to join (token included)."""

    root: Path
    port: int
    token: str
    nodes: list[RayNode] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        return {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": self.token, "RAY_USAGE_STATS_ENABLED": "0"}

    @property
    def node_env(self) -> dict[str, str]:
        """For the nodes: a lost node is declared dead after ~3 s instead of ~15 s (GCS health checks)."""
        return {**self.env, "RAY_health_check_period_ms": "1000", "RAY_health_check_failure_threshold": "3",
                "OMP_NUM_THREADS": "1"}

    def _start(self, args: list[str], name: str, resources: str) -> RayNode:
        log = self.root / f"{name}.log"
        env = {**os.environ, **self.node_env}
        out = log.open("ab")
        process = subprocess.Popen(
            [str(RAY), "start", *args, "--node-ip-address=127.0.0.1", f"--temp-dir={self.root / 'tmp'}",
             "--disable-usage-stats", "--block"],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
        out.close()
        node = RayNode(process, log, resources)
        self.nodes.append(node)
        return node

    def start_head(self, num_cpus: int, num_gpus: int) -> RayNode:
        return self._start(["--head", f"--port={self.port}", f"--num-cpus={num_cpus}", f"--num-gpus={num_gpus}",
                            "--include-dashboard=false"], "head", f"{num_cpus} CPU, {num_gpus} GPU")

    def add_node(self, num_cpus: int, num_gpus: int, name: str) -> RayNode:
        return self._start([f"--address={self.address}", f"--num-cpus={num_cpus}", f"--num-gpus={num_gpus}"],
                           name, f"{num_cpus} CPU, {num_gpus} GPU")

    def wait_started(self, node: RayNode, timeout: float = 90.0) -> None:
        """Until `ray start` says the node is up (it then blocks), or raise with its log."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = node.log.read_text(errors="replace")
            if "will now block" in text:
                return
            if node.process.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError(f"ray node did not start:\n{node.log.read_text(errors='replace')[-3000:]}")

    def stop(self) -> None:
        for node in reversed(self.nodes):
            node.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def start_cluster(num_cpus: int = 2, num_gpus: int = 1) -> RayCluster:
    """A head node with `num_gpus` logical GPUs (a resource count: no CUDA is needed to schedule on it)."""
    # A short root: Ray's unix socket paths must fit in 107 bytes.
    root = Path(tempfile.mkdtemp(prefix="llray-", dir="/tmp"))
    cluster = RayCluster(root, free_port(), secrets.token_urlsafe(24))
    head = cluster.start_head(num_cpus, num_gpus)
    try:
        cluster.wait_started(head)
    except BaseException:
        cluster.stop()
        raise
    return cluster
