"""The Ray executor on a REAL local Ray cluster (token auth on, nodes on 127.0.0.1, a temp dir of its own).

The head has 2 CPUs and 1 logical GPU (a resource count: Ray schedules on it without CUDA; such a job
trains on the CPU, as `auto` does where torch sees no GPU). The tests run in order on one cluster and one
API, and each one states one claim: same metrics as the local executor for the same seed; four 0.25-GPU
jobs share the GPU and the fifth waits; cancel; a second GPU node joins and takes work, and killing it
fails its job with a reason; an API restarted (SIGTERM, then kill -9) reattaches to the running jobs and
streams them without losing a frame.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from jobkit import TERMINAL, alive, events, get, mlp, nan_job, submit, wait_first_metrics, wait_for, wait_gone
from layerlab.streaming.steps import expand_steps
from serverkit import LiveServer, start_server

pytest.importorskip("ray", reason="the Ray extra is not installed (pip install '.[ray]')")
from raykit import RayCluster, RayNode, start_cluster  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

SHARE = 0.25


def server_env(cluster: RayCluster) -> dict[str, str]:
    return {**cluster.env, "LAYERLAB_EXECUTOR": "ray", "LAYERLAB_RAY_ADDRESS": cluster.address,
            "LAYERLAB_JOBS__THREADS_PER_JOB": "1", "LAYERLAB_JOBS__GPU_SHARE": str(SHARE),
            "LAYERLAB_LIMITS__MAX_RUNNING": "0", "LAYERLAB_LIMITS__MAX_QUEUED": "10"}


def health(c: httpx.Client) -> dict[str, Any]:
    r = c.get("/api/health")
    assert r.status_code == 200, r.text
    return r.json()


def gpus(c: httpx.Client) -> list[dict[str, Any]]:
    return [d for d in health(c)["devices"] if d["kind"] == "cuda"]


def wait_until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def start_api(cluster: RayCluster, data_dir: Path, log: Path) -> LiveServer:
    server = start_server(data_dir, log, server_env(cluster))
    with server.client() as c:  # serving at once; joined the cluster (the JobManager answers) a little later
        wait_until(lambda: health(c)["devices"][0]["name"] == "Ray cluster CPUs", 120, "the API to join Ray")
    return server


def gpu_job(seed: int) -> dict[str, Any]:
    """Minutes of steps of ~10 ms (runs until cancelled here); asks for a GPU share (device auto on a
    cluster with GPUs); text frames only, so every stored seq can be checked for gaps."""
    spec = mlp(n_samples=20_000, epochs=50, batch_size=128, seed=seed, device="auto")
    nodes = spec["model"]["nodes"]
    nodes[1]["params"]["units"] = 512
    nodes[3:3] = [{"id": "h2", "type": "dense", "inputs": ["a"], "params": {"units": 512}},
                  {"id": "a2", "type": "activation", "inputs": ["h2"], "params": {"fn": "relu"}}]
    nodes[-1]["inputs"] = ["a2"]
    spec["probes"] = {"enabled": False, "metrics_every": 5}
    return spec


def _without_clock(frame: dict[str, Any]) -> dict[str, Any]:
    """A frame without its seq and wall-clock fields: seqs shift with how steps were grouped into frames."""
    return {k: v for k, v in frame.items() if k != "seq" and "second" not in k and "time" not in k}


def comparable(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every step's row and every evaluation, in order. How fast steps are grouped into frames (20 ms
    batches) and which steps the rate-capped probes catch follow the wall clock, so neither is compared."""
    rows = []
    for frame in frames:
        if frame["type"] == "metrics" and frame.get("kind") != "layers":
            rows += [_without_clock(row) for row in expand_steps(frame) or [frame]]
    return rows


