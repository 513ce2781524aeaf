"""Worker <-> API messages over a multiprocessing Pipe, as raw bytes with a 1-byte tag.

Only `send_bytes`/`recv_bytes` are used: `Connection.send`/`recv` would pickle, which is forbidden.
Control messages are small JSON objects ({"op": "job"|"stop"|"done"|"ready", ...}).
"""

from __future__ import annotations

import json
from multiprocessing.connection import Connection
from typing import Any

from ..streaming.protocol import Frame

TEXT = b"T"
BINARY = b"B"
HEARTBEAT = b"H"
CONTROL = b"C"
_TAGS = frozenset((TEXT, BINARY, HEARTBEAT, CONTROL))


def send_frame(conn: Connection, frame: Frame) -> None:
    conn.send_bytes((BINARY if frame.binary else TEXT) + frame.data)


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
