"""The wire format: text frames are compact JSON with seq/type, binary frames a LE length + header + raw bytes."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
import torch

from layerlab.jobs import pipe
from layerlab.streaming.protocol import (
    FrameEncoder,
    decode_tensor,
    decode_text,
    encode_tensor,
    encode_text,
    parse_frame,
)


def test_text_frame_is_compact_utf8_json_with_seq_and_type() -> None:
    frame = encode_text(7, "metrics", {"step": 3, "loss": 0.5, "accuracy": None, "name": "学習"})
    assert frame.seq == 7 and frame.type == "metrics" and not frame.binary
    assert frame.data.startswith(b'{"seq":7,"type":"metrics"')
    assert b" " not in frame.data.replace("学習".encode(), b"")
    assert json.loads(frame.data.decode("utf-8")) == {"seq": 7, "type": "metrics", "step": 3, "loss": 0.5,
                                                      "accuracy": None, "name": "学習"}


def test_non_finite_numbers_become_null_so_frames_stay_json() -> None:
    frame = encode_text(1, "metrics", {"loss": float("nan"), "hist": [1.0, float("inf")]})
    assert decode_text(frame.data) == {"seq": 1, "type": "metrics", "loss": None, "hist": [1.0, None]}


def test_unknown_text_type_is_refused() -> None:
    with pytest.raises(ValueError):
        encode_text(1, "tensor", {})


@pytest.mark.parametrize("dtype", ["float32", "float16", "uint8"])
def test_tensor_frame_layout_and_round_trip(dtype: str) -> None:
    values = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    frame = encode_tensor(5, "activation", "h1", 40, values, dtype)
    (n,) = struct.unpack_from("<I", frame.data)
    header = json.loads(frame.data[4:4 + n])
    assert header == {"seq": 5, "type": "tensor", "kind": "activation", "node": "h1", "step": 40,
                      "shape": [3, 4], "dtype": dtype}
    itemsize = {"float32": 4, "float16": 2, "uint8": 1}[dtype]
    assert len(frame.data) == 4 + n + 12 * itemsize  # raw bytes only: no JSON numbers
    got_header, array = decode_tensor(frame.data)
    assert got_header == header
    np.testing.assert_array_equal(array.astype(np.float32), values.numpy())
    assert frame.data[4 + n:] == values.numpy().astype("<" + {"float32": "f4", "float16": "f2",
                                                              "uint8": "u1"}[dtype]).tobytes()


def test_parse_frame_recovers_seq_and_type_and_refuses_garbage() -> None:
    text = encode_text(3, "log", {"message": "hi"})
    tensor = encode_tensor(4, "weights", "d", 1, np.zeros((2,), np.float32))
    assert parse_frame(text.data, binary=False) == text
    assert parse_frame(tensor.data, binary=True) == tensor
    for bad, binary in [(b"[1]", False), (b'{"seq":"1","type":"log"}', False), (b"\x01", True),
                        (b"\xff\x00\x00\x00{}", True)]:
        with pytest.raises(ValueError):
            parse_frame(bad, binary)


def test_encoder_numbers_frames_consecutively_from_the_given_start() -> None:
    enc = FrameEncoder(10)
    frames = [enc.text("status", status="running"), enc.tensor("activation", "x", 1, np.ones(3)),
              enc.text("metrics", step=1)]
    assert [f.seq for f in frames] == [10, 11, 12]
    assert enc.next_seq == 13


def test_pipe_messages_are_tagged_bytes() -> None:
    import multiprocessing

    a, b = multiprocessing.Pipe()
    text = encode_text(1, "status", {"status": "running"})
    tensor = encode_tensor(2, "activation", "x", 1, np.ones(2, np.float32))
    pipe.send_messages(a, [pipe.frame_message(text)])
    pipe.send_messages(a, [pipe.frame_message(tensor)])
    pipe.send_heartbeat(a)
    pipe.send_control(a, {"op": "stop"})
    got = [pipe.split(b.recv_bytes()) for _ in range(4)]
    assert got[0] == (pipe.TEXT, text.data)
    assert got[1] == (pipe.BINARY, tensor.data)
    assert got[2] == (pipe.HEARTBEAT, b"")
    assert got[3][0] == pipe.CONTROL and pipe.control(got[3][1]) == {"op": "stop"}
    with pytest.raises(ValueError):
        pipe.split(b"Zpayload")