def layer_stats(frames: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """The per-layer statistics frames by step (the steps they fall on follow the wall clock)."""
    return {f["step"]: _without_clock(f) for f in frames if f["type"] == "metrics" and f.get("kind") == "layers"}


@pytest.fixture(scope="module")
def cluster() -> Iterator[RayCluster]:
    started = start_cluster(num_cpus=2, num_gpus=1)
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="module")
def state(cluster: RayCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The API (replaced by the restart test), its data dir, and what one test leaves for the next."""
    root = tmp_path_factory.mktemp("ray-api")
    shared: dict[str, Any] = {"data": root / "data", "root": root}
    shared["server"] = start_api(cluster, shared["data"], root / "api-0.log")
    try:
        yield shared
    finally:
        shared["server"].stop()
        for node in shared.get("extra_nodes", []):
            node.stop()


def test_a_driver_without_the_token_is_refused(cluster: RayCluster) -> None:
    """Token authentication is on: the GCS refuses a driver with another token (read from its first log
    lines; the driver itself would go on retrying for a while)."""
    code = f"import ray; ray.init(address='{cluster.address}', logging_level='ERROR')"
    env = {**os.environ, **cluster.env, "RAY_AUTH_TOKEN": "not-the-token-" + "x" * 20}
    driver = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, start_new_session=True)
    assert driver.stdout is not None
    seen: list[bytes] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = driver.stdout.readline()
            if not line:
                break
            seen.append(line)
            if b"Authentication token is missing or incorrect" in line:
                break
    finally:
        os.killpg(driver.pid, signal.SIGKILL)
        driver.wait(10)
    assert any(b"Authentication token is missing or incorrect" in line for line in seen), b"".join(seen)[-2000:]
    assert not any(b"Connected to Ray cluster" in line for line in seen)


def be_nice(pid: int | None, niceness: int = 15) -> None:
    """Lower a training job's CPU priority: on 2 shared cores the API, Ray and new workers go first."""
    if pid:
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, pid, niceness)


def test_same_metrics_as_the_local_executor(state: dict[str, Any], make_client: Callable[..., Any]) -> None:
    spec = mlp(seed=7, epochs=2, device="cpu")
    with state["server"].client() as c:
        remote = wait_for(c, submit(c, spec)["id"], {"succeeded"}, timeout=120)
        remote_frames = events(c, remote["id"])
        weights = c.get(f"/api/jobs/{remote['id']}/artifacts/weights.safetensors")
        onnx = c.get(f"/api/jobs/{remote['id']}/artifacts/model.onnx")
    local_client = make_client(jobs={"prewarm": False, "threads_per_job": 1})
    local = wait_for(local_client, submit(local_client, spec)["id"], {"succeeded"}, timeout=120)
    local_frames = events(local_client, local["id"])

    assert comparable(remote_frames) and comparable(remote_frames) == comparable(local_frames)
    remote_stats, local_stats = layer_stats(remote_frames), layer_stats(local_frames)
    common = remote_stats.keys() & local_stats.keys()
    assert 1 in common  # the first step is always probed
    assert [remote_stats[step] for step in sorted(common)] == [local_stats[step] for step in sorted(common)]
    summary = {k: v for k, v in remote["summary"].items() if k != "seconds"}
    assert summary == {k: v for k, v in local["summary"].items() if k != "seconds"}
    assert {f["type"] for f in remote_frames} == {f["type"] for f in local_frames}
    lifecycle = [[f["type"] for f in frames if f["type"] not in ("metrics", "tensor")]  # not rate-capped or batched
                 for frames in (remote_frames, local_frames)]
    assert lifecycle[0] == lifecycle[1]
    # Artifacts made on the Ray worker travel back into this API's job directory.
    local_weights = local_client.get(f"/api/jobs/{local['id']}/artifacts/weights.safetensors")
    assert weights.status_code == 200 and weights.content == local_weights.content
    assert onnx.status_code == 200 and onnx.content[:2] == local_client.get(
        f"/api/jobs/{local['id']}/artifacts/model.onnx").content[:2]
    assert remote["device"].startswith("cpu") and remote["attempt"] == 1


