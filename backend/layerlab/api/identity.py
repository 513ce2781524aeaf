"""Who is asking: the single `current_user` dependency every job route takes.

For now every request is the anonymous local user (access itself is guarded by api/auth.py's
middleware). The seam for per-user accounts is this function's body: return the user a request's
credentials name, and every job, listing, cancel and artifact route is scoped to them already.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import HTTPConnection


@dataclass(frozen=True)
class User:
    id: str
    name: str


LOCAL_USER = User(id="local", name="local user")


def current_user(request: HTTPConnection) -> User:
    """HTTPConnection, not Request, so the websocket stream resolves the user through this same dependency."""
    return LOCAL_USER
