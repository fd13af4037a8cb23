"""The native host against hostile frames: each one gets an error reply, none ends the
host, and the good requests around them are all answered and recorded exactly once."""

from __future__ import annotations

import contextlib
import io
import json
import struct
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from dmledger.app.ledger import Ledger
from dmledger.native.framing import read_frame
from dmledger.native.host import Host
from support.native_host import HostProcess


def frame_of(body: bytes) -> bytes:
    return struct.pack("=I", len(body)) + body


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


# (what it is, the frame's body, the id its error reply carries)
HOSTILE: list[tuple[str, bytes, int | None]] = [
    ("nested 100,000 deep", nested(100_000), None),
    ("a hello nested 3,000 deep", b'{"id":4,"type":"hello","x":' + nested(3000) + b"}", None),
    (
        "a field nested 500 deep",
        b'{"id":5,"type":"card","handle":"a.b","team":' + nested(500) + b"}",
        5,
    ),
    ("an integer of 5,000 digits", b"1" * 5000, None),
    ("an id of 5,000 digits", b'{"id":' + b"7" * 5000 + b',"type":"hello"}', None),
    ("an id above 2^53", b'{"id":1152921504606846976,"type":"hello"}', None),
    ("an id just above 2^53", f'{{"id":{2**53 + 1},"type":"hello"}}'.encode(), None),
    ("a negative id", b'{"id":-1,"type":"hello"}', None),
    ("a fractional id", b'{"id":1.5,"type":"hello"}', None),
    ("an id of 1e999", b'{"id":1e999,"type":"hello"}', None),
    ("an id of NaN", b'{"id":NaN,"type":"hello"}', None),
    ("a bool id on a bad request", b'{"id":true,"type":"nope"}', None),
    ("invalid UTF-8", b"\xff\xfe\xfd", None),
    ("a cut UTF-8 sequence in a string", b'{"id":6,"type":"card","handle":"a\xc3"}', None),
    ("an overlong UTF-8 slash", b'{"id":6,"type":"card","handle":"\xc0\xaf"}', None),
    ("a lone surrogate", b'{"id":7,"type":"log_dm","handle":"a.b","message":"\\ud800"}', None),
    ("a lone low surrogate in a key", b'{"id":7,"type":"hello","\\udc00":1}', None),
    ("a handle of the wrong type", b'{"id":8,"type":"card","handle":5}', 8),
    ("a type that is an object", b'{"id":9,"type":{"a":1}}', 9),
    ("a type that is a list", b'{"id":9,"type":["hello"]}', 9),
    ("a message of null", b'{"id":10,"type":"log_dm","handle":"a.b","message":null}', 10),
    ("team as a string", b'{"id":11,"type":"card","handle":"a.b","team":"maybe"}', 11),
    ("a string", b'"hello"', None),
    ("null", b"null", None),
    ("an empty body", b"", None),
    ("a key of 500,000 characters", b'{"id":12,"type":"hello","' + b"k" * 500_000 + b'":1}', 12),
    (
        "a handle of 400,000 characters",
        b'{"id":13,"type":"card","handle":"' + b"a" * 400_000 + b'"}',
        13,
    ),
    ("a list of 100,000 numbers", b"[" + b",".join([b"1"] * 100_000) + b"]", None),
    ("duplicate keys, the last wrong", b'{"id":14,"type":"hello","type":"nope"}', 14),
]


def good_dm(number: int) -> bytes:
    return json.dumps(
        {
            "id": 10_000 + number,
            "type": "log_dm",
            "handle": f"good.lead{number}",
            "message": f"good dm {number}",
            "client_log_id": f"good-{number}",
        }
    ).encode()


