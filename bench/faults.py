"""The fault/latency proxy for benchmarks and the soak run.

The proxy itself is the test suite's ``tests/support/proxy.py`` (``FaultProxy``). It is
loaded by file path rather than imported as ``tests.support.proxy``: ``tests`` is not a
package (no ``__init__.py``), so that import would depend on the working directory and
on no installed distribution shipping a top-level ``tests`` package. By path, it works
from any directory.

For timed figures the proxy runs in a process of its own (``ProxyProcess``): in the
measuring process its event-loop thread would compete with the measured code for the
GIL and add latency that is not the network's. The soak harness, which measures no
times, may run proxies in-process (``load_fault_proxy()``).

``python -m bench.faults --target HOST:PORT --latency SECONDS`` runs one proxy and
takes commands on stdin, one per line, answering each with one JSON line:
``cut``, ``offline 1|0``, ``latency SECONDS``, ``random RATE SEED``, ``norandom``,
``stats``, ``quit``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

PROXY_PATH = Path(__file__).resolve().parents[1] / "tests" / "support" / "proxy.py"
_MODULE_NAME = "dmledger_bench_fault_proxy"


def _proxy_module() -> ModuleType:
    loaded = sys.modules.get(_MODULE_NAME)
    if loaded is not None:
        return loaded
    spec = importlib.util.spec_from_file_location(_MODULE_NAME, PROXY_PATH)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load the fault proxy from {PROXY_PATH}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[_MODULE_NAME] = module
    spec.loader.exec_module(module)
    return module


def load_fault_proxy() -> Any:
    """The ``FaultProxy`` class (constructor: ``FaultProxy((host, port), latency=…)``)."""
    return _proxy_module().FaultProxy


class ProxyProcess:
    """A FaultProxy in a child process, driven over its stdin/stdout."""

    def __init__(self, target: tuple[str, int], *, latency: float) -> None:
        self.target = target
        self.latency = latency
        self.port = 0
        self._child: subprocess.Popen[str] | None = None

    def __enter__(self) -> ProxyProcess:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def start(self) -> ProxyProcess:
        self._child = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.faults",
                "--target",
                f"{self.target[0]}:{self.target[1]}",
                "--latency",
                str(self.latency),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).resolve().parents[1],
        )
        self.port = int(self._reply()["port"])
        return self

    def command(self, line: str) -> dict[str, Any]:
        """Send one command and return the proxy's JSON answer."""
        assert self._child is not None and self._child.stdin is not None
        self._child.stdin.write(line + "\n")
        self._child.stdin.flush()
        return self._reply()

    def stats(self) -> dict[str, Any]:
        return self.command("stats")

    def set_latency(self, seconds: float) -> None:
        self.command(f"latency {seconds}")
        self.latency = seconds

    def stop(self) -> None:
        child, self._child = self._child, None
        if child is None:
            return
        try:
            if child.stdin is not None:
                child.stdin.write("quit\n")
                child.stdin.close()
            child.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            child.kill()
            child.wait()
        finally:
            if child.stdout is not None:
                child.stdout.close()

    def _reply(self) -> dict[str, Any]:
        assert self._child is not None and self._child.stdout is not None
        line = self._child.stdout.readline()
        if not line:
            raise RuntimeError("the proxy process ended unexpectedly")
        answer: dict[str, Any] = json.loads(line)
        return answer


def _serve(target: tuple[str, int], latency: float) -> None:
    proxy = load_fault_proxy()(target, latency=latency).start()

    def answer(data: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(data) + "\n")
        sys.stdout.flush()

    answer({"port": proxy.port})
    try:
        for raw in sys.stdin:
            words = raw.split()
            if not words:
                continue
            verb, args = words[0], words[1:]
            if verb == "quit":
                break
            if verb == "cut":
                proxy.cut()
            elif verb == "offline":
                proxy.set_offline(args[0] == "1")
            elif verb == "latency":
                proxy.latency = float(args[0])
            elif verb == "random":
                proxy.random_cuts(float(args[0]), int(args[1]))
            elif verb == "norandom":
                proxy.stop_random_cuts()
            answer(
                {
                    "ok": verb,
                    "connections": proxy.connections,
                    "cuts": proxy.cuts,
                    "bytes_up": proxy.bytes_up,
                    "bytes_down": proxy.bytes_down,
                }
            )
    finally:
        proxy.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run one fault/latency proxy.")
    parser.add_argument("--target", required=True, help="HOST:PORT to forward to")
    parser.add_argument("--latency", type=float, default=0.0, help="one-way seconds")
    args = parser.parse_args(argv)
    host, _, port = args.target.rpartition(":")
    _serve((host, int(port)), args.latency)


if __name__ == "__main__":
    main()
