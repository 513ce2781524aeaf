"""The Ray executor's parts that need no cluster: the bytes items, the manager's job log, capacity and
resources from Ray's node list, reasons for broken streams, and the slot pool following a cluster."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from layerlab.jobs.executors import ray_items
from layerlab.jobs.slots import Allocation, SlotPool, SlotRequest
from layerlab.streaming.protocol import encode_tensor, encode_text

ray = pytest.importorskip("ray", reason="the Ray extra is not installed")
from layerlab.jobs.executors.ray import capacity_of, resources_for  # noqa: E402
from layerlab.jobs.executors.ray_manager import BATCH_ITEMS, JobLog, exit_reason  # noqa: E402


def test_items_round_trip_frames_artifacts_and_the_end() -> None:
    text = encode_text(7, "metrics", {"step": 3, "loss": 0.5})
    tensor = encode_tensor(8, "activations", "h", 3, [[1.0, 2.0]])
    items = [ray_items.frame_item(text), ray_items.frame_item(tensor),
             ray_items.artifact_item("weights.safetensors", b"\x00\x01weights"),
             ray_items.json_item(ray_items.DONE, {"status": "succeeded", "reason": None})]
    back = ray_items.unpack(ray_items.pack(items))
    assert back == items
    assert [ray_items.seq_of(i) for i in back] == [7, 8, None, None]
    assert ray_items.frame_of(back[0]) == text and ray_items.frame_of(back[1]) == tensor
    assert ray_items.artifact_of(back[2]) == ("weights.safetensors", b"\x00\x01weights")
    assert ray_items.done_of(back[3]) == ray_items.Done("succeeded", None)


def test_artifact_names_are_a_fixed_set_never_a_path() -> None:
    with pytest.raises(ValueError):
        ray_items.artifact_item("../../etc/passwd", b"x")
    forged = ray_items.ARTIFACT + len(b"../x").to_bytes(2, "big") + b"../x" + b"data"
    with pytest.raises(ValueError):
        ray_items.artifact_of(forged)
    with pytest.raises(ValueError):
        ray_items.unpack(ray_items.pack([b"Tabc"])[:-1])  # truncated batch


def test_job_log_replays_after_a_seq_and_drops_delivered_heavy_frames() -> None:
    async def scenario() -> None:
        log = JobLog("j")
        log.add(ray_items.json_item(ray_items.PLACEMENT, {"pid": 1}))
        for seq in range(1, 6):
            log.add(ray_items.frame_item(encode_text(seq, "metrics", {"step": seq})))
        log.add(ray_items.frame_item(encode_tensor(6, "activations", "h", 5, [1.0])))
        first, cursor = log.take(0, after_seq=0)
        assert [ray_items.seq_of(i) for i in first] == [None, 1, 2, 3, 4, 5, 6]
        # A restarted API follows again from the last seq it stored: text frames after it, no heavy frame
        # (delivered once already), placement again.
        again, _ = log.take(0, after_seq=3)
        assert [ray_items.seq_of(i) for i in again] == [None, 4, 5]
        waiter = asyncio.ensure_future(log.changed(cursor))
        await asyncio.sleep(0)
        assert not waiter.done()
        log.add(ray_items.json_item(ray_items.DONE, {"status": "succeeded", "reason": None}))
        await asyncio.wait_for(waiter, 1)
        assert log.ended and log.stop.is_set()  # the task's stop watcher is released at the end
        log.end("ignored")  # already ended by the task's own item
        assert sum(ray_items.tag_of(i) == ray_items.DONE for i in log.items if i) == 1

    asyncio.run(scenario())


def test_job_log_keeps_heavy_frames_within_budget_and_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    import layerlab.jobs.executors.ray_manager as manager

    async def scenario() -> None:
        monkeypatch.setattr(manager, "BINARY_BUDGET", 3000)
        log = JobLog("j")
        for seq in range(BATCH_ITEMS + 20):
            log.add(ray_items.frame_item(encode_tensor(seq, "maps", "h", seq, [0.0] * 200)))
        assert 0 < log.binary_bytes <= 3000  # oldest undelivered heavy frames went first
        batch, cursor = log.take(0, after_seq=-1)
        assert len(batch) <= BATCH_ITEMS and ray_items.seq_of(batch[-1]) == BATCH_ITEMS + 19

    asyncio.run(scenario())


def test_capacity_and_resources_from_ray_nodes() -> None:
    nodes = [
        {"Alive": True, "NodeID": "aaaa1111", "NodeManagerAddress": "10.0.0.1",
         "Resources": {"CPU": 4.0, "node:__internal_head__": 1.0}},
        {"Alive": True, "NodeID": "bbbb2222", "NodeManagerAddress": "10.0.0.2",
         "Resources": {"CPU": 16.0, "GPU": 2.0, "accelerator_type:H200": 1.0}},
        {"Alive": False, "NodeID": "cccc3333", "NodeManagerAddress": "10.0.0.3", "Resources": {"GPU": 8.0}},
        {"Alive": True, "NodeID": "dddd4444", "NodeManagerAddress": "10.0.0.4", "Resources": {}},  # the API's
    ]
    cap = capacity_of(nodes, threads=2)
    assert cap.cpu_slots == 10 and cap.threads == 2
    assert cap.gpus == ("H200 0 on 10.0.0.2/bbbb2222", "H200 1 on 10.0.0.2/bbbb2222")
    assert capacity_of([], threads=1).cpu_slots == 1  # never zero slots: jobs wait for nodes instead
    assert resources_for(Allocation(2)) == {"num_gpus": 0, "num_cpus": 2}
    assert resources_for(Allocation(1, ((0, 2500),))) == {"num_gpus": 0.25, "num_cpus": 0}
    assert resources_for(Allocation(1, ((0, 10_000), (1, 10_000)))) == {"num_gpus": 2.0, "num_cpus": 0}


def test_broken_stream_reasons() -> None:
    assert exit_reason(ray.exceptions.TaskCancelledError()) is None
    assert exit_reason(ray.exceptions.NodeDiedError("node gone")) == "worker_died:node_died"
    assert exit_reason(ray.exceptions.WorkerCrashedError()) == "worker_died:worker_crashed"
    assert exit_reason(ray.exceptions.OutOfMemoryError("killed")) == "oom"
    assert exit_reason(RuntimeError("x")) == "worker_died:runtime_error"


def test_slot_pool_follows_a_cluster_that_grows_and_shrinks() -> None:
    pool = SlotPool(cpu_slots=1, cores=1, gpu_count=1)
    held = [pool.acquire(f"j{i}", SlotRequest(0.25)) for i in range(4)]
    assert all(h is not None for h in held) and pool.acquire("j4", SlotRequest(0.25)) is None
    pool.resize(cpu_slots=3, gpu_count=2)  # a GPU node joined
    assert pool.acquire("j4", SlotRequest(0.25)) == Allocation(1, ((1, 2500),))
    assert pool.cpu_free() == 3
    pool.resize(cpu_slots=1, gpu_count=1)  # it left: GPU 1 is dropped once its job is gone
    assert pool.gpu_count == 2
    pool.release("j4")
    pool.resize(cpu_slots=1, gpu_count=1)
    assert pool.gpu_free() == [0.0] and pool.gpu_count == 1


def test_ray_is_the_pinned_version_with_token_auth() -> None:
    """Token authentication needs Ray >= 2.52 (the plan's floor is 2.54); the extra pins 2.60.0 exactly."""
    lock = (Path(__file__).resolve().parents[2] / "requirements-ray.lock").read_text()
    assert f"ray=={ray.__version__}\n" in lock
    assert tuple(int(p) for p in ray.__version__.split(".")[:2]) >= (2, 54)


def test_ray_client_addresses_are_refused_at_start(tmp_path: Path) -> None:
    from layerlab.jobs.executors.ray import RayExecutor
    from layerlab.settings import Settings

    executor = RayExecutor(Settings(data_dir=tmp_path, executor="ray", ray_address="ray://head:10001"))
    with pytest.raises(RuntimeError, match="cannot stream generators"):
        asyncio.run(executor.start(None))  # type: ignore[arg-type]