def test_a_failing_job_fails_with_the_same_reason_and_error_frame(state: dict[str, Any]) -> None:
    with state["server"].client() as c:
        failed = wait_for(c, submit(c, nan_job())["id"], {"failed"}, timeout=60)
        frames = events(c, failed["id"])
    assert failed["reason"] == "nan_loss"
    assert [f["reason"] for f in frames if f["type"] == "error"] == ["nan_loss"]
    assert frames[-1]["status"] == "failed"


def test_four_quarter_gpu_jobs_share_the_gpu_and_the_fifth_waits(state: dict[str, Any]) -> None:
    with state["server"].client() as c:
        jobs = [submit(c, gpu_job(seed=i))["id"] for i in range(5)]
        running = [wait_for(c, job_id, {"running"}, timeout=60) for job_id in jobs[:4]]
        for job_id in jobs[:4]:  # all four train at the same time (each has streamed metrics)
            wait_first_metrics(c, job_id, timeout=150)
            be_nice(get(c, job_id)["worker_pid"])
        fifth = get(c, jobs[4])
        assert fifth["status"] == "queued" and fifth["queue_position"] == 1
        assert {r["device"] for r in running} == {f"cuda:0 x{SHARE:g}"}
        assert [(g["share_free"], g["jobs"]) for g in gpus(c)] == [(0.0, 4)]
        time.sleep(1.0)
        assert get(c, jobs[4])["status"] == "queued" and not events(c, jobs[4])[1:]
    state["gpu_jobs"] = jobs


def test_cancel_stops_a_running_job_and_the_waiting_one_starts(state: dict[str, Any]) -> None:
    first, *rest = state["gpu_jobs"]
    with state["server"].client() as c:
        pid = get(c, first)["worker_pid"]  # the Ray worker process (this one-host cluster shares our host)
        assert pid and alive(pid)
        be_nice(pid, 0)  # its exit must not wait behind the others
        started = time.monotonic()
        assert c.post(f"/api/jobs/{first}/cancel").status_code == 202
        done = wait_for(c, first, {"cancelled"}, timeout=15)
        assert time.monotonic() - started < 10
        assert events(c, first)[-1]["status"] == "cancelled" and done["reason"] is None
        assert wait_gone(pid, 10), "a GPU job's worker process (max_calls=1) ends with its job"
        wait_for(c, rest[-1], {"running"}, timeout=30)
        wait_first_metrics(c, rest[-1], timeout=150)
        be_nice(get(c, rest[-1])["worker_pid"])
    state["gpu_jobs"] = rest


def test_a_new_gpu_node_takes_work_and_its_death_fails_the_job(state: dict[str, Any], cluster: RayCluster) -> None:
    node: RayNode = cluster.add_node(num_cpus=0, num_gpus=1, name="gpu-node")
    state.setdefault("extra_nodes", []).append(node)
    cluster.wait_started(node)
    with state["server"].client() as c:
        wait_until(lambda: len(gpus(c)) == 2, 30, "the API to see the second GPU")
        job_id = submit(c, gpu_job(seed=99))["id"]
        record = wait_for(c, job_id, {"running"}, timeout=30)
        assert record["device"] == f"cuda:1 x{SHARE:g}"  # GPU 0 is full: only the new node can take it
        wait_first_metrics(c, job_id, timeout=150)
        be_nice(get(c, job_id)["worker_pid"])
        node.kill()  # the whole node: raylet, its workers, its agents
        failed = wait_for(c, job_id, {"failed"}, timeout=60)
        assert failed["reason"].startswith("worker_died:"), failed["reason"]
        assert events(c, job_id)[-1]["status"] == "failed"
        assert all(get(c, j)["status"] == "running" for j in state["gpu_jobs"])  # the head's jobs go on
        wait_until(lambda: len(gpus(c)) == 1, 60, "the API to drop the lost GPU")


