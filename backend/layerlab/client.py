"""A small Python client for the LayerLab API (DESIGN §6): submit, inspect, cancel, follow and download jobs.

    from layerlab.client import Client, InvalidSpec, expand_steps

    with Client("http://127.0.0.1:8000", token=None) as lab:
        job = lab.submit("spec.json")              # a dict, or the path of a spec JSON file
        for frame in lab.stream(job["id"]):        # text frames: status, metrics, log, summary, error
            for row in expand_steps(frame):        # a step frame, or the fast steps sent together
                print(row["step"], row["loss"])
        job = lab.wait(job["id"], timeout=600)     # the final record
        weights = lab.artifact(job["id"], "weights.safetensors")

Every refusal raises a `LayerLabError` subclass carrying the server's error body (`error`, `message`,
`node_id`, `loc`, `cap`) and the HTTP status. It needs only httpx and websockets (no torch), so scripts
and the `layerlab submit` command start fast.
"""

from __future__ import annotations

import json
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx

from .streaming.steps import expand_steps as expand_steps  # re-exported: per-step rows of step/steps frames

TERMINAL = frozenset({"succeeded", "failed", "cancelled", "interrupted"})
ARTIFACTS = ("spec.json", "weights.safetensors", "model.onnx", "model.py")
CLOSE_SLOW_READER = 4008  # api/ws.py: this reader fell behind; resume with after_seq
_HEADER_LEN = struct.Struct("<I")


class LayerLabError(Exception):
    """The server refused a request (status = HTTP status, 0 when it could not be reached)."""

    def __init__(self, status: int, error: str, message: str, *, node_id: str | None = None,
                 loc: list[str | int] | None = None, cap: str | None = None, retry_after: float | None = None
                 ) -> None:
        self.status = status
        self.error = error
        self.message = message
        self.node_id = node_id
        self.loc = loc or []
        self.cap = cap
        self.retry_after = retry_after
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f" [node {self.node_id}]" if self.node_id else ""
        return f"{self.message}{where} (HTTP {self.status} {self.error})" if self.status else self.message


class InvalidSpec(LayerLabError):
    """400/413/422: the spec or the request is invalid; `node_id` and `loc` say where."""


class Unauthorized(LayerLabError):
    """401/403: no valid token, or a foreign Origin."""


class NotFound(LayerLabError):
    """404: no such job for this user, or an artifact that does not exist (yet)."""


class Conflict(LayerLabError):
    """409: e.g. cancelling a finished job, or an Idempotency-Key reused with another body."""


class Busy(LayerLabError):
    """429/503: a queue is full; `retry_after` says when to try again."""


class ServerUnreachable(LayerLabError):
    """No answer at all (connection refused, DNS, timeout)."""


_BY_STATUS: dict[int, type[LayerLabError]] = {400: InvalidSpec, 413: InvalidSpec, 422: InvalidSpec,
                                               401: Unauthorized, 403: Unauthorized, 404: NotFound,
                                               409: Conflict, 429: Busy, 503: Busy}


@dataclass(frozen=True)
class TensorFrame:
    """A binary frame: its JSON header (seq, kind, node, step, shape, dtype) and the raw little-endian values."""

    header: dict[str, Any]
    data: bytes

    @property
    def seq(self) -> int:
        return int(self.header["seq"])


