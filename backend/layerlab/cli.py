"""Command line: `layerlab serve` here; job commands (submit, status, cancel, worker, bench, users) register
themselves through `SUBCOMMANDS`, one function or module each.

Each entry of SUBCOMMANDS adds its parser to the subparsers and sets `func(args) -> exit code`.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import ValidationError

from . import __version__
from .cli_jobs import COMMANDS as JOB_COMMANDS

AddCommand = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]

AUTH_HINT = (
    "refusing to bind {host}: a non-loopback address needs authentication, and this server has none.\n"
    "Fix it one of these ways:\n"
    "  * create user accounts, each with its own token (printed once):\n"
    "      layerlab users add NAME [--teacher] [--class CLASS] --data-dir {data_dir}\n"
    "  * or set LAYERLAB_AUTH_TOKENS to one or more comma-separated shared tokens of at least 16 characters\n"
    "      (e.g. LAYERLAB_AUTH_TOKENS=$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))'))\n"
    "  * or bind 127.0.0.1 (this machine only).\n"
    "Set LAYERLAB_ALLOWED_ORIGINS too if browsers reach the server under another origin."
)


def add_serve(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve", help="run the API and the browser app (one uvicorn worker)")
    p.add_argument("--host", help="bind address (default: LAYERLAB_HOST or 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default: LAYERLAB_PORT or 8000)")
    p.add_argument("--data-dir", type=Path, help="job store and artifacts (default: LAYERLAB_DATA_DIR or ./data)")
    p.set_defaults(func=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    from .jobs.users import users_exist
    from .settings import Settings

    overrides = {k: v for k, v in {"host": args.host, "port": args.port, "data_dir": args.data_dir}.items() if v}
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        print(f"layerlab: invalid settings:\n{exc}", file=sys.stderr)
        return 2
    if not settings.loopback_only and not settings.auth_enabled and not users_exist(settings.database_url):
        hint = AUTH_HINT.format(host=settings.host, data_dir=shlex.quote(str(settings.data_dir)))
        print("layerlab: " + hint, file=sys.stderr)
        return 2
    import uvicorn

    from .api.ws import UVICORN_WS_OPTIONS
    from .app import create_app

    app = create_app(settings)
    uvicorn.run(app, host=settings.host, port=settings.port, workers=1, log_level=settings.log_level,
                **UVICORN_WS_OPTIONS)
    return 0


SUBCOMMANDS: list[AddCommand] = [add_serve, *JOB_COMMANDS]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="layerlab", description="LayerLab neural-network playground service")
    parser.add_argument("--version", action="version", version=f"layerlab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))
