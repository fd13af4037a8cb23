"""Chrome's native messaging framing: a 4-byte length in native byte order, then that
many bytes of UTF-8 JSON. One message per frame, in both directions.

Chrome refuses a reply over 1 MB from the host; requests are capped here at 1 MiB
too (the extension never needs more), and a bigger one is read and discarded so the
stream stays in step, then answered with an error.

Whatever a frame's body holds — not UTF-8, not JSON, nested deeper than the parser
goes, a number longer than Python converts, a lone surrogate — it becomes a
:class:`FrameError` for that frame alone; only the end of the stream ends reading.
"""

from __future__ import annotations

import json
import re
import struct
import sys
from dataclasses import dataclass
from typing import Any, BinaryIO

MAX_REQUEST_BYTES = 1024 * 1024
MAX_REPLY_BYTES = 1024 * 1024  # Chrome's limit for a message from the host
_HEADER = struct.Struct("=I")  # native byte order, as Chrome writes it
# After json.loads a valid pair is one character; anything left in this range is lone,
# cannot be written as UTF-8, and would fail wherever the text goes next.
_SURROGATE = re.compile("[\ud800-\udfff]")


class FrameError(Exception):
    """A frame that cannot be a request; the host replies with an error and goes on."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class ReplyTooLarge(ValueError):
    """A reply over Chrome's 1 MB limit: the host answers with an error in its place."""


class EndOfStream(Exception):
    """stdin closed (the browser let go of the host), possibly in the middle of a frame."""


@dataclass(frozen=True)
class Frame:
    """A decoded request: the JSON value, or the FrameError that replaced it."""

    value: Any = None
    error: FrameError | None = None


def _read_exactly(stream: BinaryIO, size: int) -> bytes:
    chunks: list[bytes] = []
    remaining = size
    while remaining:
        chunk = stream.read(min(remaining, 65536))
        if not chunk:
            raise EndOfStream(f"stream ended with {remaining} of {size} bytes unread")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _discard(stream: BinaryIO, size: int) -> None:
    remaining = size
    while remaining:
        chunk = stream.read(min(remaining, 65536))
        if not chunk:
            raise EndOfStream(f"stream ended with {remaining} of {size} bytes unread")
        remaining -= len(chunk)


def read_frame(stream: BinaryIO, *, limit: int = MAX_REQUEST_BYTES) -> Frame:
    """Read one frame. EndOfStream when the stream ends; never raises for bad content."""
    header = stream.read(_HEADER.size)
    if not header:
        raise EndOfStream("stream closed")
    if len(header) < _HEADER.size:
        header += _read_exactly(stream, _HEADER.size - len(header))
    (size,) = _HEADER.unpack(header)
    if size > limit:
        _discard(stream, size)
        return Frame(
            error=FrameError(
                "too_large", f"request of {size} bytes is over the limit of {limit} bytes"
            )
        )
    body = _read_exactly(stream, size)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        return Frame(error=FrameError("malformed", f"request is not UTF-8: {error.reason}"))
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        return Frame(error=FrameError("malformed", f"request is not JSON: {error.msg}"))
    except RecursionError:
        return Frame(error=FrameError("malformed", "request is nested too deep to be read"))
    except ValueError:  # the one other refusal: an integer past Python's digit limit
        return Frame(
            error=FrameError(
                "malformed",
                f"request holds a number longer than {sys.get_int_max_str_digits():,} digits",
            )
        )
    if _holds_lone_surrogate(value):
        return Frame(
            error=FrameError("malformed", "request holds a lone surrogate (\\ud800-\\udfff)")
        )
    return Frame(value=value)


def _holds_lone_surrogate(value: Any) -> bool:
    """Walked with a stack, not recursion: json.loads already bounded the depth, but the
    walk must not be the next thing a deep frame can break."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def encode_frame(value: Any) -> bytes:
    """The frame for ``value``; ReplyTooLarge when it would be over Chrome's 1 MB limit."""
    body = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    if len(body) > MAX_REPLY_BYTES:
        raise ReplyTooLarge(f"reply of {len(body)} bytes is over the limit of {MAX_REPLY_BYTES}")
    return _HEADER.pack(len(body)) + body


def write_frame(stream: BinaryIO, value: Any) -> None:
    stream.write(encode_frame(value))
    stream.flush()
