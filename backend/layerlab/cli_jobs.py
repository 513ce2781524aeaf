"""`layerlab submit | status | cancel` (talk to a server through layerlab/client.py) and `layerlab users`
(manage accounts in a data directory's database, on the server's machine).

Server and token come from --server / --token, else LAYERLAB_SERVER / LAYERLAB_TOKEN, else
http://127.0.0.1:8000 and no token. Exit codes: 0 done (with --follow: the job succeeded), 1 the job
ended failed, cancelled or interrupted, 2 the request was refused (invalid spec, unknown job, no token,
full queue) or the server could not be reached, 130 interrupted by Ctrl-C (the job keeps running).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from .cli_progress import Progress, describe_outcome
from .client import Client, InvalidSpec, LayerLabError, load_spec

DEFAULT_SERVER = "http://127.0.0.1:8000"
OK, JOB_FAILED, REFUSED = 0, 1, 2
SubParsers = "argparse._SubParsersAction[argparse.ArgumentParser]"


def _server_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--server", default=None, help=f"server URL (default: LAYERLAB_SERVER or {DEFAULT_SERVER})")
    p.add_argument("--token", default=None, help="bearer token (default: LAYERLAB_TOKEN)")


def _client(args: argparse.Namespace) -> Client:
    server = args.server or os.environ.get("LAYERLAB_SERVER") or DEFAULT_SERVER
    token = args.token or os.environ.get("LAYERLAB_TOKEN") or None
    return Client(server, token)


def _refused(exc: LayerLabError) -> int:
    if isinstance(exc, InvalidSpec):
        where = f"node {exc.node_id}: " if exc.node_id else ""
        field = f" (at {'.'.join(str(p) for p in exc.loc)})" if exc.loc else ""
        print(f"layerlab: invalid spec: {where}{exc.message}{field}", file=sys.stderr)
    else:
        print(f"layerlab: {exc}", file=sys.stderr)
    return REFUSED


# -- submit -----------------------------------------------------------------------------------------------

def add_submit(sub: SubParsers) -> None:
    p = sub.add_parser("submit", help="submit a job spec (JSON file); --follow shows progress until it ends")
    p.add_argument("spec", type=Path, help="job spec JSON file ('-' reads standard input)")
    p.add_argument("--follow", "-f", action="store_true", help="show progress and live loss; exit with the outcome")
    p.add_argument("--poll", action="store_true", help="with --follow: poll the metrics endpoint, no websocket")
    _server_options(p)
    p.set_defaults(func=run_submit)


def run_submit(args: argparse.Namespace) -> int:
    try:
        spec = json.load(sys.stdin) if str(args.spec) == "-" else load_spec(args.spec)
    except (OSError, ValueError) as exc:
        print(f"layerlab: cannot read {args.spec}: {exc}", file=sys.stderr)
        return REFUSED
    with _client(args) as client:
        try:
            job = client.submit(spec)
        except LayerLabError as exc:
            return _refused(exc)
        print(job["id"], flush=True)
        where = f" (position {job['queue_position']})" if job.get("queue_position") else ""
        print(f"job {job['id']} {job['status']}{where}", file=sys.stderr, flush=True)
        if not args.follow:
            return OK
        return follow(client, job["id"], spec, websocket=not args.poll)


def follow(client: Client, job_id: str, spec: dict[str, Any], *, websocket: bool = True) -> int:
    """Show the job's progress until it ends; 0 if it succeeded, 1 otherwise."""
    total = _total_steps(client, spec)
    progress = Progress(sys.stderr, total)
    try:
        for frame in client.stream(job_id, websocket=websocket):
            if isinstance(frame, dict):
                progress.frame(frame)
        job = client.wait(job_id, timeout=30)
    except KeyboardInterrupt:
        progress.close()
        print(f"\nlayerlab: stopped following; the job goes on (layerlab cancel {job_id} stops it)", file=sys.stderr)
        return 130
    except (LayerLabError, TimeoutError) as exc:
        progress.close()
        print(f"layerlab: lost track of job {job_id}: {exc}", file=sys.stderr)
        return REFUSED
    progress.close()
    print(describe_outcome(job), flush=True)
    return OK if job["status"] == "succeeded" else JOB_FAILED


def _total_steps(client: Client, spec: dict[str, Any]) -> int | None:
    """Optimizer steps the job will run (from POST /api/validate), for the progress bar; None if unknown."""
    try:
        total = client.validate(spec).get("total_steps")
    except LayerLabError:
        return None
    return int(total) if isinstance(total, int) and total > 0 else None


# -- status / cancel --------------------------------------------------------------------------------------

def add_status(sub: SubParsers) -> None:
    p = sub.add_parser("status", help="show a job (or, without ID, your recent jobs)")
    p.add_argument("id", nargs="?", help="job id")
    p.add_argument("--json", action="store_true", help="print the server's JSON record")
    _server_options(p)
    p.set_defaults(func=run_status)


