"""The native host as the browser runs it: a real ``dmledger native-host`` process,
frames on its stdin and stdout."""

from __future__ import annotations

import contextlib
import json
import os
import struct
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from dmledger.app.ledger import Ledger
from dmledger.native.install import EXTENSION_ID


class HostProcess:
    """One host process; ``send`` writes a frame, ``receive`` reads one."""

    def __init__(self, home: Path, *, env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dmledger",
                "--home",
                str(home),
                "native-host",
                f"chrome-extension://{EXTENSION_ID}/",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, **(env or {})},
        )

    def send_raw(self, data: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(data)
        self.process.stdin.flush()

    def send(self, message: Any) -> None:
        body = json.dumps(message).encode("utf-8")
        self.send_raw(struct.pack("=I", len(body)) + body)

    def send_all(self, messages: list[Any]) -> threading.Thread:
        """Write many frames from a thread: the host's replies fill the stdout pipe while
        the requests still go in, so writing them all first from here would deadlock."""

        def write() -> None:
            with contextlib.suppress(BrokenPipeError, ValueError):
                for message in messages:
                    self.send(message)

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        return writer

    def receive(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        header = self.process.stdout.read(4)
        assert len(header) == 4, f"host closed stdout; stderr: {self.stderr_so_far()}"
        (size,) = struct.unpack("=I", header)
        assert size <= 1024 * 1024
        reply: dict[str, Any] = json.loads(self.process.stdout.read(size).decode("utf-8"))
        return reply

    def ask(self, message: Any) -> dict[str, Any]:
        self.send(message)
        return self.receive()

    def close(self, timeout: float = 30) -> tuple[int, bytes, bytes]:
        """Close stdin (what the browser does) and return (exit code, rest of stdout, stderr)."""
        rest, errors = self.process.communicate(timeout=timeout)
        return self.process.returncode, rest, errors

    def stderr_so_far(self) -> str:
        return "(stderr is read when the host has ended)"

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        for pipe in (self.process.stdin, self.process.stdout, self.process.stderr):
            if pipe is not None:
                with contextlib.suppress(BrokenPipeError):
                    pipe.close()
        self.process.wait(timeout=30)


def make_home(home: Path, *, cloud_url: str | None = None) -> None:
    ledger, _ = Ledger.init_home(home, "Sarah", actor="sarah.sells", cloud_url=cloud_url)
    try:
        ledger.cloud_init()
        ledger.add_operator("Sarah")
        ledger.add_operator("Marcus")
        ledger.add_actor("marcus.closes", "Marcus")
        ledger.add_actor("sarah.alt", "Sarah")
        ledger.log_dm("glow.skin", "Hey!", actor="marcus.closes")
        ledger.add_prospect("no.thanks", status="excluded")
        ledger.sync()
    finally:
        ledger.close()
