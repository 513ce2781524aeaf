"""Who is asking: the single `current_user` dependency every job route takes.

api/auth.py's AccessMiddleware checks the request's token and leaves the user it names in the ASGI scope
(`USER_SCOPE_KEY`); this dependency hands it to the routes. Without accounts or tokens (a loopback server)
every request is the anonymous local user; a LAYERLAB_AUTH_TOKENS token is that same shared account.
Routes read and cancel the jobs of `user.sees` (the user's own; a teacher's class as well) and submit as
`user.id`, so another user's job answers 404 everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import HTTPConnection

from ..jobs.users import Role
from .errors import ApiError

USER_SCOPE_KEY = "layerlab.user"


@dataclass(frozen=True)
class User:
    id: str
    name: str
    role: Role | None = None  # None: the shared local account (no user record)
    class_name: str | None = None
    sees: frozenset[str] = field(default_factory=frozenset)  # owners whose jobs this user may read and cancel

    def __post_init__(self) -> None:
        object.__setattr__(self, "sees", self.sees | {self.id})


LOCAL_USER = User(id="local", name="local user")


def current_user(request: HTTPConnection) -> User:
    """HTTPConnection, not Request, so the websocket stream resolves the user through this same dependency.

    No key in the scope: an app without the access middleware (local use). A None left there by the
    middleware means nobody was identified; the middleware normally answers 401 before routing."""
    user = request.scope.get(USER_SCOPE_KEY, LOCAL_USER)
    if not isinstance(user, User):
        raise ApiError(401, "unauthorized", "this server needs a token: send 'Authorization: Bearer <token>'",
                       headers={"WWW-Authenticate": "Bearer"})
    return user
