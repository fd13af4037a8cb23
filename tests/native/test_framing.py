"""Chrome's native messaging framing: 4-byte native-order length, UTF-8 JSON."""

from __future__ import annotations

import io
import struct

import pytest

from dmledger.native.framing import (
    MAX_REPLY_BYTES,
    EndOfStream,
    encode_frame,
    read_frame,
)


def frame_of(body: bytes) -> bytes:
    return struct.pack("=I", len(body)) + body


def test_a_frame_round_trips_with_unicode_and_a_native_order_length() -> None:
    data = encode_frame({"id": 1, "text": "hi 👋 ünïcode"})
    (size,) = struct.unpack("=I", data[:4])
    assert size == len(data) - 4
    frame = read_frame(io.BytesIO(data))
    assert frame.error is None
    assert frame.value == {"id": 1, "text": "hi 👋 ünïcode"}


def test_frames_are_read_one_after_another() -> None:
    stream = io.BytesIO(encode_frame({"id": 1}) + encode_frame({"id": 2}))
    assert read_frame(stream).value == {"id": 1}
    assert read_frame(stream).value == {"id": 2}
    with pytest.raises(EndOfStream):
        read_frame(stream)


@pytest.mark.parametrize(
    "data",
    [b"\x05\x00", frame_of(b'{"id": 1}')[:-3]],
    ids=["cut-in-the-header", "cut-in-the-body"],
)
def test_a_stream_cut_mid_frame_is_the_end_not_a_request(data: bytes) -> None:
    with pytest.raises(EndOfStream):
        read_frame(io.BytesIO(data))


def test_an_oversized_request_is_skipped_whole_and_the_next_one_is_read() -> None:
    big = frame_of(b'"' + b"x" * 5000 + b'"')
    stream = io.BytesIO(big + encode_frame({"id": 7}))
    first = read_frame(stream, limit=1000)
    assert first.error is not None and first.error.kind == "too_large"
    assert "5002 bytes" in str(first.error) and "1000" in str(first.error)
    assert read_frame(stream, limit=1000).value == {"id": 7}


@pytest.mark.parametrize(
    ("body", "why"),
    [(b"\xff\xfe{}", "not UTF-8"), (b"{id: 1}", "not JSON"), (b"", "not JSON")],
)
def test_malformed_bodies_become_frame_errors(body: bytes, why: str) -> None:
    frame = read_frame(io.BytesIO(frame_of(body)))
    assert frame.error is not None and frame.error.kind == "malformed"
    assert why in str(frame.error)


def test_a_reply_over_chromes_one_megabyte_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="over the limit"):
        encode_frame({"text": "x" * MAX_REPLY_BYTES})
    assert len(encode_frame({"text": "x" * (MAX_REPLY_BYTES - 100)})) <= MAX_REPLY_BYTES + 4
