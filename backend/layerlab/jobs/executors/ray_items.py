"""What a Ray job task sends back, as bytes: frames, artifact files, placement, and how it ended.

A Ray task yields `bytes` items (never Python objects), and the JobManager relays them to the API in
packed batches. One item is a 1-byte tag and a payload:

    T / B   a text / binary wire frame: 8-byte big-endian seq, then the frame's bytes as encoded
    F       an artifact file: 2-byte name length, the UTF-8 name, then the file's bytes
    I       placement, JSON: {"node_id", "node_ip", "gpu_ids", "pid"} (the first item of a run)
    D       the end, JSON: {"status": "succeeded"|"stopped"|"failed", "reason", "seconds"}

Only artifact names from `ARTIFACT_NAMES` are accepted on the way in, so a name is never a path.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import Any

from ...streaming.protocol import Frame, parse_frame

TEXT = b"T"
BINARY = b"B"
ARTIFACT = b"F"
PLACEMENT = b"I"
DONE = b"D"
ARTIFACT_NAMES = frozenset({"weights.safetensors", "model.onnx"})
_SEQ = struct.Struct(">q")
_NAME_LEN = struct.Struct(">H")
_ITEM_LEN = struct.Struct(">I")


def frame_item(frame: Frame) -> bytes:
    return (BINARY if frame.binary else TEXT) + _SEQ.pack(frame.seq) + frame.data


def artifact_item(name: str, data: bytes) -> bytes:
    if name not in ARTIFACT_NAMES:
        raise ValueError(f"not an artifact name: {name!r}")
    raw = name.encode()
    return ARTIFACT + _NAME_LEN.pack(len(raw)) + raw + data


def json_item(tag: bytes, fields: dict[str, Any]) -> bytes:
    return tag + json.dumps(fields, separators=(",", ":")).encode()


def tag_of(item: bytes) -> bytes:
    return item[:1]


def seq_of(item: bytes) -> int | None:
    """The frame's seq for frame items, None for the others (they are not numbered)."""
    return _SEQ.unpack_from(item, 1)[0] if item[:1] in (TEXT, BINARY) else None


def frame_of(item: bytes) -> Frame:
    return parse_frame(item[1 + _SEQ.size:], binary=item[:1] == BINARY)


def artifact_of(item: bytes) -> tuple[str, bytes]:
    (size,) = _NAME_LEN.unpack_from(item, 1)
    start = 1 + _NAME_LEN.size
    name = item[start:start + size].decode()
    if name not in ARTIFACT_NAMES:
        raise ValueError(f"not an artifact name: {name!r}")
    return name, item[start + size:]


def json_of(item: bytes) -> dict[str, Any]:
    obj = json.loads(item[1:])
    if not isinstance(obj, dict):
        raise ValueError("a placement or done item must be a JSON object")
    return obj


@dataclass(frozen=True)
class Done:
    status: str
    reason: str | None


def done_of(item: bytes) -> Done:
    obj = json_of(item)
    return Done(str(obj.get("status")), obj.get("reason"))


def pack(items: list[bytes]) -> bytes:
    """Several items as one blob (4-byte big-endian length before each): one Ray object per batch."""
    return b"".join(_ITEM_LEN.pack(len(item)) + item for item in items)


def unpack(blob: bytes) -> list[bytes]:
    out: list[bytes] = []
    pos = 0
    view = memoryview(blob)
    while pos < len(blob):
        (size,) = _ITEM_LEN.unpack_from(blob, pos)
        pos += _ITEM_LEN.size
        if pos + size > len(blob):
            raise ValueError("truncated item batch")
        out.append(bytes(view[pos:pos + size]))
        pos += size
    return out