def error_from(response: httpx.Response) -> LayerLabError:
    """The typed error for a refused response, from the server's error body when it has one."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = {"error": "http_error", "message": response.text[:500] or response.reason_phrase}
    retry = response.headers.get("retry-after")
    cls = _BY_STATUS.get(response.status_code, LayerLabError)
    return cls(response.status_code, str(body.get("error", "http_error")), str(body.get("message", "")),
               node_id=body.get("node_id"), loc=body.get("loc"), cap=body.get("cap"),
               retry_after=float(retry) if retry and retry.isdigit() else None)


def load_spec(spec: dict[str, Any] | str | Path) -> dict[str, Any]:
    """A spec dict as is, or the JSON file at a path."""
    if isinstance(spec, dict):
        return spec
    with open(spec, encoding="utf-8") as f:
        loaded = json.load(f)
    if not isinstance(loaded, dict):
        raise InvalidSpec(0, "invalid_spec", f"{spec}: a job spec is a JSON object")
    return loaded


class Client:
    """One server, one token. Methods return the server's JSON (dicts) and raise `LayerLabError`s."""

    def __init__(self, base_url: str = "http://127.0.0.1:8000", token: str | None = None, *,
                 timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- requests -----------------------------------------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise ServerUnreachable(0, "unreachable", f"cannot reach {self.base_url}: {exc}") from None
        if response.status_code >= 400:
            raise error_from(response)
        return response

    def health(self) -> dict[str, Any]:
        return self._request("GET", "/api/health").json()

    def validate(self, spec: dict[str, Any] | str | Path) -> dict[str, Any]:
        """Check a spec without queueing it: per-node shapes, params, FLOPs and (whole jobs) total_steps."""
        return self._request("POST", "/api/validate", json=load_spec(spec)).json()

    def submit(self, spec: dict[str, Any] | str | Path, *, idempotency_key: str | None = None) -> dict[str, Any]:
        """Queue a job; the record (`id`, `status`, `queue_position`, ...). Retrying with the same
        idempotency key returns the same job instead of a second one."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return self._request("POST", "/api/jobs", json=load_spec(spec), headers=headers).json()

    def get(self, job_id: str) -> dict[str, Any]:
        return self._request("GET", f"/api/jobs/{_seg(job_id)}").json()

    def list(self, status: str | list[str] | None = None, *, limit: int = 50, offset: int = 0) -> dict[str, Any]:
        """This user's jobs, newest first: {"jobs", "total", "limit", "offset"}; `status` filters (one or several)."""
        statuses = [status] if isinstance(status, str) else list(status or [])
        params: list[tuple[str, str | int]] = [("status", s) for s in statuses]
        params += [("limit", limit), ("offset", offset)]
        return self._request("GET", "/api/jobs", params=params).json()

    def cancel(self, job_id: str) -> dict[str, Any]:
        """Ask the job to stop (a queued one is cancelled at once); the record as it is now."""
        return self._request("POST", f"/api/jobs/{_seg(job_id)}/cancel").json()

    def metrics(self, job_id: str, after_seq: int = -1, *, types: list[str] | None = None,
                limit: int | None = None) -> dict[str, Any]:
        """Stored text frames with seq > after_seq: {"job_id", "status", "after_seq", "last_seq", "events"}."""
        params: list[tuple[str, str | int]] = [("after_seq", after_seq)]
        params += [("type", t) for t in types or []]
        if limit is not None:
            params.append(("limit", limit))
        return self._request("GET", f"/api/jobs/{_seg(job_id)}/metrics", params=params).json()

    def artifact(self, job_id: str, name: str) -> bytes:
        """spec.json, weights.safetensors, model.onnx or model.py, as bytes."""
        return self._request("GET", f"/api/jobs/{_seg(job_id)}/artifacts/{_seg(name)}").content

    def wait(self, job_id: str, timeout: float | None = None, *, poll: float = 0.5) -> dict[str, Any]:
        """Poll until the job is finished; its final record. TimeoutError after `timeout` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            job = self.get(job_id)
            if job["status"] in TERMINAL:
                return job
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"job {job_id} is still {job['status']} after {timeout} s")
            time.sleep(poll if deadline is None else max(0.0, min(poll, deadline - time.monotonic())))

    # -- following a job ----------------------------------------------------------------------------------

    def stream(self, job_id: str, after_seq: int = -1, *, tensors: bool = False,
               websocket: bool = True) -> Iterator[dict[str, Any] | TensorFrame]:
        """The job's frames after `after_seq`, ending after its terminal status frame.

        Over the websocket (history, then live; resumes by itself after a slow-reader close) or, when the
        websocket is unavailable or `websocket=False`, by polling the metrics endpoint (text frames only).
        Text frames are dicts; binary tensor frames are yielded as `TensorFrame` only with `tensors=True`."""
        last = after_seq
        if websocket:
            try:
                for frame in self._ws_frames(job_id, after_seq, tensors):
                    last = frame.seq if isinstance(frame, TensorFrame) else int(frame.get("seq", last))
                    yield frame
                    if isinstance(frame, dict) and _is_terminal(frame):
                        return
            except _WebsocketUnavailable:
                pass
        yield from self._poll_frames(job_id, last)

    def _ws_frames(self, job_id: str, after_seq: int, tensors: bool) -> Iterator[dict[str, Any] | TensorFrame]:
        from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException
        from websockets.sync.client import connect

        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        last, attempts = after_seq, 0
        while attempts < 5:
            url = f"{self._ws_base()}/api/jobs/{_seg(job_id)}/stream?after_seq={last}"
            try:
                ws = connect(url, additional_headers=headers, max_size=64 * 1024 * 1024, open_timeout=10,
                             compression=None)
            except InvalidStatus as exc:
                response = exc.response
                if response.status_code in _BY_STATUS and response.status_code != 503:
                    raise _ws_refusal(response.status_code, response.body) from None
                raise _WebsocketUnavailable from None
            except (OSError, WebSocketException, TimeoutError):
                raise _WebsocketUnavailable from None
            with ws:
                try:
                    for message in ws:
                        frame = _decode(message)
                        last = frame.seq if isinstance(frame, TensorFrame) else int(frame.get("seq", last))
                        if isinstance(frame, dict) or tensors:
                            yield frame
                        if isinstance(frame, dict) and _is_terminal(frame):
                            return
                except ConnectionClosed:
                    pass
                code = ws.close_code
            if code == 1000:
                return  # the server finished the stream (a finished job's history ended with its status)
            attempts = 0 if code == CLOSE_SLOW_READER else attempts + 1
            time.sleep(0 if code == CLOSE_SLOW_READER else 0.2 * attempts)
        raise _WebsocketUnavailable

    def _poll_frames(self, job_id: str, after_seq: int, interval: float = 0.25) -> Iterator[dict[str, Any]]:
        last = after_seq
        while True:
            page = self.metrics(job_id, last)
            for frame in page["events"]:
                last = max(last, int(frame.get("seq", last)))
                yield frame
                if _is_terminal(frame):
                    return
            if not page["events"] and page["status"] in TERMINAL:
                return  # finished, and its terminal frame was before after_seq
            if not page["events"]:
                time.sleep(interval)

    def _ws_base(self) -> str:
        parts = urlsplit(self.base_url)
        scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
        return urlunsplit((scheme, parts.netloc, parts.path, "", ""))


class _WebsocketUnavailable(Exception):
    """The websocket could not be used: follow the job by polling instead."""


def _seg(text: str) -> str:
    """One URL path segment: an id or name can never add path components."""
    return quote(text, safe="")


def _is_terminal(frame: dict[str, Any]) -> bool:
    return frame.get("type") == "status" and frame.get("status") in TERMINAL


def _decode(message: str | bytes) -> dict[str, Any] | TensorFrame:
    if isinstance(message, str):
        return json.loads(message)
    (n,) = _HEADER_LEN.unpack_from(message)
    header = json.loads(message[4:4 + n])
    return TensorFrame(header, bytes(message[4 + n:]))


def _ws_refusal(status: int, body: bytes | None) -> LayerLabError:
    try:
        parsed = json.loads(body or b"null")
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        parsed = {"error": "http_error", "message": f"websocket refused with HTTP {status}"}
    return _BY_STATUS[status](status, str(parsed.get("error", "http_error")), str(parsed.get("message", "")),
                              node_id=parsed.get("node_id"), loc=parsed.get("loc"), cap=parsed.get("cap"))
