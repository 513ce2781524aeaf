"""Request bodies: a size cap enforced before anything is parsed, and strict JSON parsing.

Python's `json` accepts NaN/Infinity, turns 1e999 into inf, auto-detects UTF-16 and recurses on deep
nesting; none of that is JSON a client should send, so `read_json` refuses it with a 422 that says why.
"""

from __future__ import annotations

import json
import math
from typing import Any

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import ApiError, error_response

MAX_JSON_DEPTH = 32
MAX_INT_DIGITS = 20


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON; send a finite number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:32]} is out of range")
    return value


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"integer with {len(text)} digits is out of range")
    return int(text)


def _depth(value: Any) -> int:
    """Nesting depth of parsed JSON, computed without recursion; refuses strings that are not Unicode text."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            deepest = max(deepest, depth)
            for key, inner in item.items():
                _check_text(key)
                stack.append((inner, depth + 1))
        elif isinstance(item, list):
            deepest = max(deepest, depth)
            stack.extend((v, depth + 1) for v in item)
        elif isinstance(item, str):
            _check_text(item)
    return deepest


def _check_text(text: str) -> None:
    """A lone surrogate escape (\\ud800) parses but is not text: it could be neither stored nor echoed."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ApiError(422, "invalid_json", "a string holds an unpaired UTF-16 surrogate escape") from None


def _too_deep(max_depth: int) -> ApiError:
    return ApiError(422, "invalid_json", f"JSON nested deeper than {max_depth} levels", cap="max_json_depth")


def parse_json(body: bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse a UTF-8 JSON document strictly; raise ApiError(422) naming the problem."""
    if not body.strip():
        raise ApiError(422, "invalid_json", "the request body is empty; send a JSON object")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        message = f"the request body is not UTF-8 (byte {exc.start}); send UTF-8 JSON"
        raise ApiError(422, "invalid_json", message) from None
    try:
        value = json.loads(
            text, parse_constant=_reject_constant, parse_float=_finite_float, parse_int=_bounded_int
        )
    except RecursionError:
        raise _too_deep(max_depth) from None
    except json.JSONDecodeError as exc:
        raise ApiError(
            422, "invalid_json", f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except ValueError as exc:
        raise ApiError(422, "invalid_json", f"malformed JSON: {exc}") from None
    if _depth(value) > max_depth:
        raise _too_deep(max_depth)
    return value


async def read_json(request: Request, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Read and strictly parse the body; keep it on request.state so error handlers can name node ids."""
    value = parse_json(await request.body(), max_depth)
    request.state.json_body = value
    return value


async def read_json_object(request: Request, max_depth: int = MAX_JSON_DEPTH) -> dict[str, Any]:
    value = await read_json(request, max_depth)
    if not isinstance(value, dict):
        raise ApiError(422, "invalid_spec", f"the body must be a JSON object, got {type(value).__name__}")
    return value


class BodyLimitMiddleware:
    """Answer 413 for any HTTP request body over `max_bytes`, declared or streamed, before routing."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self) -> ApiError:
        return ApiError(
            413,
            "body_too_large",
            f"request body exceeds max_body_bytes ({self.max_bytes} bytes)",
            cap="max_body_bytes",
        )

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        exc = self._too_large()
        await error_response(exc.status, exc.body, {"Connection": "close"})(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None:
            if declared > self.max_bytes:
                await self._reject(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        # No Content-Length (chunked): buffer up to the cap, then replay the body to the app.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message]), send)
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._reject(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay([{"type": "http.request", "body": b"".join(chunks)}], receive), send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _replay(messages: list[Message], then: Receive | None = None) -> Receive:
    """A receive() that first yields buffered messages, then defers to the real one (disconnects)."""
    pending = list(messages)

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        if then is not None:
            return await then()
        return {"type": "http.disconnect"}

    return receive
