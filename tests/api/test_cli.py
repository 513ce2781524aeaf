"""The `layerlab` command: submit (--follow over the websocket and by polling), status, cancel against a real
server; invalid specs exit 2 naming the node; user accounts (token shown once, stored hashed); and `serve`
refusing a non-loopback address without auth (never left listening there)."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from jobkit import long_job, mlp, wait_for
from serverkit import ONE_THREAD_ENV, REPO, LiveServer, free_port, start_server

TOKEN_ENV = "LAYERLAB_TOKEN"


def layerlab(*argv: str, env: dict[str, str] | None = None, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """`python -m layerlab ARGV` as a user would run it (a fresh process, text output captured)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("LAYERLAB_")}
    full_env.update(ONE_THREAD_ENV)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "layerlab", *argv], cwd=REPO, env=full_env, text=True,
                          capture_output=True, timeout=timeout)


@pytest.fixture(scope="module")
def account(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, dict[str, str]]]:
    """A real server with one user; the env a student's shell would have (LAYERLAB_SERVER, LAYERLAB_TOKEN)."""
    root = tmp_path_factory.mktemp("cli")
    made = layerlab("users", "add", "ada", "--data-dir", str(root / "data"))
    assert made.returncode == 0, made.stderr
    server = start_server(root / "data", root / "server.log")
    yield server, {"LAYERLAB_SERVER": server.url, TOKEN_ENV: made.stdout.strip()}
    server.stop()


