"""A native host that holds the team's cards back: for tests only.

    python held_host.py SECONDS LOG -- COMMAND...

Runs the real host (COMMAND) as its child and passes frames both ways unchanged,
except that a reply to a team-card request (``{"type": "card", "team": true}``) is
held SECONDS before it goes to the browser — a slow cloud, on demand. Replies to
everything else pass at once, so a write made meanwhile is answered before the team
card asked for earlier. Each held reply, once let go, is a line in LOG (so a test
knows it has gone out). ``launcher`` gives the script the browser runs.
"""

from __future__ import annotations

import json
import shlex
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import BinaryIO


def launcher(home: Path, seconds: float, log: Path) -> str:
    """A launcher script (as ``dmledger browser install`` writes) running this relay."""
    host = [sys.executable, "-m", "dmledger", "--home", str(home.resolve()), "native-host"]
    relay = [sys.executable, str(Path(__file__).resolve()), str(seconds), str(log), "--", *host]
    return "#!/bin/sh\nexec " + " ".join(shlex.quote(part) for part in relay) + ' "$@"\n'


def read_frame(stream: BinaryIO) -> bytes | None:
    header = stream.read(4)
    if len(header) < 4:
        return None
    (size,) = struct.unpack("=I", header)
    body = stream.read(size)
    return header + body if len(body) == size else None


def main() -> None:
    seconds = float(sys.argv[1])
    log = Path(sys.argv[2])
    command = sys.argv[sys.argv.index("--") + 1 :]
    child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert child.stdin is not None and child.stdout is not None
    team_ids: set[int] = set()
    lock = threading.Lock()
    out = sys.stdout.buffer

    def to_browser(frame: bytes) -> None:
        with lock:
            out.write(frame)
            out.flush()

    def let_go(frame: bytes) -> None:
        to_browser(frame)
        with lock, log.open("a", encoding="utf-8") as lines:
            lines.write(f"{json.loads(frame[4:]).get('id')}\n")

    def replies() -> None:
        assert child.stdout is not None
        while (frame := read_frame(child.stdout)) is not None:
            reply = json.loads(frame[4:])
            if reply.get("id") in team_ids:
                timer = threading.Timer(seconds, let_go, args=(frame,))
                timer.daemon = True
                timer.start()
            else:
                to_browser(frame)

    reader = threading.Thread(target=replies, daemon=True)
    reader.start()
    while (frame := read_frame(sys.stdin.buffer)) is not None:
        request = json.loads(frame[4:])
        if isinstance(request, dict) and request.get("type") == "card" and request.get("team"):
            team_ids.add(request.get("id"))
        child.stdin.write(frame)
        child.stdin.flush()
    child.stdin.close()
    child.wait(timeout=30)
    time.sleep(seconds)  # let held replies go out before the pipe closes


if __name__ == "__main__":
    main()
