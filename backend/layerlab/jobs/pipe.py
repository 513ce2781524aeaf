"""Worker <-> API messages over a multiprocessing Pipe, as raw bytes with a 1-byte tag.

Only `send_bytes`/`recv_bytes` are used: `Connection.send`/`recv` would pickle, which is forbidden.
Control messages are small JSON objects ({"op": "job"|"stop"|"done"|"ready", ...}).

A worker producing frames faster than the UI can draw them (a small MLP makes thousands of steps a
second) packs them into one BATCH message — each frame still its own tagged message with its own seq
inside — so the pipe costs one write per batch instead of one per step; see `worker._Link`.
"""

from __future__ import annotations

import json
import struct
from multiprocessing.connection import Connection
from typing import Any

from ..streaming.protocol import Frame

TEXT = b"T"
BINARY = b"B"
HEARTBEAT = b"H"
CONTROL = b"C"
BATCH = b"M"
_TAGS = frozenset((TEXT, BINARY, HEARTBEAT, CONTROL, BATCH))
_LENGTH = struct.Struct("<I")


def frame_message(frame: Frame) -> bytes:
    """A frame as one tagged message (TEXT or BINARY + the encoded frame)."""
    return (BINARY if frame.binary else TEXT) + frame.data


def send_messages(conn: Connection, messages: list[bytes]) -> None:
    """Several tagged messages in one write: a lone one as itself, more as a BATCH of length-prefixed ones."""
    if len(messages) == 1:
        conn.send_bytes(messages[0])
    elif messages:
        conn.send_bytes(BATCH + b"".join(_LENGTH.pack(len(m)) + m for m in messages))


def unbatch(payload: bytes) -> list[bytes]:
    """The tagged messages inside a BATCH payload, in order; a truncated batch is a protocol error."""
    out, pos, end = [], 0, len(payload)
    view = memoryview(payload)
    while pos < end:
        if pos + _LENGTH.size > end:
            raise ValueError("truncated batch: length prefix cut off")
        (n,) = _LENGTH.unpack_from(payload, pos)
        pos += _LENGTH.size
        if pos + n > end:
            raise ValueError("truncated batch: message overruns the batch")
        out.append(bytes(view[pos:pos + n]))
        pos += n
    return out


def send_control(conn: Connection, message: dict[str, Any]) -> None:
    conn.send_bytes(CONTROL + json.dumps(message, separators=(",", ":")).encode())


def send_heartbeat(conn: Connection) -> None:
    conn.send_bytes(HEARTBEAT)


def split(message: bytes) -> tuple[bytes, bytes]:
    """(tag, payload) of one received message; an unknown tag is a protocol error."""
    tag = message[:1]
    if tag not in _TAGS:
        raise ValueError(f"unknown pipe tag {tag!r}")
    return tag, message[1:]


def control(payload: bytes) -> dict[str, Any]:
    obj = json.loads(payload)
    if not isinstance(obj, dict) or not isinstance(obj.get("op"), str):
        raise ValueError("control message without an op")
    return obj