def restart_api(state: dict[str, Any], cluster: RayCluster, how: signal.Signals) -> None:
    old: LiveServer = state["server"]
    os.kill(old.pid, how)  # SIGTERM: graceful shutdown, which leaves Ray jobs running; SIGKILL: a crash
    old.process.wait(30)
    old.stop()
    state["restarts"] = state.get("restarts", 0) + 1
    state["server"] = start_api(cluster, state["data"], state["root"] / f"api-{state['restarts']}.log")


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "kill-9"])
def test_a_restarted_api_reattaches_to_running_jobs_and_streams_them(state: dict[str, Any], cluster: RayCluster,
                                                                       how: signal.Signals) -> None:
    jobs = state["gpu_jobs"]
    with state["server"].client() as c:
        before = {j: get(c, j)["last_seq"] for j in jobs}
    restart_api(state, cluster, how)
    with state["server"].client() as c:
        for job_id in jobs:
            assert get(c, job_id)["status"] == "running"
        # Streams again: new frames arrive past what the old API had stored, over the websocket too.
        wait_until(lambda: all(get(c, j)["last_seq"] > before[j] + 2 for j in jobs), 60, "frames after restart")
        probe = jobs[0]
        after = get(c, probe)["last_seq"]
        seen = read_stream(state["server"], probe, after, count=2)
        assert seen and all(seq > after for seq in seen)


def test_reattached_jobs_cancel_and_kept_every_frame(state: dict[str, Any]) -> None:
    jobs = state["gpu_jobs"]
    with state["server"].client() as c:
        for job_id in jobs:
            assert c.post(f"/api/jobs/{job_id}/cancel").status_code == 202
        for job_id in jobs:
            wait_for(c, job_id, {"cancelled"}, timeout=20)
            seqs = [f["seq"] for f in events(c, job_id)]
            assert seqs == list(range(len(seqs))), "no frame lost or repeated across the restarts"
        listing = c.get("/api/jobs", params={"limit": 100}).json()["jobs"]
        assert all(j["status"] in TERMINAL for j in listing)
        assert all(g["share_free"] == 1.0 and g["jobs"] == 0 for g in gpus(c))


def read_stream(server: LiveServer, job_id: str, after_seq: int, count: int) -> list[int]:
    """Seqs of the first `count` text frames the websocket sends after `after_seq`."""
    from websockets.sync.client import connect

    url = f"ws://127.0.0.1:{server.port}/api/jobs/{job_id}/stream?after_seq={after_seq}"
    seqs: list[int] = []
    with connect(url, origin=f"http://127.0.0.1:{server.port}", open_timeout=10) as ws:
        while len(seqs) < count:
            message = ws.recv(timeout=30)
            if isinstance(message, str):
                seqs.append(json.loads(message)["seq"])
    return seqs


def test_a_manager_left_by_another_version_is_replaced_once_idle(state: dict[str, Any], cluster: RayCluster) -> None:
    """Detached actors outlive upgrades: a driver of another protocol replaces the (now idle) manager."""
    code = (
        "import ray; from layerlab.jobs.executors import ray_manager as m\n"
        f"ray.init(address='{cluster.address}', namespace=m.NAMESPACE, logging_level='ERROR')\n"
        "old = ray.get_actor(m.MANAGER_NAME, namespace=m.NAMESPACE)._actor_id.hex()\n"
        "m.PROTOCOL += 1\n"
        "new = m.get_or_create_manager()\n"
        "print('IDS', old, new._actor_id.hex(), ray.get(new.ping.remote())['protocol'])\n"
    )
    result = subprocess.run([sys.executable, "-c", code], env={**os.environ, **cluster.env}, capture_output=True,
                            timeout=120, text=True)
    line = next((x for x in result.stdout.splitlines() if x.startswith("IDS")), None)
    assert line, result.stdout[-2000:] + result.stderr[-2000:]
    _, old, new, protocol = line.split()
    assert old != new and int(protocol) == 1  # a new actor, running this install's code
