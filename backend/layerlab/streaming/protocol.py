"""The event wire format, encoded once in the worker and routed as bytes everywhere after.

Text frame:   UTF-8 JSON object {"seq", "type": "status"|"metrics"|"log"|"summary"|"error", ...}.
Binary frame: 4-byte little-endian header length N, N bytes of UTF-8 JSON header
              {"seq", "type": "tensor", "kind", "node", "step", "shape", "dtype"}, then the raw little-endian
              tensor bytes (never JSON lists of numbers).

Every frame of a job carries a monotonically increasing `seq`; `FrameEncoder` hands them out so that
the worker, the only place frames are made during a run, numbers them in the order they are produced.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

TEXT_TYPES = frozenset({"status", "metrics", "log", "summary", "error"})
TENSOR_DTYPES = {"float32": "<f4", "float16": "<f2", "uint8": "|u1"}
_HEADER_LEN = struct.Struct("<I")
_STRICT_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)  # built once


@dataclass(frozen=True, slots=True)
class Frame:
    """One encoded frame plus the two facts routers need without re-parsing it."""

    seq: int
    type: str
    data: bytes
    binary: bool = False


def _finite(value: Any) -> Any:
    """JSON has no NaN/Infinity: non-finite floats become null so every frame stays valid JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON, the one serialisation of every text frame and header.

    The strict encoder refuses NaN/Infinity; only then is the object walked to null them (a frame per
    training step pays for one C-level dumps, not a Python walk of every value)."""
    try:
        return _STRICT_JSON.encode(obj).encode()
    except ValueError:
        return _STRICT_JSON.encode(_finite(obj)).encode()


def encode_text(seq: int, type: str, fields: dict[str, Any] | None = None) -> Frame:
    if type not in TEXT_TYPES:
        raise ValueError(f"unknown text frame type {type!r}")
    body = {"seq": seq, "type": type}
    if fields:
        body.update({k: v for k, v in fields.items() if k not in ("seq", "type")})
    return Frame(seq, type, dumps(body))


def encode_tensor(
    seq: int, kind: str, node: str, step: int, array: Any, dtype: str = "float32",
    meta: dict[str, Any] | None = None,
) -> Frame:
    """A binary tensor frame; `array` is a numpy array or anything `np.asarray` accepts (a CPU torch tensor).

    `meta` adds small JSON fields to the header that say how to read the values (a histogram's range, a
    grid's extent); it cannot override the fixed header fields."""
    if dtype not in TENSOR_DTYPES:
        raise ValueError(f"unsupported tensor dtype {dtype!r}")
    arr = np.ascontiguousarray(np.asarray(array), dtype=TENSOR_DTYPES[dtype])
    fields = {"seq": seq, "type": "tensor", "kind": kind, "node": node, "step": step,
              "shape": list(arr.shape), "dtype": dtype}
    header = dumps({**(meta or {}), **fields})
    return Frame(seq, "tensor", _HEADER_LEN.pack(len(header)) + header + arr.tobytes(), binary=True)


def decode_text(data: bytes) -> dict[str, Any]:
    obj = json.loads(data)
    if not isinstance(obj, dict) or not isinstance(obj.get("seq"), int) or obj.get("type") not in TEXT_TYPES:
        raise ValueError("not a text frame")
    return obj


def decode_tensor(data: bytes) -> tuple[dict[str, Any], np.ndarray]:
    """Header and a read-only array viewing the payload (no copy)."""
    if len(data) < _HEADER_LEN.size:
        raise ValueError("binary frame shorter than its length prefix")
    (n,) = _HEADER_LEN.unpack_from(data)
    end = _HEADER_LEN.size + n
    if end > len(data):
        raise ValueError("binary frame header overruns the frame")
    header = json.loads(data[_HEADER_LEN.size:end])
    if not isinstance(header, dict) or header.get("type") != "tensor" or header.get("dtype") not in TENSOR_DTYPES:
        raise ValueError("not a tensor frame header")
    arr = np.frombuffer(data, dtype=TENSOR_DTYPES[header["dtype"]], offset=end).reshape(header["shape"])
    return header, arr


def parse_frame(data: bytes, binary: bool) -> Frame:
    """Rebuild a Frame from bytes received from a worker (validates the seq and type it carries)."""
    if binary:
        header, _ = decode_tensor(data)
        seq = header.get("seq")
        if not isinstance(seq, int):
            raise ValueError("tensor frame without an integer seq")
        return Frame(seq, "tensor", data, binary=True)
    obj = decode_text(data)
    return Frame(obj["seq"], obj["type"], data)


class FrameEncoder:
    """Numbers a job's frames: each encode takes the next seq, starting at the one the API handed over."""

    def __init__(self, seq_start: int) -> None:
        self.next_seq = seq_start

    def _take(self) -> int:
        seq = self.next_seq
        self.next_seq += 1
        return seq

    def text(self, type: str, **fields: Any) -> Frame:
        return encode_text(self._take(), type, fields)

    def preformatted(self, type: str, members: str) -> Frame:
        """A text frame from JSON members the caller already formatted (`"k":v,...`, valid and finite).

        Only for the one frame made per training step, where building and dumping a dict is the cost."""
        if type not in TEXT_TYPES:
            raise ValueError(f"unknown text frame type {type!r}")
        seq = self._take()
        return Frame(seq, type, f'{{"seq":{seq},"type":"{type}",{members}}}'.encode())

    def tensor(
        self, kind: str, node: str, step: int, array: Any, dtype: str = "float32", meta: dict[str, Any] | None = None
    ) -> Frame:
        return encode_tensor(self._take(), kind, node, step, array, dtype, meta)
