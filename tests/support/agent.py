"""One DM Ledger agent in its own process, driven by a test over stdin/stdout.

Run as ``python -m tests.support.agent --home H [options]`` from the repository root
(``AgentProcess`` does that). The agent opens the home's Ledger (the cloud URL comes
from the home's config, or ``DMLEDGER_CLOUD_URL``), warms its cloud connection, prints
``{"event": "ready"}`` and then runs one JSON command per stdin line, answering with
JSON events on stdout, one per line:

    {"op": "sync"}                       -> "started", "progress"*, then "synced" | "error"
    {"op": "log", "to": [...], "count": N} -> "logged" (ids of the new DMs)
    {"op": "hold_lock"}                  -> "locked"; the next line releases it -> "released"
    {"op": "chaos", "seconds": S, "seed": N, "contacts": [...], "scratch": [...]}
                                         -> "chaos_done" (random DMs, edits, syncs)
    {"op": "exit"}                       -> the process ends

Starting Python and importing SQLAlchemy takes a good part of a second, so tests that
kill agents start the next one while the current one works.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]


# -- the agent (child side) ----------------------------------------------------------------


def _emit(event: str, **data: Any) -> None:
    sys.stdout.write(json.dumps({"event": event, **data}, default=str) + "\n")
    sys.stdout.flush()


def _run(argv: list[str]) -> int:
    from dmledger.app.ledger import Ledger
    from dmledger.domain.timeutil import utcnow
    from dmledger.errors import DmLedgerError
    from dmledger.sync.engine import SyncEngine
    from dmledger.sync.gateway import StoreGateway
    from dmledger.sync.lock import sync_lock

    parser = argparse.ArgumentParser(prog="python -m tests.support.agent")
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--log-batch", type=int, default=1000)
    parser.add_argument("--edit-batch", type=int, default=1000)
    parser.add_argument("--pull-page", type=int, default=5000)
    parser.add_argument("--skew-hours", type=float, default=0.0)
    args = parser.parse_args(argv)

    skew = timedelta(hours=args.skew_hours)
    ledger = Ledger.open(args.home, clock=lambda: utcnow() + skew)
    ledger.cloud.require_schema()  # connects: the first command starts warm
    engine = SyncEngine(
        ledger.home,
        ledger.local,
        StoreGateway(ledger.cloud),
        clock=ledger.clock,
        log_batch=args.log_batch,
        edit_batch=args.edit_batch,
        pull_page=args.pull_page,
    )

    def sync() -> dict[str, Any]:
        _emit("started")
        try:
            report = engine.sync_once(lambda done, total: _emit("progress", done=done, total=total))
        except DmLedgerError as error:
            return {"event": "error", "kind": type(error).__name__, "message": str(error)}
        return {
            "event": "synced",
            "pushed_logs": report.pushed_logs,
            "pushed_edits": report.pushed_edits,
            "pulled": report.pulled,
            "deleted": report.deleted,
            "set_aside": report.set_aside,
            "full_resync": report.full_resync,
        }

    _emit("ready", pid=os.getpid())
    for line in sys.stdin:
        command = json.loads(line)
        op = command["op"]
        if op == "exit":
            break
        if op == "sync":
            result = sync()
            _emit(result.pop("event"), **result)
        elif op == "log":
            ids = []
            for i in range(int(command.get("count", 1))):
                targets = command["to"]
                item, _card, _new = ledger.log_dm(targets[i % len(targets)], f"dm {i}")
                ids.append(item.client_log_id)
            _emit("logged", ids=ids)
        elif op == "hold_lock":
            with sync_lock(ledger.home):
                _emit("locked")
                sys.stdin.readline()
            _emit("released")
        elif op == "chaos":
            _emit("chaos_done", **_chaos(ledger, sync, command))
        else:
            _emit("error", kind="usage", message=f"unknown op {op!r}")
    ledger.close()
    return 0


def _chaos(ledger: Any, sync: Any, command: dict[str, Any]) -> dict[str, Any]:
    """Random work for ``seconds``: DMs to shared leads, edits, adds and deletes of
    scratch leads nobody messages (so every DM stays in the cloud), and syncs."""
    from dmledger.errors import DmLedgerError

    rng = random.Random(command["seed"])
    contacts: list[str] = command["contacts"]
    scratch: list[str] = command["scratch"]
    deadline = time.monotonic() + float(command["seconds"])
    counts = {"dms": 0, "edits": 0, "syncs_ok": 0, "sync_errors": 0, "refused": 0}
    statuses = ["warm", "hot", "cold", "booked"]
    while time.monotonic() < deadline:
        roll = rng.random()
        try:
            if roll < 0.45:
                ledger.log_dm(rng.choice(contacts), f"dm {counts['dms']}")
                counts["dms"] += 1
            elif roll < 0.6:
                handle = rng.choice(contacts)
                if ledger.card(handle).known:
                    ledger.update_prospect(handle, notes=f"note {rng.randrange(10**6)}")
                    counts["edits"] += 1
            elif roll < 0.8:
                handle = rng.choice(scratch)
                if not ledger.card(handle).known:
                    ledger.add_prospect(handle, notes="scratch")
                elif rng.random() < 0.4:
                    ledger.delete_prospect(handle)
                else:
                    ledger.update_prospect(handle, status=rng.choice(statuses))
                counts["edits"] += 1
            else:
                result = sync()
                counts["syncs_ok" if result["event"] == "synced" else "sync_errors"] += 1
        except DmLedgerError:
            counts["refused"] += 1  # e.g. a race with a pull; the work is simply not done
        time.sleep(rng.uniform(0, 0.01))
    return counts


# -- the test side -----------------------------------------------------------------------


class AgentProcess:
    """A running agent: send commands, wait for events, kill it."""

    def __init__(
        self, home: Path, *args: str, env: dict[str, str] | None = None, wait_ready: bool = True
    ) -> None:
        self.home = home
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.agent", "--home", str(home), *args],
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )
        self.events: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.stderr: list[str] = []
        self._readers = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for reader in self._readers:
            reader.start()
        if wait_ready:
            self.expect("ready", timeout=60)

    def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.events.put(json.loads(line))
        self.events.put(None)

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        self.stderr.extend(self.process.stderr)

    def send(self, op: str, **data: Any) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"op": op, **data}) + "\n")
        self.process.stdin.flush()

    def next_event(self, timeout: float = 120) -> dict[str, Any] | None:
        """The next event, or None once the agent has exited."""
        try:
            return self.events.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(
                f"agent sent nothing for {timeout}s; stderr: {''.join(self.stderr)[-2000:]}"
            ) from None

    def expect(self, *names: str, timeout: float = 120) -> dict[str, Any]:
        """Skip events until one named in ``names``; fail if the agent exits first."""
        while True:
            event = self.next_event(timeout)
            if event is None:
                raise AssertionError(
                    f"agent exited (code {self.process.wait()}) before {names}; "
                    f"stderr: {''.join(self.stderr)[-2000:]}"
                )
            if event["event"] in names:
                return event

    def kill(self) -> None:
        """SIGKILL: no cleanup runs in the agent, as after a power cut."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def close(self) -> None:
        """Ask the agent to exit (kill it if it will not) and release its pipes."""
        if self.process.poll() is None:
            try:
                self.send("exit")
                self.process.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.kill()
        for reader in self._readers:
            reader.join(timeout=30)  # both pipes reach EOF once the process is gone
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):  # a killed agent leaves a broken pipe
                    stream.close()

    def __enter__(self) -> AgentProcess:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        if et is not None:
            self.kill()
        self.close()


if __name__ == "__main__":
    sys.exit(_run(sys.argv[1:]))