def write_spec(tmp_path: Path, spec: dict[str, Any], name: str = "spec.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(spec))
    return path


def small_preset() -> dict[str, Any]:
    """The chapter's MLP-on-the-spiral preset, cut to a few epochs."""
    from layerlab.catalogue.presets import PRESETS_BY_ID

    spec = copy.deepcopy(PRESETS_BY_ID["mlp_spiral"].spec)
    spec["train"]["epochs"] = 3
    return spec


def test_submit_follow_shows_progress_and_exits_0_on_success(account: tuple[LiveServer, dict[str, str]],
                                                             tmp_path: Path) -> None:
    server, env = account
    run = layerlab("submit", str(write_spec(tmp_path, small_preset())), "--follow", env=env)
    assert run.returncode == 0, run.stderr
    job_id, *_, outcome = run.stdout.strip().splitlines()
    assert outcome.startswith(f"job {job_id} succeeded") and "test_accuracy" in outcome
    progress = run.stderr.splitlines()
    assert any(line.startswith("running on cpu") for line in progress)
    bars = [line for line in progress if line.startswith("[") and "loss" in line]
    assert bars and "100%" in bars[-1], run.stderr  # a line per tenth of the run, the last one complete
    assert len(bars) >= 5
    assert sum("test loss" in line for line in progress) == 3  # one evaluation line per epoch
    with server.client(headers={"Authorization": f"Bearer {env[TOKEN_ENV]}"}) as c:
        assert c.get(f"/api/jobs/{job_id}").json()["status"] == "succeeded"


def test_follow_by_polling_exits_1_when_the_job_fails(account: tuple[LiveServer, dict[str, str]],
                                                     tmp_path: Path) -> None:
    _, env = account
    spec = mlp(dataset="plane", epochs=5, batch_size=16, optimizer={"name": "sgd", "lr": 10.0})
    spec["model"]["nodes"][-1]["params"]["units"] = 1  # lr 10 on a regression: the loss overflows (nan_loss)
    run = layerlab("submit", str(write_spec(tmp_path, spec)), "--follow", "--poll", env=env)
    assert run.returncode == 1, run.stdout + run.stderr
    assert run.stdout.strip().splitlines()[-1].endswith("failed: nan_loss")


def test_an_invalid_spec_exits_2_and_names_the_node(account: tuple[LiveServer, dict[str, str]],
                                                    tmp_path: Path) -> None:
    _, env = account
    spec = mlp()
    spec["model"]["nodes"][1]["inputs"] = ["nowhere"]
    run = layerlab("submit", str(write_spec(tmp_path, spec)), "--follow", env=env)
    assert run.returncode == 2 and run.stdout == ""
    assert "invalid spec" in run.stderr and "node h" in run.stderr and "nowhere" in run.stderr
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    assert layerlab("submit", str(garbage), env=env).returncode == 2


def test_status_and_cancel(account: tuple[LiveServer, dict[str, str]], tmp_path: Path) -> None:
    server, env = account
    # --server and --token on the command line instead of the environment
    flags = ["--server", env["LAYERLAB_SERVER"], "--token", env[TOKEN_ENV]]
    submitted = layerlab("submit", str(write_spec(tmp_path, long_job())), *flags)
    assert submitted.returncode == 0, submitted.stderr
    job_id = submitted.stdout.strip()
    with server.client(headers={"Authorization": f"Bearer {env[TOKEN_ENV]}"}) as c:
        wait_for(c, job_id, {"queued", "running"})
    status = layerlab("status", job_id, env=env)
    assert status.returncode == 0 and job_id in status.stdout
    assert any(line.split()[:2] in (["status", "queued"], ["status", "running"]) for line in status.stdout.splitlines())
    listed = layerlab("status", env=env)
    assert listed.returncode == 0 and job_id in listed.stdout
    cancelled = layerlab("cancel", job_id, "--wait", env=env)
    assert cancelled.returncode == 0 and cancelled.stdout.strip() == f"job {job_id} cancelled"
    record = json.loads(layerlab("status", job_id, "--json", env=env).stdout)
    assert record["status"] == "cancelled"
    again = layerlab("cancel", job_id, env=env)
    assert again.returncode == 2 and "already cancelled" in again.stderr
    unknown = layerlab("status", "0" * 32, env=env)
    assert unknown.returncode == 2 and "no job" in unknown.stderr
    no_token = layerlab("status", job_id, env={"LAYERLAB_SERVER": env["LAYERLAB_SERVER"]})
    assert no_token.returncode == 2 and "token" in no_token.stderr
    nowhere = layerlab("status", job_id, "--server", f"http://127.0.0.1:{free_port()}")
    assert nowhere.returncode == 2 and "cannot reach" in nowhere.stderr


def test_users_add_list_token_remove(tmp_path: Path) -> None:
    data = tmp_path / "data"
    added = layerlab("users", "add", "grace", "--teacher", "--class", "3A", "--data-dir", str(data))
    assert added.returncode == 0, added.stderr
    token = added.stdout.strip()
    assert len(token) >= 40 and "shown only once" in added.stderr
    with sqlite3.connect(data / "layerlab.sqlite3") as db:
        rows = db.execute("SELECT name, role, class_name, token_hash FROM users").fetchall()
    assert rows == [("grace", "teacher", "3A", hashlib.sha256(token.encode()).hexdigest())]
    assert layerlab("users", "add", "grace", "--data-dir", str(data)).returncode == 2  # names are unique
    assert layerlab("users", "add", "bad name!", "--data-dir", str(data)).returncode == 2
    assert layerlab("users", "--data-dir", str(data), "add", "hopper").returncode == 0
    listed = layerlab("users", "list", "--data-dir", str(data))
    assert [line.split()[:3] for line in listed.stdout.splitlines()] == [["grace", "teacher", "3A"],
                                                                          ["hopper", "student", "-"]]
    assert token not in listed.stdout and token not in listed.stderr
    renewed = layerlab("users", "token", "grace", "--data-dir", str(data))
    assert renewed.returncode == 0 and renewed.stdout.strip() != token
    assert layerlab("users", "remove", "grace", "--data-dir", str(data)).returncode == 0
    assert layerlab("users", "remove", "grace", "--data-dir", str(data)).returncode == 2
    assert [line.split()[0] for line in layerlab("users", "list", "--data-dir", str(data)).stdout.splitlines()] == [
        "hopper"]


def test_serve_refuses_a_public_address_without_auth_and_says_how_to_fix_it(tmp_path: Path) -> None:
    """Started only long enough to see it refuse; killed at once if it ever listens."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAYERLAB_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "layerlab", "serve", "--host", "0.0.0.0", "--port", str(port),
         "--data-dir", str(tmp_path / "data")],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while process.poll() is None and time.monotonic() < deadline:
            if _listening(process.pid):
                break
            time.sleep(0.05)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
            pytest.fail("layerlab serve --host 0.0.0.0 started without auth (killed)")
    err = process.stderr.read() if process.stderr else ""
    assert process.returncode == 2, err
    assert "refusing to bind 0.0.0.0" in err
    assert f"layerlab users add NAME [--teacher] [--class CLASS] --data-dir {tmp_path / 'data'}" in err
    assert "LAYERLAB_AUTH_TOKENS" in err and "127.0.0.1" in err


def test_accounts_are_what_lets_serve_bind_a_public_address(tmp_path: Path) -> None:
    """The check `serve` makes before binding (not bound here): no accounts -> refuse, one account -> allow."""
    from layerlab.jobs.users import users_exist
    from layerlab.settings import Settings

    settings = Settings(host="0.0.0.0", data_dir=tmp_path / "data")
    assert not users_exist(settings.database_url)
    assert layerlab("users", "add", "lin", "--data-dir", str(tmp_path / "data")).returncode == 0
    assert users_exist(settings.database_url)


def _listening(pid: int) -> bool:
    try:
        procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
        return any(c.status == psutil.CONN_LISTEN for p in procs for c in p.net_connections("inet"))
    except psutil.Error:
        return False


def test_progress_on_a_terminal_redraws_one_bar_in_place() -> None:
    import io

    from layerlab.cli_progress import Progress

    out = io.StringIO()
    progress = Progress(out, total=40, tty=True)
    progress.frame({"type": "status", "status": "running", "device": "cpu", "params": 1234})
    for step in range(1, 41):
        progress.frame({"type": "metrics", "kind": "step", "step": step, "epoch": 1 + step // 20, "loss": 1 / step})
        if step == 20:
            progress.frame({"type": "metrics", "kind": "eval", "split": "test", "epoch": 1, "loss": 0.5,
                            "accuracy": 0.75})
    progress.close()
    text = out.getvalue()
    assert text.startswith("running on cpu, 1,234 parameters, 40 steps\n")
    assert "epoch 1: test loss 0.5  accuracy 0.75\n" in text
    last = text.rstrip("\n").split("\r\x1b[2K")[-1]
    assert last.startswith("[" + "#" * 24 + "] 100%  step 40/40  epoch 3  loss 0.025")
    assert text.count("\n") == 3  # status, evaluation, and the final newline: the bar itself is redrawn


def test_progress_lines_are_the_same_for_steps_sent_together() -> None:
    import io

    from layerlab.cli_progress import Progress

    def lines(frames: list[dict]) -> str:
        out = io.StringIO()
        progress = Progress(out, total=40, tty=False)
        for frame in frames:
            progress.frame(frame)
        progress.close()
        return out.getvalue()

    rows = [{"step": s, "epoch": 1, "loss": 1 / s, "accuracy": 0.5, "lr": 0.1, "examples": 8 * s}
            for s in range(1, 41)]
    one_by_one = [{"type": "metrics", "kind": "step", "phase": "train", "split": "train", **r} for r in rows]
    together = [one_by_one[0]] + [
        {"type": "metrics", "kind": "steps", "phase": "train", "split": "train",
         **{k: [r[k] for r in rows[i:i + 13]] for k in rows[0]}} for i in range(1, 40, 13)]
    assert lines(together) == lines(one_by_one)
    assert lines(together).count("%") == 10  # a line per tenth of the run, none skipped
