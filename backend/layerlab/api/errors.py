"""One error body for every failure, so clients parse a single shape and never see a traceback.

Every 4xx/5xx answer is `{"error", "message", "node_id", "loc", "cap"}` (see `ErrorBody`). Handlers here
map request-validation errors, spec errors, HTTP errors and, as a last resort, any exception onto it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..catalogue.errors import SpecError
from ..catalogue.pydantic_errors import dotted

log = logging.getLogger("layerlab.api")

Loc = list[str | int]


class ErrorBody(BaseModel):
    """The body of every error answer."""

    error: str = Field(description="machine-readable code, e.g. invalid_json, invalid_spec, cap_exceeded")
    message: str = Field(description="one readable sentence that names the field, node or cap at fault")
    node_id: str | None = Field(default=None, description="id of the model node at fault, when there is one")
    loc: Loc = Field(default_factory=list, description="path of the field at fault, e.g. ['model','nodes',2,'params']")
    cap: str | None = Field(default=None, description="name of the exceeded limit (see GET /api/catalogue limits)")


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorBody, "description": "request body larger than limits.max_body_bytes"},
    422: {"model": ErrorBody, "description": "malformed JSON, invalid spec, or a limit exceeded"},
}

_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "body_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
    503: "unavailable",
}


class ApiError(Exception):
    """Raised by routes and middleware to answer with an `ErrorBody` and a chosen status."""

    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        *,
        node_id: str | None = None,
        loc: Loc | None = None,
        cap: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = ErrorBody(error=error, message=message, node_id=node_id, loc=loc or [], cap=cap)
        self.headers = headers


def error_response(status: int, body: ErrorBody, headers: dict[str, str] | None = None) -> JSONResponse:
    content = body.model_dump(mode="json")
    # Messages may quote user text; anything that is not encodable text is replaced, never a 500.
    content["message"] = content["message"].encode("utf-8", "replace").decode("utf-8")
    if content["node_id"] is not None:
        content["node_id"] = content["node_id"].encode("utf-8", "replace").decode("utf-8")
    content["loc"] = [p.encode("utf-8", "replace").decode("utf-8") if isinstance(p, str) else p for p in content["loc"]]
    return JSONResponse(status_code=status, content=content, headers=headers)


def spec_error_body(exc: SpecError) -> ErrorBody:
    return ErrorBody(
        error="cap_exceeded" if exc.cap else "invalid_spec",
        message=exc.message,
        node_id=exc.node_id,
        loc=list(exc.loc),
        cap=exc.cap,
    )


def node_id_at(raw: Any, loc: Sequence[str | int]) -> str | None:
    """The id of the node a location points into (model.nodes[i]...), read from the raw body."""
    if len(loc) < 3 or list(loc[:2]) != ["model", "nodes"] or not isinstance(loc[2], int):
        return None
    try:
        node = raw["model"]["nodes"][loc[2]]
    except (KeyError, IndexError, TypeError):
        return None
    node_id = node.get("id") if isinstance(node, dict) else None
    return node_id if isinstance(node_id, str) and len(node_id) <= 64 else None


def validation_error_body(errors: Sequence[Any], raw: Any, *, strip_body: bool = False) -> ErrorBody:
    """Turn pydantic errors into one message naming the first bad field (and its node id)."""
    if not errors:
        return ErrorBody(error="invalid_spec", message="the request body is invalid")
    first = errors[0]
    loc = [p for p in first.get("loc", ()) if isinstance(p, str | int)]
    if strip_body and loc and loc[0] == "body":
        loc = loc[1:]
    node_id = node_id_at(raw, loc)
    where = dotted(loc) or "body"
    if node_id is not None:
        where = f"node {node_id}: {where}"
    message = f"{where}: {first.get('msg', 'invalid value')}"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return ErrorBody(error="invalid_spec", message=message, node_id=node_id, loc=loc)


def _raw_body(request: Request) -> Any:
    return getattr(request.state, "json_body", None)


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.body, exc.headers)


async def _spec_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SpecError)
    return error_response(422, spec_error_body(exc))


async def _request_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    raw = exc.body if exc.body is not None else _raw_body(request)
    return error_response(422, validation_error_body(exc.errors(), raw, strip_body=True))


async def _pydantic_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ValidationError)
    return error_response(422, validation_error_body(exc.errors(include_input=False), _raw_body(request)))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _STATUS_CODES.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    if exc.status_code == 404 and message == "Not Found":
        message = f"no such resource: {request.url.path}"
    return error_response(exc.status_code, ErrorBody(error=code, message=message), getattr(exc, "headers", None))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, ErrorBody(error="internal_error", message="internal error; the server log has details"))


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers; the last one keeps tracebacks in the log, never in a response."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(SpecError, _spec_error)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(ValidationError, _pydantic_validation)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