def run_status(args: argparse.Namespace) -> int:
    with _client(args) as client:
        try:
            data = client.get(args.id) if args.id else client.list(limit=20)
        except LayerLabError as exc:
            return _refused(exc)
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
    elif args.id:
        print(describe_job(data))
    else:
        for job in data["jobs"]:
            print(f"{job['id']}  {job['status']:<11}  {job.get('name') or ''}")
        print(f"({len(data['jobs'])} of {data['total']})", file=sys.stderr)
    return OK


def describe_job(job: dict[str, Any]) -> str:
    lines = [f"id        {job['id']}", f"name      {job.get('name') or '-'}", f"status    {job['status']}"]
    for key in ("reason", "queue_position", "device", "worker_pid"):
        if job.get(key) is not None:
            lines.append(f"{key:<9} {job[key]}")
    for key in ("created_at", "started_at", "finished_at"):
        if job.get(key) is not None:
            lines.append(f"{key[:-3]:<9} {_when(job[key])}")
    summary = job.get("summary") or {}
    for key in ("steps", "epochs", "seconds", "train_loss", "test_loss", "test_accuracy", "stop_reason"):
        if summary.get(key) is not None:
            lines.append(f"{key:<9} {summary[key]}")
    return "\n".join(lines)


def _when(ts: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ts).astimezone().isoformat(timespec="seconds")


def add_cancel(sub: SubParsers) -> None:
    p = sub.add_parser("cancel", help="cancel a queued or running job")
    p.add_argument("id", help="job id")
    p.add_argument("--wait", action="store_true", help="wait until it has stopped")
    _server_options(p)
    p.set_defaults(func=run_cancel)


def run_cancel(args: argparse.Namespace) -> int:
    with _client(args) as client:
        try:
            job = client.cancel(args.id)
            if args.wait:
                job = client.wait(args.id, timeout=60)
        except LayerLabError as exc:
            return _refused(exc)
        except TimeoutError as exc:
            print(f"layerlab: {exc}", file=sys.stderr)
            return JOB_FAILED
    state = job["status"] if job["status"] != "running" else "stopping"
    print(f"job {job['id']} {state}")
    return OK


# -- users ------------------------------------------------------------------------------------------------

def add_users(sub: SubParsers) -> None:
    p = sub.add_parser("users", help="manage user accounts (run on the server's machine)")
    p.add_argument("--data-dir", type=Path, help="the server's data directory (default: LAYERLAB_DATA_DIR or ./data)")
    users = p.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    add = users.add_parser("add", help="create a user and print their token (shown only once)")
    add.add_argument("name")
    add.add_argument("--teacher", action="store_true", help="a teacher sees every job of their class")
    add.add_argument("--class", dest="class_name", help="class (group) the user belongs to")
    lst = users.add_parser("list", help="list users (never their tokens)")
    rm = users.add_parser("remove", help="delete a user; their token stops working at once")
    rm.add_argument("name")
    tok = users.add_parser("token", help="issue a new token for a user (the old one stops working)")
    tok.add_argument("name")
    for q in (add, lst, rm, tok):  # also accepted after the action: `layerlab users add NAME --data-dir DIR`
        q.add_argument("--data-dir", type=Path, default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    p.set_defaults(func=run_users)


def run_users(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from .jobs.store import sqlite_path
    from .jobs.users import Role, UserError, UserStore
    from .settings import Settings

    try:
        settings = Settings(**({"data_dir": args.data_dir} if args.data_dir else {}))
        path = sqlite_path(settings.database_url)
    except (ValidationError, ValueError) as exc:
        print(f"layerlab: invalid settings: {exc}", file=sys.stderr)
        return REFUSED
    with UserStore(path) as store:
        try:
            if args.users_command == "add":
                first = not store.all()
                role = Role.TEACHER if args.teacher else Role.STUDENT
                record, token = store.add(args.name, role, args.class_name)
                print(token)
                klass = f" in class {record.class_name}" if record.class_name else ""
                print(f"created {role.value} {record.name}{klass}. The token above is shown only once: give it to "
                      f"them (browser: open the app's URL with ?token=<token> once; CLI: LAYERLAB_TOKEN=<token>).",
                      file=sys.stderr)
                if first:
                    print("note: with user accounts every API request needs a token (anonymous use ends).",
                          file=sys.stderr)
            elif args.users_command == "list":
                for u in store.all():
                    print(f"{u.name:<24} {u.role.value:<8} {u.class_name or '-':<16} {_when(u.created_at)}")
            elif args.users_command == "remove":
                store.remove(args.name)
                print(f"removed {args.name}", file=sys.stderr)
            else:
                print(store.new_token(args.name))
                print(f"new token for {args.name} (shown only once); the old one no longer works", file=sys.stderr)
        except UserError as exc:
            print(f"layerlab: {exc}", file=sys.stderr)
            return REFUSED
    return OK


COMMANDS = [add_submit, add_status, add_cancel, add_users]