def test_a_hostile_corpus_loses_no_good_dm_and_never_ends_the_host(ready_home: Path) -> None:
    frames = [good_dm(0)]
    for number, (_what, body, _id) in enumerate(HOSTILE, start=1):
        frames += [body, good_dm(number)]
    host = HostProcess(ready_home)
    try:

        def write() -> None:
            with contextlib.suppress(BrokenPipeError, ValueError):
                for body in frames:
                    host.send_raw(frame_of(body))

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        replies = [host.receive() for _ in frames]
        writer.join(timeout=30)
        code, rest, errors = host.close()
    finally:
        host.kill()
    goods, bads = replies[0::2], replies[1::2]
    for number, reply in enumerate(goods):
        assert reply["ok"] is True and reply["created"] is True, (number, reply)
        assert reply["id"] == 10_000 + number
    for (what, _body, expected_id), reply in zip(HOSTILE, bads, strict=True):
        assert reply["ok"] is False, what
        assert reply["error"]["type"] == "malformed", (what, reply)
        assert reply["id"] == expected_id, (what, reply["id"])
        assert len(reply["error"]["message"]) < 600, what
    assert code == 0 and rest == b""
    assert b"Traceback" not in errors, errors.decode(errors="replace")[-2000:]
    ledger = Ledger.open(ready_home)
    try:
        with ledger.local.reading() as conn:
            ids = list(
                conn.execute(
                    sa.text(
                        "SELECT client_log_id FROM outreach_logs WHERE client_log_id LIKE 'good-%'"
                    )
                ).scalars()
            )
    finally:
        ledger.close()
    assert sorted(ids) == sorted(f"good-{n}" for n in range(len(HOSTILE) + 1))


def test_a_dm_after_a_deeply_nested_hello_is_recorded_and_answered(ready_home: Path) -> None:
    host = HostProcess(ready_home)
    try:
        host.send_raw(frame_of(good_dm(1)))
        host.send_raw(frame_of(b'{"id":2,"type":"hello","x":' + nested(3000) + b"}"))
        host.send_raw(frame_of(good_dm(3)))
        first, deep, last = host.receive(), host.receive(), host.receive()
        code, _rest, errors = host.close()
    finally:
        host.kill()
    assert first["ok"] and last["ok"] and last["created"] is True
    assert deep["ok"] is False and "nested too deep" in deep["error"]["message"]
    assert code == 0 and b"Traceback" not in errors


@pytest.mark.parametrize(("what", "body", "expected_id"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_each_hostile_frame_becomes_one_error_reply_in_process(
    ready_home: Path, what: str, body: bytes, expected_id: int | None
) -> None:
    host = Host(ready_home)
    try:
        reply = host.reply_to(read_frame(io.BytesIO(frame_of(body))))
    finally:
        host.close()
    assert reply["ok"] is False and reply["id"] == expected_id, (what, reply)
    assert reply["error"]["type"] == "malformed"


def test_a_fault_while_answering_or_writing_one_request_does_not_end_the_loop(
    ready_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dmledger.native.host as host_module

    real_dispatch = Host._dispatch
    real_dump = host_module._dump

    def dispatch(self: Host, request: object) -> object:
        if getattr(request, "id", None) == 2:
            raise RecursionError("a bug deep in a use case")
        return real_dispatch(self, request)  # type: ignore[arg-type]

    def dump(reply: object) -> dict[str, object]:
        data = real_dump(reply)  # type: ignore[arg-type]
        if data.get("id") == 3 and data["ok"]:
            data["unwritable"] = object()  # json.dumps cannot encode this
        return data

    monkeypatch.setattr(Host, "_dispatch", dispatch)
    monkeypatch.setattr(host_module, "_dump", dump)
    frames = b"".join(
        frame_of(json.dumps({"id": n, "type": "card", "handle": "glow.skin"}).encode())
        for n in (1, 2, 3, 4)
    )
    out = io.BytesIO()
    Host(ready_home).serve(io.BytesIO(frames), out)
    out.seek(0)
    replies = [read_frame(out).value for _ in range(4)]
    assert [(r["id"], r["ok"]) for r in replies] == [(1, True), (2, False), (3, False), (4, True)]
    assert replies[1]["error"]["type"] == "internal"
    assert replies[2]["error"]["type"] == "internal"
