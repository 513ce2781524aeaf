"""WS /api/jobs/{id}/stream?after_seq=N — a job's frames: history after N, then live, ending after its terminal status.

Frames are the worker's bytes: text frames (JSON) as websocket text, tensor frames as websocket binary
(4-byte little-endian header length, JSON header, raw values). Seq numbers increase along the stream; text
frames come without gaps, heavy frames may be coalesced (latest per (kind, node)) for a slow reader.

Closing codes: 1000 after the terminal status (or a finished job's history); 4008 when this client fell
too far behind — the reason says `reconnect with after_seq=<last seq sent>`; 1008 too many inbound messages;
1009 an inbound message over 64 KiB; 1001 server shutdown. The stream is one-way: anything the client sends
is read (to notice disconnects) and otherwise ignored.

Access: the app's AccessMiddleware refuses a foreign Origin (and, with tokens configured, a missing token)
before the handshake; the user comes from the same `current_user` dependency as REST, and another user's
or an unknown job is refused before accept with 404, so no job data is ever sent on a refused socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, WebSocket
from starlette.websockets import WebSocketDisconnect

from ..jobs.service import JobNotFound, JobService
from ..streaming.history import StoreHistory
from ..streaming.hub import Hub, HubLimits
from ..streaming.subscriber import CLOSE_GOING_AWAY, Outgoing
from ..streaming.uvicorn_ws import RAW_FRAMES, RawFrames, RawFramesWebSocketProtocol
from .errors import ErrorBody, error_response
from .identity import User, current_user

log = logging.getLogger(__name__)
router = APIRouter(tags=["jobs"])

MAX_INBOUND_BYTES = 64 * 1024
MAX_INBOUND_PER_SECOND = 20
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
# uvicorn options for the stream (cli.py passes them): frames are already compact (JSON or raw float16/uint8)
# so per-message deflate would only cost CPU per subscriber; inbound messages are tiny; and the protocol
# class lets the hub write each event's frame bytes, framed once, to every subscriber.
UVICORN_WS_OPTIONS: dict[str, Any] = {
    "ws": RawFramesWebSocketProtocol, "ws_per_message_deflate": False, "ws_max_size": MAX_INBOUND_BYTES,
}


class WebSocketSink:
    """A subscriber's frames onto one websocket: pre-framed bytes straight to the transport when the server
    offers that (streaming/uvicorn_ws.py), else the ASGI send path (text as text, tensors as binary)."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        self.raw: RawFrames | None = websocket.scope.get("extensions", {}).get(RAW_FRAMES)

    def try_send_now(self, item: Outgoing) -> bool:
        return self.raw is not None and self.raw.write(item.wire)

    async def send(self, item: Outgoing) -> None:
        if self.raw is not None:
            if not await self.raw.wait() or not self.raw.write(item.wire):
                raise ConnectionError("websocket closed")
            return
        if item.binary:
            await self.websocket.send({"type": "websocket.send", "bytes": item.payload})
        else:
            await self.websocket.send({"type": "websocket.send", "text": item.payload})

    async def close(self, code: int, reason: str) -> None:
        await self.websocket.close(code, reason)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Attach the hub to the job service's event router (runs inside the job service's lifespan)."""
    service: JobService = app.state.jobs
    assert service.store is not None and service.router is not None
    hub = Hub(StoreHistory(service.store, service.router.writer), HubLimits())
    unsubscribe = service.router.subscribe(hub.publish)
    app.state.hub = hub
    try:
        yield
    finally:
        unsubscribe()
        waiting = hub.close_all(CLOSE_GOING_AWAY, "server shutting down")
        if waiting:
            await asyncio.wait(waiting, timeout=2.0)


async def _refuse(websocket: WebSocket, status: int, error: str, message: str) -> None:
    """Answer the handshake with an HTTP error body (the client never gets a websocket)."""
    body = ErrorBody(error=error, message=message)
    try:
        await websocket.send_denial_response(error_response(status, body))
    except RuntimeError:  # the server lacks the denial-response extension: a plain refusal (HTTP 403)
        await websocket.close(CLOSE_POLICY, message[:120])


async def _read_inbound(websocket: WebSocket) -> tuple[int, str] | None:
    """Read until the client leaves (None) or breaks the inbound limits ((code, reason))."""
    recent: deque[float] = deque()
    while True:
        try:
            message = await websocket.receive()
        except (WebSocketDisconnect, RuntimeError):
            return None
        if message["type"] == "websocket.disconnect":
            return None
        size = len(message.get("bytes") or b"") + len((message.get("text") or "").encode())
        if size > MAX_INBOUND_BYTES:
            return CLOSE_TOO_BIG, f"inbound messages are limited to {MAX_INBOUND_BYTES} bytes"
        now = time.monotonic()
        recent.append(now)
        while recent and recent[0] < now - 1.0:
            recent.popleft()
        if len(recent) > MAX_INBOUND_PER_SECOND:
            return CLOSE_POLICY, f"at most {MAX_INBOUND_PER_SECOND} inbound messages per second"


@router.websocket("/api/jobs/{job_id}/stream")
async def stream(
    websocket: WebSocket,
    job_id: str,
    user: Annotated[User, Depends(current_user)],
    after_seq: Annotated[int, Query(ge=-1, le=2**62, description="replay frames with seq > after_seq")] = -1,
) -> None:
    service: JobService | None = getattr(websocket.app.state, "jobs", None)
    hub: Hub | None = getattr(websocket.app.state, "hub", None)
    if service is None or hub is None:
        await _refuse(websocket, 503, "unavailable", "the job service is not running")
        return
    try:
        record = service.get(user.sees, job_id).record
    except JobNotFound:
        await _refuse(websocket, 404, "not_found", f"no job {job_id[:64]}")
        return
    await websocket.accept()
    sub = hub.subscribe(job_id, after_seq, WebSocketSink(websocket), job_finished=record.status.terminal)
    reader = asyncio.ensure_future(_read_inbound(websocket))
    try:
        await asyncio.wait({reader, sub.done}, return_when=asyncio.FIRST_COMPLETED)
        if reader.done() and not sub.done.done():
            verdict = reader.result()
            if verdict is None:
                sub.detach()  # the client left
            else:
                sub.close(*verdict)
                await sub.done
    finally:
        if not sub.done.done():
            sub.detach()
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reader
