"""Who may talk to the API: bearer tokens when configured, an Origin allowlist, loopback Host names.

* Tokens: a user's token (`layerlab users add`, api/users.py) or a shared LAYERLAB_AUTH_TOKENS token. Once
  either kind exists, or the server binds a non-loopback address, /api/* except /api/health needs
  `Authorization: Bearer <token>` or the `layerlab_token` cookie, and the user the token names is left in
  the scope for `identity.current_user`. Opening any page with `?token=<token>` sets that cookie (HttpOnly,
  SameSite=Strict) and redirects to the same page without it, so a browser works without code of its own.
* Origin: a request that changes state, and every websocket, carrying an Origin header must come from the
  server's own origin or one in LAYERLAB_ALLOWED_ORIGINS (stops other sites driving a local server).
* Host: without tokens (loopback mode) the Host header must name this machine, which defeats DNS rebinding.
"""

from __future__ import annotations

import hmac
from urllib.parse import parse_qsl, urlencode, urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from ..jobs.store import sqlite_path
from ..settings import LOOPBACK_NAMES, Settings, is_loopback
from .errors import ApiError, error_response
from .identity import LOCAL_USER, USER_SCOPE_KEY, User
from .users import UserDirectory

COOKIE = "layerlab_token"
OPEN_PATHS = frozenset({"/api/health"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class AccessMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings, users: UserDirectory | None = None) -> None:
        self.app = app
        self.tokens = [t.get_secret_value().encode() for t in settings.auth_tokens]
        self.origins = {o.lower() for o in settings.allowed_origins}
        self.allowed_hosts = {urlsplit(o).hostname or "" for o in self.origins}
        self.public = not settings.loopback_only
        self.users = users or UserDirectory(sqlite_path(settings.database_url))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, self._close_on_shutdown(send))
            return
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        auth = self._auth_required()
        problem = self._host_problem(headers, auth) or self._origin_problem(scope, headers)
        if problem is None and auth:
            redirect = self._token_login(scope)
            if redirect is not None:
                await redirect(scope, receive, send)
                return
            problem = self._token_problem(scope, headers)
        if problem is None:
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": problem.body.message[:120]})
        else:
            await error_response(problem.status, problem.body, problem.headers)(scope, receive, send)

    def _auth_required(self) -> bool:
        """Tokens configured, any user account, or a public bind (where nobody gets in without a token)."""
        return bool(self.tokens) or self.public or self.users.has_users()

    def _close_on_shutdown(self, send: Send) -> Send:
        async def wrapped(message: dict) -> None:
            if message.get("type") == "lifespan.shutdown.complete":
                self.users.close()
            await send(message)

        return wrapped

    def _host_problem(self, headers: Headers, auth: bool) -> ApiError | None:
        if auth:
            return None
        host = urlsplit("//" + headers.get("host", "")).hostname or ""
        if host in LOOPBACK_NAMES or host in self.allowed_hosts or is_loopback(host):
            return None
        return ApiError(
            403,
            "host_not_allowed",
            f"Host {host!r} is not this machine; without auth tokens only loopback names are served",
        )

    def _origin_problem(self, scope: Scope, headers: Headers) -> ApiError | None:
        origin = headers.get("origin")
        if origin is None or (scope["type"] == "http" and scope["method"] in SAFE_METHODS):
            return None
        origin = origin.lower()
        scheme = {"ws": "http", "wss": "https"}.get(scope.get("scheme", "http"), scope.get("scheme", "http"))
        own = f"{scheme}://{headers.get('host', '')}".lower()
        if origin == own or origin in self.origins:
            return None
        return ApiError(
            403, "origin_not_allowed", f"origin {origin[:100]} is not allowed; add it to LAYERLAB_ALLOWED_ORIGINS"
        )

    def _identify(self, token: str) -> User | None:
        """The user a token names: a shared LAYERLAB_AUTH_TOKENS token is the local account."""
        given = token.encode("utf-8", "surrogateescape")
        if any([hmac.compare_digest(given, t) for t in self.tokens]):  # a list: every token is compared
            return LOCAL_USER
        return self.users.authenticate(token)

    def _token_problem(self, scope: Scope, headers: Headers) -> ApiError | None:
        """None when the request may go on; the user its token names goes into the scope (None if none)."""
        path = scope.get("path", "")
        auth = headers.get("authorization", "")
        user = self._identify(auth[7:].strip()) if auth.lower().startswith("bearer ") else None
        cookie = _cookie(headers, COOKIE) if user is None else None
        if cookie is not None:
            user = self._identify(cookie)
        scope[USER_SCOPE_KEY] = user
        if user is not None or not path.startswith("/api/") or path in OPEN_PATHS:
            return None
        return ApiError(
            401,
            "unauthorized",
            "this server needs a token: send 'Authorization: Bearer <token>' or open the page once with ?token=<token>",
            headers={"WWW-Authenticate": "Bearer"},
        )

    def _token_login(self, scope: Scope) -> ASGIApp | None:
        """`GET /page?token=T` with a valid T: set the cookie and redirect to the page without the token."""
        if scope["type"] != "http" or scope["method"] != "GET":
            return None
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        token = next((v for k, v in query if k == "token"), None)
        if token is None or self._identify(token) is None:
            return None
        rest = urlencode([(k, v) for k, v in query if k != "token"])
        location = scope.get("path", "/") + (f"?{rest}" if rest else "")
        secure = "; Secure" if scope.get("scheme") == "https" else ""
        cookie = f"{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict{secure}"
        return _redirect(location, cookie)


def _cookie(headers: Headers, name: str) -> str | None:
    for part in headers.get("cookie", "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


def _redirect(location: str, cookie: str) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 303,
                "headers": [
                    (b"location", location.encode("latin-1", "replace")),
                    (b"set-cookie", cookie.encode("latin-1")),
                    (b"cache-control", b"no-store"),
                    (b"content-length", b"0"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b""})

    return app
